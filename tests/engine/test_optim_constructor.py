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


def test_paramwise_options_are_summarised_in_one_info_line(upstream_cfg, tmp_path):
    """mmengine's one INFO line per parameter and option becomes one INFO summary (what got
    which decay); the per-parameter lines are still there at DEBUG."""
    from mmengine.logging import MMLogger
    wd = upstream_cfg.optim_wrapper.optimizer.weight_decay
    use_gated_optim_constructor(upstream_cfg)
    model = _model()
    for level in ('INFO', 'DEBUG'):
        log_file = tmp_path / f'{level}.log'
        MMLogger.get_instance(f'gated_mm_test_paramwise_{level}', log_file=str(log_file),
                              log_level=level)
        build_optim_wrapper(model, upstream_cfg.optim_wrapper)
        for handler in MMLogger.get_current_instance().handlers:
            handler.flush()
        lines = log_file.read_text().splitlines()
        per_param = [line for line in lines if 'paramwise_options -- ' in line]
        summary = [line for line in lines if 'paramwise options of ' in line]
        assert len(summary) == 1, lines
        if level == 'INFO':
            assert per_param == []
        else:  # one line per parameter and option: lr, weight_decay, decay_mult of κ, λ ...
            assert len(per_param) > len(list(model.parameters()))
            assert all(' - DEBUG - ' in line for line in per_param), per_param[:2]
    text = summary[0].split('paramwise options of ', 1)[1]
    assert text.startswith('4 of 10 trainable parameter tensors')
    # κ and λ of the two gates: no decay; the other tensors got no option (optimizer default)
    lr = upstream_cfg.optim_wrapper.optimizer.lr
    assert f'decay_mult=0.0, lr={lr}, weight_decay=0.0: 4 (kappa 2, lambda_ 2)' in text, text
    assert text.endswith(f"; the other 6: the optimizer's lr={lr}, weight_decay={wd}"), text
