"""Learned activations, registered in mmengine's root ``MODELS`` (usable from any scope)."""
from .apa import AGLU, APA, aglu, apa

__all__ = ['APA', 'AGLU', 'apa', 'aglu']
