"""Every shipped config loads (upstream ``mmpretrain::``/``mmdet::`` bases included) and its
model builds in the config's own scope; bad configs fail with a one-line error."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import gated_mm  # noqa: F401
from gated_mm.models.activations import AGLU, APA
from gated_mm.models.backbones import GatedResNet

ROOT = Path(__file__).resolve().parents[1]
# configs/gated_any: upstream models converted by type='Gated' (no GatedResNet), built and
# run by tests/models/gating/test_gating_configs.py
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts and 'gated_any' not in p.parts)


# Backbones named by shipped configs before their implementation lands: type → skip reason.
PENDING_TYPES = {}


def build_model(cfg):
    scope = cfg.get('default_scope', 'mmengine')
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg.model)


def _set_values(node, key=''):
    """Keys whose value is a set: no OpenMMLab config value is one."""
    if isinstance(node, (set, frozenset)):
        return [key]
    items = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, (list, tuple)) else ())
    return [k for name, child in items for k in _set_values(child, f'{key}.{name}'.strip('.'))]


def test_configs_found():
    assert len(CONFIGS) >= 4


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['gated_mm']
    pending = PENDING_TYPES.get(cfg.model.backbone.get('type'))
    if pending and cfg.model.backbone.type not in PRETRAIN_MODELS.module_dict:
        pytest.skip(pending)
    sets = _set_values(cfg.to_dict())
    # `x={_base_.y}` (single braces) is a Python set holding the path, not the base's value
    assert not sets, f'{path.name}: set-valued keys {sets} (write {{{{_base_.y}}}})'
    model = build_model(cfg)
    assert isinstance(model.backbone, GatedResNet)  # GatedCifarResNet is one (basic blocks)
    # the name says which learned gates the model has: 'apa' (APA attention gates), 'aglu'
    has_apa, has_aglu = 'apa' in path.name, 'aglu' in path.name
    gated = has_apa or has_aglu
    assert any(isinstance(m, AGLU) for m in model.modules()) == has_aglu
    assert any(isinstance(m, APA) for m in model.modules()) == has_apa
    # kappa and lambda_ are excluded from weight decay in every shipped config
    custom = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert custom['.kappa']['decay_mult'] == 0 and custom['.lambda_']['decay_mult'] == 0
    names = [n for n, _ in model.named_parameters()]
    assert any('.kappa' in n for n in names) == gated
    loss_cls = getattr(getattr(getattr(model, 'roi_head', None), 'bbox_head', None), 'loss_cls',
                       None)
    if type(loss_cls).__name__ == 'GumbelDropLoss':  # GOL: one logit per class, no background
        assert model.roi_head.bbox_head.fc_cls.out_features == loss_cls.num_classes


def test_quickstart_model_runs_a_step():
    """The quick-start model and optimizer as configured take training steps on one batch: the
    first loss is cross-entropy at initialisation (about ln 10 for 10 classes), every
    parameter (κ, λ included) gets a finite gradient, the steps move the weights and the loss
    on the batch falls."""
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(ROOT / 'configs/fashion_mnist_lt/'
                          'gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py')
    torch.manual_seed(0)
    model = build_model(cfg)
    model.init_weights()
    assert model.extract_feat(torch.randn(4, 1, 28, 28))[0].shape == (4, 512)
    gen = torch.Generator().manual_seed(0)
    data = dict(inputs=[torch.randint(0, 256, (1, 28, 28), generator=gen, dtype=torch.uint8)
                        for _ in range(16)],
                data_samples=[DataSample().set_gt_label(i % 10) for i in range(16)])
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.train()
    batch = model.data_preprocessor(data, True)
    loss = model(**batch, mode='loss')['loss']
    assert abs(loss.item() - math.log(10)) < 0.5, loss.item()
    loss.backward()
    for n, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), n
    assert any(p.grad.abs().sum() > 0 for n, p in model.named_parameters() if 'kappa' in n)
    optim_wrapper.zero_grad()
    losses = [model.train_step(data, optim_wrapper)['loss'].item() for _ in range(8)]
    assert all(math.isfinite(v) for v in losses), losses
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    # every weight; the κ, λ of gates behind a zero-initialised bn3 get gradients only once
    # that BN has moved away from 0, so most (not all) of them after 8 steps
    assert {n for n in before if n.endswith('.weight')} <= moved
    gates = [n for n in before if n.endswith(('kappa', 'lambda_'))]
    assert len(moved.intersection(gates)) >= 0.9 * len(gates), set(gates) - moved
    assert losses[-1] < 0.8 * losses[0], losses


def test_unknown_module_type_names_the_key():
    cfg = Config.fromfile(ROOT / 'configs/fashion_mnist_lt/'
                          'gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py')
    cfg.model.backbone.act_cfg = dict(type='AGLUU')
    with pytest.raises(KeyError, match='AGLUU is not in the'):
        build_model(cfg)
