"""Runner-level checks of gated_mm (checkpoint loading)."""
from .checkpoint_check import CheckpointMismatchError, check_checkpoint_matches

__all__ = ['CheckpointMismatchError', 'check_checkpoint_matches']
