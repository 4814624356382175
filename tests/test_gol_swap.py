"""GOL swapped into mmdet's own LVIS config, exactly as README.md shows it: the upstream model
gets the classifier prior the loss brings (fc_cls bias −2, so a RoI's 1,203 negative terms start
at 0.75 instead of 553), and without ``_delete_=True`` tools/train.py stops with one line.
The training run of this block on Omniglot-LVIS is in docs/gol_loss.md ("GOL in an upstream
config").
"""
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'


def run(args, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='2')
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def readme_swap() -> str:
    """The README's GOL swap block (the python block that inherits UPSTREAM)."""
    blocks = re.findall(r'```python\n(.*?)```', (ROOT / 'README.md').read_text(), re.S)
    found = [b for b in blocks if UPSTREAM in b and 'GumbelDropLoss' in b]
    assert len(found) == 1, 'README.md: expected one python block swapping GOL into ' + UPSTREAM
    return found[0]


@pytest.mark.slow  # 68 s on the loaded 2-core machine (R50 Mask R-CNN, 1,203 classes)
def test_readme_swap_gives_mmdet_model_the_gol_prior(tmp_path):
    """mmdet's R50 Mask R-CNN (1,203 classes) built from the README block: after init_weights
    its fc_cls bias is −2 (mmdet's own init: 0), so a background RoI's GOL loss at the start
    is Σ_c −log(1 − η(q_c)) ≈ 1203 · 6.2e-4 = 0.75 (plus the spread of mmdet's Normal(0, 0.01)
    weights), not ≈ 1203 · 0.46 = 553 as at bias 0."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import gated_mm  # noqa: F401
    from gated_mm.models.losses import gol_loss
    swap = tmp_path / 'swap.py'
    swap.write_text(readme_swap())
    init_default_scope('mmdet')
    start = {}
    for init_bias in (-2.0, None):
        cfg = Config.fromfile(swap)
        cfg.model.backbone.init_cfg = None  # no ImageNet weights offline
        cfg.model.roi_head.bbox_head.loss_cls.init_bias = init_bias
        torch.manual_seed(0)
        head = MODELS.build(cfg.model).roi_head.bbox_head
        head.init_weights()
        assert head.fc_cls.out_features == 1203
        assert (head.fc_cls.bias == (0.0 if init_bias is None else -2.0)).all()
        rois = torch.rand(64, 256, 7, 7)  # RoI features after ReLU-like FPN outputs
        cls_score, _ = head(rois)
        start[init_bias] = gol_loss(cls_score, torch.zeros_like(cls_score)).sum(1).mean().item()
    assert 0.5 < start[-2.0] < 1.5 and 450 < start[None] < 650, start  # measured 1.02, 555


@pytest.mark.slow  # 72 s on the loaded 2-core machine (tools/train.py start-up)
def test_gol_swap_without_delete_stops_with_one_line(tmp_path):
    swap = tmp_path / 'swap.py'
    swap.write_text(readme_swap().replace('_delete_=True,', ''))
    proc = run([ROOT / 'tools/train.py', swap, '--work-dir', tmp_path / 'work'], timeout=300)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert last.startswith('train.py: error: model.roi_head.bbox_head.loss_cls:')
    assert 'use_sigmoid=False' in last and "_delete_=True, type='GumbelDropLoss'" in last


# ---------------------------------------------------------------- the swap trains (issue 23)
from test_omniglot_lvis import OMNIGLOT, ci_data, ok  # noqa: E402,F401  (ci_data: fixture)

#: training iterations of the swap run (batch 2: the first 2 * SWAP_ITERS training canvases,
#: one epoch) and the number k of first / last logged losses compared
SWAP_ITERS, K, WARMUP = 40, 10, 10
#: the mean of the last K logged losses must be below MARGIN x the mean of the first K. One run
#: (this test, seed 0, 2 threads; docs/gol_loss.md, "GOL in an upstream config"): loss
#: 3.38 -> 2.23 (x0.66), loss_cls 1.18 -> 0.62 (x0.53), batch-to-batch s.d. 0.36-0.64 / 0.18-0.43
#: within a block of K; the margins ask for a fall of 20 % / 25 %. The same swap at mmdet's
#: unscaled lr 0.02 (8x the per-image lr at batch 2) ran loss_cls 1.27 -> 36.9 -> 559 at
#: iterations 28-30: caught (non-finite or a last-K mean far above the first). Break run, GOL
#: computed on cls_score.detach(): loss x0.89 and loss_cls x1.08 (mask and RPN losses still
#: fell x0.59 / x0.67): caught.
MARGIN = {'loss': 0.8, 'loss_cls': 0.75}


def swap_train_options(data: Path, seed: int = 0):
    """--cfg-options for the README block on Omniglot-LVIS: data paths, the data's class count
    (tools/train.py stops when the head's and the file's differ), the 128-px scale (the
    canvases' own), SWAP_ITERS iterations (one epoch of the first 2 * SWAP_ITERS canvases, no
    validation, no checkpoint) and per-iteration logging; nothing else of model or schedule."""
    import json
    ann = data / 'annotations/lvis_v1_train.json'
    num_classes = len(json.loads(ann.read_text())['categories'])
    train, head = 'train_dataloader.dataset.dataset', 'model.roi_head'  # RFS-wrapped upstream
    return ['--cfg-options',
            f'{train}.data_root={data}/',
            f'{train}.type=LVISSubsetDataset',  # classes from the file (LVISV1Dataset: 1,203)
            f'{train}.indices={2 * SWAP_ITERS}',
            f'{train}.pipeline.2.scales=[(1333,128)]',  # RandomChoiceResize, upstream 640-800
            f'{head}.bbox_head.num_classes={num_classes}',
            f'{head}.mask_head.num_classes={num_classes}',
            f'{head}.bbox_head.loss_cls.num_classes={num_classes}',
            f'{head}.bbox_head.loss_cls.freq_file={ann}',
            'model.backbone.init_cfg=None',  # no ImageNet weights offline: from scratch
            'model.train_cfg.rcnn.sampler.num=64',  # RoIs per image (512): CPU time
            f'param_scheduler.0.end={WARMUP}',  # mmdet's linear warm-up, 500 iterations
            'auto_scale_lr.enable=True',  # mmdet's lr 0.02 is for 16 images: 0.0025 at 2
            'train_cfg.max_epochs=1', 'val_cfg=None', 'val_dataloader=None',
            'val_evaluator=None', 'default_hooks.checkpoint=None',
            'default_hooks.logger.interval=1', 'log_processor.window_size=1',
            f'randomness.seed={seed}']


def logged_losses(work: Path) -> dict:
    """{loss name: [value per logged iteration]} from the run's scalars.json."""
    import json
    rows = [json.loads(line) for f in work.glob('*/vis_data/scalars.json')
            for line in f.read_text().splitlines()]
    rows = [r for r in rows if 'loss' in r]
    return {k: [r[k] for r in rows] for k in ('loss', 'loss_cls')}


