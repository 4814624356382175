"""Runner-level pieces of gated_mm: hooks used by the shared runtime base
``configs/_base_/default_runtime.py`` and by ``tools/train.py``, and the checkpoint check of
``tools/test.py``."""
from .checkpoint_check import CheckpointMismatchError, check_checkpoint_matches
from .finite_loss import (FiniteLossHook, NonFiniteLossError, add_finite_loss_hook,
                          first_nonfinite_module)
from .progress_bar_hook import ProgressBarHook

__all__ = ['CheckpointMismatchError', 'check_checkpoint_matches', 'FiniteLossHook',
           'first_nonfinite_module', 'NonFiniteLossError', 'add_finite_loss_hook',
           'ProgressBarHook']
