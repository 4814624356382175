"""Attention blocks with a configurable gate, registered in mmengine's root ``MODELS``."""
from .se import GatedSE

__all__ = ['GatedSE']