@pytest.mark.slow  # 1,001 s at a load average of 10-11 (24 s per iteration); idle: not measured
@pytest.mark.skipif(not OMNIGLOT.is_dir(), reason=f'Omniglot not found at {OMNIGLOT}')
def test_readme_swap_trains_on_omniglot_lvis(ci_data, tmp_path):
    """mmdet's LVIS Mask R-CNN with the README's GOL swap, through tools/train.py, trains
    SWAP_ITERS iterations on Omniglot-LVIS (8 classes; batch 2, 128 px, from scratch,
    mmdet's SGD lr 0.02 after a WARMUP-iteration linear warm-up): the head starts from GOL's
    prior, every logged loss is finite, and the mean of the last K total losses and of the
    last K GOL losses (loss_cls) are below MARGIN x the means of their first K."""
    swap = tmp_path / 'swap.py'
    swap.write_text(readme_swap())
    work = tmp_path / 'work'
    proc = ok(run([ROOT / 'tools/train.py', swap, '--work-dir', work,
                   *swap_train_options(ci_data)], timeout=1800))
    assert 'fc_cls: bias -2.0 set by GumbelDropLoss.init_weights' in proc.stdout + proc.stderr
    losses = logged_losses(work)
    for name, xs in losses.items():
        print(name, ' '.join(f'{x:.3f}' for x in xs))
        assert len(xs) == SWAP_ITERS and all(map(math.isfinite, xs)), (name, xs)
        first, last = sum(xs[:K]) / K, sum(xs[-K:]) / K
        assert last < MARGIN[name] * first, (
            f'{name}: mean of the last {K} iterations {last:.3f} is not below {MARGIN[name]} x '
            f'the mean of the first {K} ({first:.3f}): the swapped-in GOL model did not learn')
