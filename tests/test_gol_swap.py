"""GOL swapped into mmdet's own LVIS config, exactly as README.md shows it: the upstream model
gets the classifier prior the loss brings (fc_cls bias −2, so a RoI's 1,203 negative terms start
at 0.75 instead of 553), and without ``_delete_=True`` tools/train.py stops with one line.
The training run of this block on Omniglot-LVIS is in docs/gol_loss.md ("GOL in an upstream
config").
"""
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
