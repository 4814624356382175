"""Real runs of the quick-start model on real Fashion-MNIST-LT through tools/train.py and
tools/test.py: training beats chance, reports every shot-wise key, and beats two control runs.

Control runs (``test_control_runs_stay_below_the_thresholds``, run by default, marked slow as
the whole module): the same subset, schedule, seed and model with (a) the training labels
shuffled (images no longer tell the class; the long tail alone still gives many > few) and
(b) constant gates (AGLU and the APA gates at κ = 0, λ = 1, frozen: η = 1/2 everywhere, so the
network is linear in its input apart from BatchNorm's batch statistics in training). The
thresholds lie between the controls and the real model, measured at seeds 0, 1 and 2 (README,
"Tests"), top-1 / medium-shot accuracy in %, lowest or highest over the seeds:

    real run                      lowest  35.0 / 20.2
    constant gates (control)      highest 26.8 / 4.6
    shuffled labels (control)     highest 10.9 / 0.0

TOP1_MIN = 31 sits 4.0 and 4.2 points from the nearest of them (about 2.7 binomial standard
deviations of the 1,000 test images each way), MEDIUM_MIN = 12 sits 8.2 and 7.4 (over 5
of its 500).

(Exact resume is tested once, the strongest way, in tests/engine/test_exact_resume.py.)"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Thresholds between the control runs and the real model (module docstring; README "Tests").
TOP1_MIN = 31.0
MEDIUM_MIN = 12.0
QUICKSTART = ROOT / ('configs/fashion_mnist_lt/'
                     'gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py')

# A small long-tailed subset: 300 ... 30 training images per class (1,200 in all), 100 test
# images per class; shot thresholds scaled to it (many > 150, few < 50).
SUBSET = f"""
_base_ = [{str(QUICKSTART)!r}]
train_set = dict(type='FashionMNISTLT', split='train', imbalance_ratio=10, max_per_class=300,
                 data_root=None)
train_dataloader = dict(batch_size=64, num_workers=0, persistent_workers=False,
                        dataset=dict(imbalance_ratio=10, max_per_class=300))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(max_per_class=100))
test_dataloader = val_dataloader
val_evaluator = dict(train_dataset=train_set, many_thr=150, few_thr=50)
test_evaluator = val_evaluator
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=5, by_epoch=True, begin=1, end=6,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=6, val_interval=100)
default_hooks = dict(logger=dict(interval=5))
"""


def fashion_mnist_available():
    from gated_mm.datasets import find_fashion_mnist
    try:
        find_fashion_mnist(None, download=False)
    except Exception as exc:  # noqa: BLE001
        return str(exc)
    return None


@pytest.fixture(scope='module')
def subset_config(tmp_path_factory):
    missing = fashion_mnist_available()
    if missing:
        pytest.skip(f'real Fashion-MNIST not available ({missing[:200]})')
    path = tmp_path_factory.mktemp('cfg') / 'fmnist_lt_subset.py'
    path.write_text(SUBSET)
    return path


def run(*args, env=None):
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def shuffled_labels_root(folder):
    """A Fashion-MNIST folder whose training labels are a fixed permutation of the real ones
    (images and the test split as they are, linked)."""
    from gated_mm.datasets import find_fashion_mnist
    real = Path(find_fashion_mnist(None, download=False))
    folder.mkdir()
    for name in ('train-images-idx3-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'):
        (folder / name).symlink_to(real / name)
    raw = (real / 'train-labels-idx1-ubyte').read_bytes()  # 8-byte IDX header, uint8 labels
    labels = np.frombuffer(raw[8:], dtype=np.uint8)
    shuffled = labels[np.random.default_rng(0).permutation(len(labels))]
    (folder / 'train-labels-idx1-ubyte').write_bytes(raw[:8] + shuffled.tobytes())
    return folder


def train_and_test(config, work, env=None):
    """tools/train.py then tools/test.py on the last checkpoint; the test metrics."""
    run('tools/train.py', config, '--work-dir', work, env=env)
    ckpt = (work / 'last_checkpoint').read_text().strip()
    assert ckpt.endswith('epoch_6.pth')
    run('tools/test.py', config, ckpt, '--work-dir', work, env=env)
    return json.loads((work / 'test_metrics.json').read_text())


def control_config(subset_config, tmp_path, kind):
    """The subset config with shuffled training labels or constant, frozen gates."""
    path = tmp_path / f'control_{kind}.py'
    if kind == 'shuffled':
        root = shuffled_labels_root(tmp_path / 'shuffled')
        path.write_text(f"""_base_ = [{str(subset_config)!r}]
train_set = dict(data_root={str(root)!r})
train_dataloader = dict(dataset=dict(data_root={str(root)!r}))
val_evaluator = dict(train_dataset=train_set)
test_evaluator = val_evaluator
""")
    else:
        const = "dict(type='{}', kappa_init=0.0, lambda_init=1.0)"
        frozen = 'dict(lr_mult=0.0, decay_mult=0.0)'
        # _delete_: the base's AGLU has (low, high) init ranges; its SE gate is the style's
        path.write_text(f"""_base_ = [{str(subset_config)!r}]
model = dict(backbone=dict(act_cfg=dict(_delete_=True, **{const.format('AGLU')}),
                           attention_cfg=dict(gate_cfg={const.format('APA')})))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{'.kappa': {frozen}, '.lambda_': {frozen}}}))
""")
    return path


def test_train_and_test_beat_chance_with_shot_metrics(subset_config, tmp_path):
    work = tmp_path / 'work'
    # the default (fused, compiled) kernels, as a user runs them
    metrics = train_and_test(subset_config, work, env={'GATED_MM_COMPILE': 'auto'})
    keys = {f'shot/{k}' for k in ('top1', 'mean_class', 'many', 'medium', 'few')}
    assert keys <= set(metrics), metrics
    assert all(0 <= metrics[k] <= 100 for k in keys)
    # balanced test subset: top-1 equals the mean class accuracy
    assert metrics['shot/top1'] == pytest.approx(metrics['shot/mean_class'], abs=1e-6)
    # 10 classes: chance is 10 %; both controls stay below these (module docstring)
    assert metrics['shot/top1'] > TOP1_MIN, metrics
    assert metrics['shot/medium'] > MEDIUM_MIN, metrics
    assert metrics['shot/many'] > metrics['shot/few'], metrics
    printed = run('tools/analysis_tools/print_metrics.py', work / 'test_metrics.json').stdout
    assert 'shot/few' in printed and f"{metrics['shot/top1']:6.2f}" in printed
    # the work dir has the dumped config, the logs and TensorBoard events
    assert (work / subset_config.name).is_file()
    assert list(work.glob('*/vis_data/events.out.tfevents.*'))


@pytest.mark.parametrize('kind', ['shuffled', 'constant-gates'])
def test_control_runs_stay_below_the_thresholds(subset_config, tmp_path, kind):
    """Each control fails both of the real run's learning checks: the thresholds are
    calibrated (module docstring)."""
    metrics = train_and_test(control_config(subset_config, tmp_path, kind), tmp_path / 'work')
    print(f"\ncontrol {kind}: top-1 {metrics['shot/top1']:.2f} many {metrics['shot/many']:.2f} "
          f"medium {metrics['shot/medium']:.2f} few {metrics['shot/few']:.2f}")
    assert metrics['shot/top1'] <= TOP1_MIN, metrics
    assert metrics['shot/medium'] <= MEDIUM_MIN, metrics
