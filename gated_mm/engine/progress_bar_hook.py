"""A progress bar over the validation / test batches.

mmengine's ``LoggerHook`` already prints ``Epoch(train) [e][i/N] ... eta: h:mm:ss`` every
``interval`` training iterations (and the same with ``Epoch(val)`` / ``Epoch(test)``); it has no
bar. This hook draws mmengine's own :class:`mmengine.utils.ProgressBar` (completed/total,
batches per second, elapsed, ETA) while a validation or test loop runs, on the main process
only, and closes it with a newline before the metrics are logged.
"""
import sys

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.utils import ProgressBar


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Show a progress bar during validation and testing.

    Registered in mmengine's root ``HOOKS``, so every scope (``mmpretrain``, ``mmdet``) finds it.

    Args:
        val (bool): draw it in validation loops. Default True.
        test (bool): draw it in test loops. Default True.
        bar_width (int): width of the bar in characters. Default 30.

    The bar is written to ``sys.stderr`` (the log file gets the metrics, not the bar).
    """

    priority = 'VERY_LOW'

    def __init__(self, val: bool = True, test: bool = True, bar_width: int = 30):
        self.enabled = dict(val=bool(val), test=bool(test))
        self.bar_width = int(bar_width)
        self._bar = None

    def _start(self, runner, mode):
        self._bar = None
        if not self.enabled[mode] or not is_main_process():
            return
        loop = runner.val_loop if mode == 'val' else runner.test_loop
        try:
            total = len(loop.dataloader)
        except TypeError:  # an iterable dataset without a length
            total = 0
        self._bar = ProgressBar(total, bar_width=self.bar_width, file=sys.stderr)

    def _update(self):
        if self._bar is not None:
            self._bar.update()

    def _end(self):
        if self._bar is not None:
            self._bar.file.write('\n')
            self._bar.file.flush()
            self._bar = None

    def before_val_epoch(self, runner) -> None:
        self._start(runner, 'val')

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._update()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._end()

    def before_test_epoch(self, runner) -> None:
        self._start(runner, 'test')

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._update()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._end()
