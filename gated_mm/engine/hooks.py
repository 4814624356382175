"""Hooks for epoch-dependent modules (deferred re-weighting, Cao et al., NeurIPS 2019)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['SetEpochHook']


@HOOKS.register_module()
class SetEpochHook(Hook):
    """Call ``set_epoch(runner.epoch)`` on every model sub-module that has it, before each
    training epoch (e.g. :class:`~gated_mm.models.losses.LDAMLoss` with ``drw_epoch``).

    Example:
        >>> custom_hooks = [dict(type='SetEpochHook')]
    """
    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        for module in model.modules():
            if module is not model and callable(getattr(module, 'set_epoch', None)):
                module.set_epoch(runner.epoch)
