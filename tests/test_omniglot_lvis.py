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
GOL_CFG = ROOT / ('configs/lvis_synth/'
                  'mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-400i_omniglot-lvis.py')

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
#: bbox AP (0..1) the short run must reach. NOT YET CALIBRATED (docs/detection_benchmark.md,
#: "CI test"): the test runs only with GATED_MM_DET_LEARNING_TEST=1 until this run and the
#: shuffled-label control (train_and_test(..., shuffle_labels=True)) have been measured.
MIN_BBOX_AP = float(os.environ.get('GATED_MM_OMNIGLOT_MIN_AP', '0.10'))
CI_DATA = ['--num-classes', '8', '--n-max', '100', '--imbalance', '20', '--val-per-class', '6',
           '--rare-max', '10', '--common-max', '40']
CI_ITERS = 150


def train_and_test(tmp_path: Path, shuffle_labels: bool = False) -> dict:
    """Build the small Omniglot-LVIS set, train the GOL quick config for CI_ITERS iterations
    from scratch (batch 4) and test it with tools/test.py; returns test_metrics.json. With
    ``shuffle_labels`` the training annotations get random categories (the control)."""
    data = tmp_path / 'omniglot-lvis'
    ok(run([CONVERTER, data, *CI_DATA, '--seed', '0']))
    if shuffle_labels:
        path = data / 'annotations/lvis_v1_train.json'
        d = json.loads(path.read_text())
        rng = np.random.default_rng(0)
        for ann in d['annotations']:
            ann['category_id'] = int(rng.integers(1, 9))
        path.write_text(json.dumps(d))
    cfg = tmp_path / 'ci_cfg.py'
    cfg.write_text(f"""_base_ = '{GOL_CFG}'
num_classes = 8
model = dict(roi_head=dict(
    bbox_head=dict(num_classes=num_classes, loss_cls=dict(num_classes=num_classes)),
    mask_head=dict(num_classes=num_classes)))
train_cfg = dict(max_iters={CI_ITERS})
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', begin=0, end={CI_ITERS}, by_epoch=False,
         milestones=[{CI_ITERS - 30}], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval={CI_ITERS}))
""")
    env = dict(os.environ, GATED_MM_OMNIGLOT_LVIS=str(data))
    work = tmp_path / 'work'
    ok(run([ROOT / 'tools/train.py', cfg, '--work-dir', work], env=env))
    ok(run([ROOT / 'tools/test.py', cfg, work / f'iter_{CI_ITERS}.pth', '--work-dir',
            work / 'test'], env=env))
    return json.loads((work / 'test' / 'test_metrics.json').read_text())


@pytest.mark.skipif(os.environ.get('GATED_MM_DET_LEARNING_TEST') != '1',
                    reason='threshold not calibrated yet; set GATED_MM_DET_LEARNING_TEST=1')
def test_short_training_learns_omniglot_lvis(tmp_path):
    metrics = train_and_test(tmp_path)
    ap = metrics['lvis/bbox_AP']
    print(f'bbox AP {ap:.3f}, segm AP {metrics["lvis/segm_AP"]:.3f}')
    assert ap > MIN_BBOX_AP, (
        f'bbox AP {ap:.3f} <= {MIN_BBOX_AP}: the detector did not learn (loss, head or data '
        f'path broken?)')
    assert metrics['lvis/segm_AP'] > MIN_BBOX_AP / 2
    assert (tmp_path / 'work' / 'test' / 'lvis_per_category_ap.csv').is_file()
