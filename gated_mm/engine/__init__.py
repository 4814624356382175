"""Training hooks, registered in mmengine's root ``HOOKS``."""
from .hooks import SetEpochHook

__all__ = ['SetEpochHook']
