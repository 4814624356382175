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
import torch

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
CFG_DIR = ROOT / 'configs/lvis_synth'
#: CI configs: the GOL quick config on 8 classes for 150 iterations (its header has the
#: deltas), with the Sigmoid-SE + ReLU backbone and with the APA paper's APA-gated SE + AGLU
CI_CFGS = {b: CFG_DIR / f'mask-rcnn_gated-se-r26-w16-{b}_fpn_gol_1xb4-150i_omniglot-lvis-8c.py'
           for b in ('sigmoid-relu', 'apa-aglu')}
CI_CFG = CI_CFGS['sigmoid-relu']
CI_DATA = ['--num-classes', '8', '--n-max', '100', '--imbalance', '20', '--val-per-class', '10',
           '--rare-max', '10', '--common-max', '40', '--seed', '0']  # as in CI_CFG's header
CI_ITERS = 150
#: bbox / segm AP (0..1) each run must exceed and its shuffled-label control must stay below
#: (docs/detection_benchmark.md, "CI test"; fixed here: no environment variable lowers them).
#: sigmoid-relu (lr 0.01) reached bbox 0.195 / 0.195 / 0.173 and segm 0.136 / 0.163 / 0.136 at
#: randomness.seed 0 / 1 / 2 with one thread, and bbox 0.170 / segm 0.122 in this test (seed 0,
#: two threads); the same run with shuffled training labels (the control below) bbox
#: 0.014-0.016, segm 0.007-0.010. The thresholds sit 2x below the weakest learning run and 5x
#: (bbox) / 6x (segm) above the control.
#: apa-aglu (lr 0.01, the same thresholds, the same rule): through these helpers (eager kernels,
#: the test's threads) bbox 0.182 / 0.158 / 0.218 and segm 0.142 / 0.135 / 0.153 at
#: randomness.seed 0 / 1 / 2; the shuffled-label controls bbox 0.003 / 0.008 / 0.013, segm
#: 0.004 / 0.005 / 0.006. The thresholds sit 2.0x (bbox) / 2.25x (segm) below the weakest
#: learning run and 6.2x / 10x above the strongest control (docs/detection_benchmark.md,
#: "The APA + AGLU CI config: calibration").
MIN_AP = {'sigmoid-relu': (0.08, 0.06), 'apa-aglu': (0.08, 0.06)}
#: relative change |ΔL| / L of the trained APA + AGLU detector's loss on the val canvases (every
#: loss term, fixed sampling) when its AGLUs are replaced by the identity or its SE gates by
#: their channel mean. A broken gate (an AGLU that returns its input, a constant APA gate, an SE
#: that ignores its gate) makes the knockout a no-op: the change is exactly 0. Calibrated with
#: the AP runs above (seeds 0 / 1 / 2): AGLU +104 / +45 / +141, SE gate -0.0061 / -0.0059 /
#: -0.0049; 45x and 4.9x above the thresholds at the smallest. The shuffled-label controls'
#: gates matter to their loss too (AGLU +8.7 to +64): the knockout checks that the gates are
#: used, the AP check that the classes are learned. Channel-mean SE gates may lower the val
#: loss; the sign is not the check.
MIN_KNOCKOUT_CHANGE = {'AGLU': 1.0, 'SE gate': 1e-3}


@pytest.fixture(scope='module')
def ci_data(tmp_path_factory):
    data = tmp_path_factory.mktemp('omniglot-lvis-8c')
    ok(run([CONVERTER, data, *CI_DATA]))
    return data


def train_and_test(tmp_path: Path, data: Path, cfg: Path = CI_CFG, shuffle_labels: bool = False,
                   seed: int = 0) -> dict:
    """Train ``cfg`` from scratch on ``data`` and test it with tools/test.py; returns
    test_metrics.json. With ``shuffle_labels`` the training set is LabelShuffledLVISDataset
    (instance labels permuted over the split, seed 0): the negative control."""
    if shuffle_labels:
        control = tmp_path / 'control.py'
        control.write_text(f"""_base_ = '{cfg}'
custom_imports = dict(imports=['gated_mm', 'gated_mm.datasets.lvis_synthetic'],
                      allow_failed_imports=False)
train_dataloader = dict(dataset=dict(dataset=dict(type='LabelShuffledLVISDataset',
                                                  label_shuffle_seed=0)))
""")
        cfg = control
    env = dict(os.environ, GATED_MM_OMNIGLOT_LVIS=str(data))
    work = tmp_path / 'work'
    ok(run([ROOT / 'tools/train.py', cfg, '--work-dir', work,
            '--cfg-options', f'randomness.seed={seed}'], env=env))  # fixed: CI must not flake
    ok(run([ROOT / 'tools/test.py', cfg, work / f'iter_{CI_ITERS}.pth', '--work-dir',
            work / 'test'], env=env))
    return json.loads((work / 'test' / 'test_metrics.json').read_text())


