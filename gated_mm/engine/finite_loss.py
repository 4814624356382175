"""Stop training when the loss becomes NaN/Inf, naming the iteration and the first module
whose output is not finite (instead of training NaN to the end with exit status 0)."""
import math
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


def first_nonfinite_module(model: torch.nn.Module, data_batch) -> Optional[str]:
    """Name (and type) of the first parameter or, re-running the loss forward on
    ``data_batch`` without gradients, the first module output that is not finite; None if
    every output is finite (the non-finite value then arose in backward/the optimizer)."""
    if is_model_wrapper(model):
        model = model.module
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            return f'parameter {name}'
    found = []

    def check(mod, _inp, out):
        tensors = out if isinstance(out, (tuple, list)) else [out]
        if not found and any(isinstance(t, torch.Tensor) and t.is_floating_point()
                             and not torch.isfinite(t).all() for t in tensors):
            found.append(f'output of {names[mod]} ({type(mod).__name__})')

    names = {m: n or '<model>' for n, m in model.named_modules()}
    handles = [m.register_forward_hook(check) for m in names]
    try:
        with torch.no_grad():
            data = model.data_preprocessor(data_batch, True)
            model(**data, mode='loss') if isinstance(data, dict) else model(*data, mode='loss')
    finally:
        for h in handles:
            h.remove()
    return found[0] if found else None


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN/Inf (raised by :class:`FiniteLossHook`)."""


def add_finite_loss_hook(cfg) -> None:
    """Append ``FiniteLossHook`` to ``cfg.custom_hooks`` unless it is there or the config
    sets ``check_finite_loss=False`` (the opt-out)."""
    if not cfg.get('check_finite_loss', True):
        return
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') in ('FiniteLossHook', FiniteLossHook) for h in hooks):
        hooks.append(dict(type='FiniteLossHook'))
    cfg.custom_hooks = hooks


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` at the first training iteration whose loss is NaN/Inf.

    The one-line message names the iteration (1-based) and :func:`first_nonfinite_module`.
    Args:
        interval (int): check every ``interval`` iterations (1: every one).
    """
    priority = 'VERY_LOW'

    def __init__(self, interval: int = 1):
        self.interval = interval

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not outputs or 'loss' not in outputs or not self.every_n_train_iters(
                runner, self.interval):
            return
        loss = outputs['loss']
        loss = float(loss.detach() if hasattr(loss, 'detach') else loss)
        if math.isfinite(loss):
            return
        where = first_nonfinite_module(runner.model, data_batch)
        raise NonFiniteLossError(
            f'loss is {loss} at iteration {runner.iter + 1}; first non-finite: '
            f'{where or "none in the forward (backward or optimizer step)"}. Lower the learning '
            'rate, check the inputs/initial values, or enable gradient clipping')
