"""configs/gated_any: LVIS Mask R-CNNs on upstream backbones converted by ``type='Gated'``.

Each config loads (``mmdet::`` base), names what it follows, builds the whole detector with AGLU
at every activation call site of the backbone and the three heads and an APA-SE after every
block, and runs a training step (loss, backward) on a small fake batch in which every trainable
κ / λ gets a gradient and every unit runs once.
"""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from torch import nn

import gated_mm  # noqa: F401
from gated_mm.models.activations import AGLU, APA
from gated_mm.models.attention import GatedSE
from gated_mm.models.gating import CallSites

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = sorted((ROOT / 'configs' / 'gated_any').glob('*_lvis-v1.py'))
QUICK = sorted((ROOT / 'configs' / 'gated_any').glob('*omniglot-lvis.py'))
#: config name part → (backbone class, its activation class, blocks that get an SE)
EXPECT = {'regnetx': ('RegNet', nn.ReLU, 'Bottleneck'), 'convnext': ('ConvNeXt', nn.GELU,
                                                                       'ConvNeXtBlock')}


def test_configs_found():
    assert {next(k for k in EXPECT if k in p.name) for p in CONFIGS} == set(EXPECT)


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_config_builds_converted_and_trains_a_step(path):
    from mmdet.testing import demo_mm_inputs
    header = path.read_text().split('_base_')[0]
    assert 'Follows: mmdet configs/lvis/' in header and 'APA paper' in header
    cfg = Config.fromfile(path)
    if 'drop_path_rate' in cfg.model.backbone.model:  # a dropped branch gets no gradient
        cfg.model.backbone.model.drop_path_rate = 0.0
    backbone_cls, act_cls, block_cls = next(v for k, v in EXPECT.items() if k in path.name)
    init_default_scope('mmdet')
    with DefaultScope.overwrite_default_scope('mmdet'):
        from mmdet.registry import MODELS
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == backbone_cls
    # every activation of the original model is now a unit (SE blocks keep their own ReLU)
    for part in (model.backbone, model.rpn_head, model.roi_head.bbox_head,
                 model.roi_head.mask_head):
        assert part.gating['sites'] or part.gating['functional']
        left = [n for n, m in part.named_modules()
                if isinstance(m, (nn.ReLU, nn.GELU)) and not n.startswith('gated_attention')
                and '.units.' not in n]
        assert not left, left
    units = [u for m in model.modules() if isinstance(m, CallSites) for u in m.units]
    assert units and all(isinstance(u, AGLU) for u in units)
    blocks = [m for m in model.backbone.modules() if type(m).__name__ == block_cls]
    ses = list(model.backbone.gated_attention.values())
    assert len(ses) == len(blocks) and all(isinstance(s, GatedSE) for s in ses)
    assert all(isinstance(s.gate, APA) for s in ses)
    assert model.rpn_head.gating['functional'] == {'<root>:ReLU': 5}

    calls = {id(u): 0 for u in units}
    for u in units:
        u.register_forward_hook(lambda m, a, o: calls.__setitem__(id(m), calls[id(m)] + 1))
    model.train()
    packed = demo_mm_inputs(1, [(3, 64, 64)], num_items=[2], num_classes=1203, with_mask=True)
    data = model.data_preprocessor(packed, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert torch.isfinite(loss)
    backbone_units = {id(u) for m in model.backbone.modules() if isinstance(m, CallSites)
                      for u in m.units}
    assert all(calls[id(u)] == 1 for u in units if id(u) in backbone_units)
    assert all(calls[id(u)] >= 1 for u in units)  # heads: once per loss call
    trainable = [(n, p) for n, p in model.named_parameters()
                 if ('.kappa' in n or '.lambda_' in n) and p.requires_grad]
    assert trainable
    missing = [n for n, p in trainable if p.grad is None or not p.grad.abs().sum() > 0]
    # the RPN samples 256 of its anchors: on a 64 px image P6 (1x1, 3 anchors) may get none
    assert not [n for n in missing if not n.startswith('rpn_head.gated_relu.units.4.')], missing
    frozen = [n for n, p in model.named_parameters() if '.kappa' in n and not p.requires_grad]
    assert (len(frozen) > 0) == ('regnetx' in path.name)  # frozen_stages=1: stem + stage 1


def build(path):
    cfg = Config.fromfile(path)
    init_default_scope('mmdet')
    with DefaultScope.overwrite_default_scope('mmdet'):
        from mmdet.registry import MODELS
        torch.manual_seed(0)
        return MODELS.build(cfg.model)


def test_omniglot_twins_differ_only_by_the_conversion():
    """The Omniglot-LVIS quick pair: the gated config is its twin converted (every twin key is
    there with its shape; the extra keys are exactly the units' and the inserted SE blocks')."""
    plain_path, = [p for p in QUICK if 'gated' not in p.name]
    gated_path, = [p for p in QUICK if 'gated' in p.name]
    plain, gated = build(plain_path), build(gated_path)
    ref = plain.state_dict()
    result = gated.load_state_dict(ref, strict=False)
    assert result.unexpected_keys == []
    new = {f'{prefix}.{k}' for prefix, part in (
        ('backbone', gated.backbone), ('rpn_head', gated.rpn_head),
        ('roi_head.bbox_head', gated.roi_head.bbox_head),
        ('roi_head.mask_head', gated.roi_head.mask_head)) for k in part.gating['new_keys']}
    assert set(result.missing_keys) == new
    assert any('gated_attention' in k for k in new) and any('.kappa' in k for k in new)