def knockout_loss_change(cfg: Path, checkpoint: Path, data: Path) -> dict:
    """Relative change (L_knocked − L) / L of the trained detector's loss on the val canvases
    when each learned gate is knocked out: every AGLU replaced by the identity, every SE
    gate's output (N, C) by its channel mean (a constant per image). A gate the trained
    detector does not use (a broken
    AGLU that returns its input, a constant APA gate, an SE whose scale ignores its gate)
    gives exactly 0. Runs unfused (forward hooks replace module outputs), in eval mode,
    with the same RoI / DropLoss sampling (seed) for every variant."""
    from mmdet.apis import init_detector
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from gated_mm.models.activations import AGLU, fusion
    from gated_mm.models.attention import GatedSE
    old = os.environ.get('GATED_MM_OMNIGLOT_LVIS')
    os.environ['GATED_MM_OMNIGLOT_LVIS'] = str(data)
    try:
        config = Config.fromfile(str(cfg))
    finally:
        if old is None:
            del os.environ['GATED_MM_OMNIGLOT_LVIS']
        else:
            os.environ['GATED_MM_OMNIGLOT_LVIS'] = old
    torch.manual_seed(0)
    model = init_detector(config, str(checkpoint), device='cpu')
    dataset = DATASETS.build(config.test_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])

    def loss() -> float:
        torch.manual_seed(0)
        with torch.no_grad(), fusion(False):
            data = model.data_preprocessor(batch, True)
            losses = model.loss(data['inputs'], data['data_samples'])
        return model.parse_losses(losses)[0].item()

    def with_hooks(modules, hook) -> float:
        handles = [m.register_forward_hook(hook) for m in modules]
        try:
            return loss()
        finally:
            for h in handles:
                h.remove()

    aglus = [m for m in model.backbone.modules() if isinstance(m, AGLU)]
    gates = [m.gate for m in model.backbone.modules() if isinstance(m, GatedSE)]
    assert aglus and gates, 'the APA + AGLU detector has no AGLU or no gated SE'
    base = loss()
    knocked = {
        'AGLU': with_hooks(aglus, lambda m, inputs, out: inputs[0]),
        'SE gate': with_hooks(gates, lambda m, inputs, out: out.mean(1, True).expand_as(out)),
    }
    return {k: (v - base) / base for k, v in knocked.items()}


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


@pytest.mark.slow
@pytest.mark.parametrize('backbone', list(CI_CFGS))
def test_short_training_learns_omniglot_lvis(ci_data, tmp_path, backbone):
    """The CI config learns: bbox / segm AP above MIN_AP. For the APA + AGLU detector also:
    knocking out its AGLUs or its SE gates changes its loss by MIN_KNOCKOUT_CHANGE (a broken
    AGLU, APA gate or gated SE learns anyway through the rest of the detector, but then the
    trained model does not depend on it)."""
    cfg = CI_CFGS[backbone]
    metrics = train_and_test(tmp_path, ci_data, cfg)
    ap, segm = metrics['lvis/bbox_AP'], metrics['lvis/segm_AP']
    min_ap, min_segm = MIN_AP[backbone]
    print(f'{backbone}: bbox AP {ap:.3f}, segm AP {segm:.3f}')
    assert ap > min_ap, (
        f'{backbone}: bbox AP {ap:.3f} <= {min_ap}: the detector did not learn (loss, head, '
        f'backbone or data path broken?)')
    assert segm > min_segm, f'{backbone}: segm AP {segm:.3f} <= {min_segm}: mask head broken?'
    assert (tmp_path / 'work' / 'test' / 'lvis_per_category_ap.csv').is_file()
    if backbone == 'apa-aglu':
        change = knockout_loss_change(cfg, tmp_path / 'work' / f'iter_{CI_ITERS}.pth', ci_data)
        print(f'{backbone}: knockout loss change {change}')
        for gate, need in MIN_KNOCKOUT_CHANGE.items():
            assert abs(change[gate]) > need, (
                f'{backbone}: knocking out the {gate}s changes the trained loss by '
                f'{change[gate]:.2e} (|.| <= {need}): the trained detector does not use them')


@pytest.mark.slow
@pytest.mark.parametrize('backbone', list(CI_CFGS))
def test_shuffled_labels_stay_below_the_threshold(ci_data, tmp_path, backbone):
    metrics = train_and_test(tmp_path, ci_data, CI_CFGS[backbone], shuffle_labels=True)
    ap, segm = metrics['lvis/bbox_AP'], metrics['lvis/segm_AP']
    min_ap, min_segm = MIN_AP[backbone]
    print(f'{backbone}: control bbox AP {ap:.3f}, segm AP {segm:.3f}')
    assert ap < min_ap and segm < min_segm, (
        f'{backbone}: shuffled-label control bbox AP {ap:.3f} (>= {min_ap}?) segm AP '
        f'{segm:.3f} (>= {min_segm}?): the threshold does not separate a learning detector '
        f'from one that cannot classify')
