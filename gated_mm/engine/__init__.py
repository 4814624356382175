"""Runtime helpers (hooks) used by the shared runtime base ``configs/_base_/default_runtime.py``."""
from .progress_bar_hook import ProgressBarHook

__all__ = ['ProgressBarHook']
