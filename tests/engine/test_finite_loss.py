"""FiniteLossHook: a NaN loss stops the run naming the iteration and the first module."""
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.model import BaseModel
from torch import nn

from gated_mm.engine import FiniteLossHook


class _Tiny(BaseModel):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(3, 4)
        self.head = nn.Linear(4, 1)

    def forward(self, inputs, mode='loss'):
        return {'loss': self.head(torch.log(self.stem(inputs))).mean()}


def test_nan_loss_raises_with_iteration_and_first_nonfinite_module():
    model = _Tiny()
    with torch.no_grad():
        model.stem.weight.fill_(-1.0)  # log of a negative number: NaN from stem onward
        model.stem.bias.zero_()
    batch = {'inputs': torch.ones(2, 3)}
    runner = SimpleNamespace(model=model, iter=6)
    loss = model(**batch)['loss']
    assert math.isnan(loss.item())
    hook = FiniteLossHook()
    with pytest.raises(RuntimeError, match=r'^loss is nan at iteration 7; first non-finite: '
                       r'output of head \(Linear\)'):
        hook.after_train_iter(runner, 0, batch, {'loss': loss})
    with torch.no_grad():
        model.head.weight.fill_(float('inf'))
    with pytest.raises(RuntimeError, match='first non-finite: parameter head.weight'):
        hook.after_train_iter(runner, 0, batch, {'loss': loss})
    hook.after_train_iter(runner, 0, batch, {'loss': torch.tensor(1.0)})  # finite: nothing


def test_train_adds_the_hook_once_unless_opted_out():
    from mmengine.config import Config

    from gated_mm.engine import add_finite_loss_hook
    cfg = Config(dict(custom_hooks=[dict(type='EMAHook')]))
    add_finite_loss_hook(cfg)
    add_finite_loss_hook(cfg)
    assert [h['type'] for h in cfg.custom_hooks] == ['EMAHook', 'FiniteLossHook']
    off = Config(dict(check_finite_loss=False))
    add_finite_loss_hook(off)
    assert 'custom_hooks' not in off
