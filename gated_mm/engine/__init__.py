"""Runner-level checks of gated_mm (checkpoint loading, finite loss)."""
from .checkpoint_check import CheckpointMismatchError, check_checkpoint_matches
from .finite_loss import (FiniteLossHook, NonFiniteLossError, add_finite_loss_hook,
                          first_nonfinite_module)

__all__ = ['CheckpointMismatchError', 'check_checkpoint_matches', 'FiniteLossHook',
           'first_nonfinite_module', 'NonFiniteLossError', 'add_finite_loss_hook']
