"""Omniglot-LVIS: the converter (deterministic, valid LVIS v1, disjoint train/val drawings,
long-tailed counts and groups as stated) and a short from-scratch training that must reach a
bbox AP a broken loss / head / data path does not (the shuffled-label control of
docs/detection_benchmark.md stays below the threshold).

Data: ``$GATED_MM_DATA/omniglot-small`` (default ``<repo>/../shared/data``); skipped without it.
"""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('GATED_MM_DATA', ROOT.parent / 'shared' / 'data'))
OMNIGLOT = DATA / 'omniglot-small'
CONVERTER = ROOT / 'tools/dataset_converters/omniglot_to_lvis.py'

pytestmark = pytest.mark.skipif(not OMNIGLOT.is_dir(),
                                reason=f'Omniglot not found at {OMNIGLOT} (set GATED_MM_DATA)')

SMALL = ['--num-classes', '6', '--n-max', '30', '--imbalance', '10', '--val-per-class', '4',
         '--rare-max', '5', '--common-max', '15']


def run(args, env=None, timeout=900):
    env = dict(os.environ if env is None else env, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='2')
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def ok(proc):
    if proc.returncode != 0:
        pytest.fail(f'exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n'
                    f'{proc.stderr[-5000:]}')
    return proc


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob('*')):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_converter_deterministic_valid_lvis_and_long_tailed(tmp_path):
    a, b, c = tmp_path / 'a', tmp_path / 'b', tmp_path / 'c'
    proc = ok(run([CONVERTER, a, *SMALL, '--seed', '0']))
    assert '| id | class' in proc.stdout and 'groups' in proc.stdout
    ok(run([CONVERTER, b, *SMALL, '--seed', '0']))
    ok(run([CONVERTER, c, *SMALL, '--seed', '1']))
    assert digest(a) == digest(b) and digest(a) != digest(c)

    from lvis import LVIS
    from pycocotools import mask as mask_utils

    from gated_mm.datasets.lvis_synthetic import long_tail_counts
    train = json.loads((a / 'annotations/lvis_v1_train.json').read_text())
    val = json.loads((a / 'annotations/lvis_v1_val.json').read_text())
    for split in ('train', 'val'):
        LVIS(str(a / f'annotations/lvis_v1_{split}.json'))  # lvis-api accepts the files
    cats = train['categories']
    assert [c['image_count'] for c in cats] == long_tail_counts(6, 30, 10.0)
    assert [c['image_count'] for c in cats] == [c['instance_count'] for c in cats]
    want = ['r' if n <= 5 else 'c' if n <= 15 else 'f' for n in long_tail_counts(6, 30, 10.0)]
    assert [c['frequency'] for c in cats] == want and val['categories'] == cats
    val_counts = np.bincount([x['category_id'] for x in val['annotations']], minlength=7)[1:]
    assert (val_counts == 4).all()
    # train canvases from drawers 1..14 only, val canvases from the held-out drawers 15..20
    drawer = lambda ann: int(ann['omniglot_file'].rsplit('_', 1)[1][:2])  # noqa: E731
    assert max(map(drawer, train['annotations'])) <= 14
    assert min(map(drawer, val['annotations'])) >= 15
    # masks are the objects' own pixels: area = mask pixels, box = the mask's tight box;
    # an image lists every absent category as negative (exhaustive annotation)
    for ann in train['annotations'][:40]:
        m = mask_utils.decode(ann['segmentation'])
        ys, xs = np.nonzero(m)
        assert m.sum() == ann['area'] > 20
        assert ann['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                               ys.max() - ys.min() + 1]
    by_img = {}
    for ann in train['annotations']:
        by_img.setdefault(ann['image_id'], set()).add(ann['category_id'])
    for img in train['images']:
        assert set(img['neg_category_ids']) == set(range(1, 7)) - by_img[img['id']]
    assert (a / 'train' / '000001.png').is_file()


def test_converter_bad_input_is_one_line(tmp_path):
    proc = run([CONVERTER, tmp_path / 'x', '--omniglot-root', tmp_path])
    assert proc.returncode != 0 and 'no Omniglot zip' in proc.stderr.strip().splitlines()[-1]
    proc = run([CONVERTER, tmp_path / 'x', '--num-classes', '0'])
    assert proc.returncode != 0 and 'num_classes must be in' in proc.stderr


# ---------------------------------------------------------------- learning (CI)
#: CI config: the GOL quick config on 8 classes for 150 iterations (its header has the deltas)
CI_CFG = ROOT / ('configs/lvis_synth/'
                 'mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-150i_omniglot-lvis-8c.py')
CI_DATA = ['--num-classes', '8', '--n-max', '100', '--imbalance', '20', '--val-per-class', '10',
           '--rare-max', '10', '--common-max', '40', '--seed', '0']  # as in CI_CFG's header
CI_ITERS = 150
#: bbox / segm AP (0..1) the run must exceed (docs/detection_benchmark.md, "CI test"). CI_CFG
#: (lr 0.01) reached bbox 0.195 / 0.195 / 0.173 and segm 0.136 / 0.163 / 0.136 at
#: randomness.seed 0 / 1 / 2 with one thread, and bbox 0.170 / segm 0.122 in this test (seed 0,
#: two threads); the same run with shuffled training labels (the control below) bbox 0.014-0.016,
#: segm 0.007-0.010. The thresholds sit 2x below the weakest learning run and 5x (bbox) / 6x
#: (segm) above the control.
MIN_BBOX_AP = float(os.environ.get('GATED_MM_OMNIGLOT_MIN_AP', '0.08'))
MIN_SEGM_AP = float(os.environ.get('GATED_MM_OMNIGLOT_MIN_SEGM_AP', '0.06'))


@pytest.fixture(scope='module')
def ci_data(tmp_path_factory):
    data = tmp_path_factory.mktemp('omniglot-lvis-8c')
    ok(run([CONVERTER, data, *CI_DATA]))
    return data


def train_and_test(tmp_path: Path, data: Path, shuffle_labels: bool = False) -> dict:
    """Train CI_CFG from scratch on ``data`` and test it with tools/test.py; returns
    test_metrics.json. With ``shuffle_labels`` the training set is LabelShuffledLVISDataset
    (instance labels permuted over the split, seed 0): the negative control."""
    cfg = CI_CFG
    if shuffle_labels:
        cfg = tmp_path / 'control.py'
        cfg.write_text(f"""_base_ = '{CI_CFG}'
custom_imports = dict(imports=['gated_mm', 'gated_mm.datasets.lvis_synthetic'],
                      allow_failed_imports=False)
train_dataloader = dict(dataset=dict(dataset=dict(type='LabelShuffledLVISDataset',
                                                  label_shuffle_seed=0)))
""")
    env = dict(os.environ, GATED_MM_OMNIGLOT_LVIS=str(data))
    work = tmp_path / 'work'
    ok(run([ROOT / 'tools/train.py', cfg, '--work-dir', work,
            '--cfg-options', 'randomness.seed=0'], env=env))  # fixed: CI must not flake
    ok(run([ROOT / 'tools/test.py', cfg, work / f'iter_{CI_ITERS}.pth', '--work-dir',
            work / 'test'], env=env))
    return json.loads((work / 'test' / 'test_metrics.json').read_text())


def test_label_shuffle_control_breaks_the_labels(ci_data):
    """The control's dataset keeps every box, mask and class count and the RFS class
    statistics, is deterministic, and reassigns most instances to another class (a data
    path that silently ignored label_shuffle_seed would make the control meaningless)."""
    import gated_mm  # noqa: F401
    from mmdet.registry import DATASETS

    import gated_mm.datasets.lvis_synthetic  # noqa: F401  (registers the dataset)
    kw = dict(data_root=str(ci_data) + '/', ann_file='annotations/lvis_v1_train.json',
              data_prefix=dict(img=''), pipeline=[])
    from mmengine.registry import DefaultScope
    # mmdet's scope: an earlier test in the same process may have left another default scope
    with DefaultScope.overwrite_default_scope('mmdet'):
        plain = DATASETS.build(dict(type='LVISSubsetDataset', **kw))
        shuf = [DATASETS.build(dict(type='LabelShuffledLVISDataset', label_shuffle_seed=s,
                                    **kw)) for s in (0, 0, 1)]

    def labels(ds):
        return np.array([i['bbox_label'] for k in range(len(ds))
                         for i in ds.get_data_info(k)['instances']])

    def boxes(ds):
        return [i['bbox'] for k in range(len(ds)) for i in ds.get_data_info(k)['instances']]

    y, y0, y0b, y1 = map(labels, (plain, *shuf))
    assert len(y) == 278 and boxes(plain) == boxes(shuf[0])
    assert (np.bincount(y) == np.bincount(y0)).all()
    assert (y0 == y0b).all() and (y0 != y1).any()
    # with the 8-class long tail, a random permutation keeps sum_c p_c^2 ~ 0.25 in place
    assert 0.5 < (y0 != y).mean() < 0.95


def test_short_training_learns_omniglot_lvis(ci_data, tmp_path):
    metrics = train_and_test(tmp_path, ci_data)
    ap, segm = metrics['lvis/bbox_AP'], metrics['lvis/segm_AP']
    print(f'bbox AP {ap:.3f}, segm AP {segm:.3f}')
    assert ap > MIN_BBOX_AP, (
        f'bbox AP {ap:.3f} <= {MIN_BBOX_AP}: the detector did not learn (loss, head or data '
        f'path broken?)')
    assert segm > MIN_SEGM_AP, f'segm AP {segm:.3f} <= {MIN_SEGM_AP}: mask head broken?'
    assert (tmp_path / 'work' / 'test' / 'lvis_per_category_ap.csv').is_file()


def test_shuffled_labels_stay_below_the_threshold(ci_data, tmp_path):
    metrics = train_and_test(tmp_path, ci_data, shuffle_labels=True)
    ap = metrics['lvis/bbox_AP']
    print(f'control bbox AP {ap:.3f}, segm AP {metrics["lvis/segm_AP"]:.3f}')
    assert ap < MIN_BBOX_AP and metrics['lvis/segm_AP'] < MIN_SEGM_AP, (
        f'shuffled-label control bbox AP {ap:.3f} >= {MIN_BBOX_AP}: the threshold does not '
        f'separate a learning detector from one that cannot classify')
