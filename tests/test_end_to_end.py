"""Real runs of the quick-start model on real Fashion-MNIST-LT through tools/train.py and
tools/test.py: training beats chance and reports every shot-wise key; an interrupted and
resumed run ends with the weights of an uninterrupted one."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
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


def test_train_and_test_beat_chance_with_shot_metrics(subset_config, tmp_path):
    work = tmp_path / 'work'
    # the default (fused, compiled) kernels, as a user runs them
    env = {'GATED_MM_COMPILE': 'auto'}
    run('tools/train.py', subset_config, '--work-dir', work, env=env)
    ckpt = (work / 'last_checkpoint').read_text().strip()
    assert ckpt.endswith('epoch_6.pth')
    run('tools/test.py', subset_config, ckpt, '--work-dir', work, env=env)
    metrics = json.loads((work / 'test_metrics.json').read_text())
    keys = {f'shot/{k}' for k in ('top1', 'mean_class', 'many', 'medium', 'few')}
    assert keys <= set(metrics), metrics
    assert all(0 <= metrics[k] <= 100 for k in keys)
    # balanced test subset: top-1 equals the mean class accuracy; 10 classes: chance is 10 %
    # (1,000 test images: 25 % is 15 standard deviations above chance)
    assert metrics['shot/top1'] == pytest.approx(metrics['shot/mean_class'], abs=1e-6)
    assert metrics['shot/top1'] > 25, metrics
    assert metrics['shot/many'] > metrics['shot/few'], metrics
    printed = run('tools/analysis_tools/print_metrics.py', work / 'test_metrics.json').stdout
    assert 'shot/few' in printed and f"{metrics['shot/top1']:6.2f}" in printed
    # the work dir has the dumped config, the logs and TensorBoard events
    assert (work / subset_config.name).is_file()
    assert list(work.glob('*/vis_data/events.out.tfevents.*'))


def test_resume_of_the_gated_model_matches_an_uninterrupted_run(subset_config, tmp_path):
    # Deterministic inputs: no random augmentation and no dropout (mmengine does not checkpoint
    # the RNG states of the main process and the data workers).
    config = tmp_path / 'deterministic.py'
    config.write_text(f"""_base_ = [{str(subset_config)!r}]
train_dataloader = dict(dataset=dict(pipeline=[dict(type='PackInputs')]))
model = dict(backbone=dict(attention_cfg=dict(dropout=0.0)))
""")
    full, part = tmp_path / 'full', tmp_path / 'part'
    run('tools/train.py', config, '--work-dir', full, '--cfg-options', 'train_cfg.max_epochs=2')
    run('tools/train.py', config, '--work-dir', part, '--cfg-options', 'train_cfg.max_epochs=1')
    assert not (part / 'epoch_2.pth').exists()
    run('tools/train.py', config, '--work-dir', part, '--resume', '--cfg-options',
        'train_cfg.max_epochs=2')
    a = torch.load(full / 'epoch_2.pth', map_location='cpu', weights_only=False)['state_dict']
    b = torch.load(part / 'epoch_2.pth', map_location='cpu', weights_only=False)['state_dict']
    assert a.keys() == b.keys()
    assert any('kappa' in k for k in a) and any('lambda_' in k for k in a)
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-6, atol=1e-7, msg=key)
    # and training did move the gate parameters (so the comparison is not vacuous)
    init = torch.load(part / 'epoch_1.pth', map_location='cpu', weights_only=False)['state_dict']
    assert any(not torch.equal(init[k], a[k]) for k in a if k.endswith('kappa'))
