"""Runner-level pieces of gated_mm, hooks registered in mmengine's root ``HOOKS``: the
progress bar of the shared runtime base ``configs/_base_/default_runtime.py``, the finite-loss
check added by ``tools/train.py``, the epoch setter of epoch-scheduled losses (LDAM-DRW), and
the checkpoint check of ``tools/test.py``."""
from .checkpoint_check import CheckpointMismatchError, check_checkpoint_matches
from .finite_loss import (FiniteLossHook, NonFiniteLossError, add_finite_loss_hook,
                          first_nonfinite_module)
from .hooks import SetEpochHook
from .progress_bar_hook import ProgressBarHook

__all__ = ['CheckpointMismatchError', 'check_checkpoint_matches', 'FiniteLossHook',
           'first_nonfinite_module', 'NonFiniteLossError', 'add_finite_loss_hook',
           'ProgressBarHook', 'SetEpochHook']
