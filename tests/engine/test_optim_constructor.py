"""κ / λ of APA and AGLU stay out of weight decay for a config written the upstream way."""
import os.path as osp

import pytest
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import gated_mm  # noqa: F401
from gated_mm.engine import use_gated_optim_constructor
from gated_mm.models.activations import AGLU, APA

UPSTREAM_CFG = '''
_base_ = ['mmpretrain::_base_/schedules/imagenet_bs256.py']
'''


def _model():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), AGLU(), nn.Conv2d(4, 4, 1), APA())


def _decay_of(model, optim_wrapper):
    """weight decay of every parameter name, from the optimizer's param groups."""
    by_id = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for group in optim_wrapper.optimizer.param_groups:
        for p in group['params']:
            out[by_id[id(p)]] = group['weight_decay']
    return out


@pytest.fixture
def upstream_cfg(tmp_path):
    path = osp.join(tmp_path, 'upstream_schedule.py')
    with open(path, 'w') as f:
        f.write(UPSTREAM_CFG)
    cfg = Config.fromfile(path)
    assert 'paramwise_cfg' not in cfg.optim_wrapper and cfg.optim_wrapper.optimizer.weight_decay > 0
    return cfg


def test_upstream_schedule_keeps_kappa_lambda_out_of_decay(upstream_cfg):
    wd = upstream_cfg.optim_wrapper.optimizer.weight_decay
    assert use_gated_optim_constructor(upstream_cfg)
    model = _model()
    decay = _decay_of(model, build_optim_wrapper(model, upstream_cfg.optim_wrapper))
    gate = {n: v for n, v in decay.items() if n.endswith(('kappa', 'lambda_'))}
    assert sorted(gate) == ['2.kappa', '2.lambda_', '4.kappa', '4.lambda_']
    assert all(v == 0.0 for v in gate.values())
    assert decay['0.weight'] == wd and decay['3.weight'] == wd and decay['1.weight'] == wd


@pytest.mark.parametrize('opt_out', ['gate_decay', 'default_constructor'])
def test_upstream_behaviour_is_one_option_away(upstream_cfg, opt_out):
    wd = upstream_cfg.optim_wrapper.optimizer.weight_decay
    if opt_out == 'gate_decay':
        upstream_cfg.optim_wrapper['paramwise_cfg'] = dict(gate_decay=True)
        assert use_gated_optim_constructor(upstream_cfg)
    else:
        upstream_cfg.optim_wrapper['constructor'] = 'DefaultOptimWrapperConstructor'
        assert not use_gated_optim_constructor(upstream_cfg)
    model = _model()
    decay = _decay_of(model, build_optim_wrapper(model, upstream_cfg.optim_wrapper))
    assert decay['2.kappa'] == wd and decay['4.lambda_'] == wd


def test_config_keys_win_and_bad_option_is_refused(upstream_cfg):
    upstream_cfg.optim_wrapper['paramwise_cfg'] = dict(
        custom_keys={'.kappa': dict(decay_mult=0.5)})
    use_gated_optim_constructor(upstream_cfg)
    model = _model()
    decay = _decay_of(model, build_optim_wrapper(model, upstream_cfg.optim_wrapper))
    wd = upstream_cfg.optim_wrapper.optimizer.weight_decay
    assert decay['2.kappa'] == pytest.approx(0.5 * wd) and decay['2.lambda_'] == 0.0
    upstream_cfg.optim_wrapper['paramwise_cfg'] = dict(gate_decay='yes')
    with pytest.raises(TypeError, match='gate_decay must be True or False'):
        build_optim_wrapper(model, upstream_cfg.optim_wrapper)
