"""Learned activations, registered in mmengine's root ``MODELS`` (usable from any scope)."""
from .adashift import AdaShiftB, AdaShiftMA
from .apa import AGLU, APA, aglu, apa
from .iieu import IIEU, DynamicCoupler, iieu_b, patch_sq_norm

__all__ = [
    'APA', 'AGLU', 'apa', 'aglu', 'IIEU', 'DynamicCoupler', 'iieu_b', 'patch_sq_norm',
    'AdaShiftB', 'AdaShiftMA'
]
