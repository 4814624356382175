"""Learned activations, registered in mmengine's root ``MODELS`` (usable from any scope).

The fused kernels and nodes behind them have one public seam: :func:`kernel_mode` (eager or
compiled kernels), :func:`fusion` (fused or unfused nodes) and the predicates
:func:`norm_act_fusion` and :func:`residual_fusable` (where a node fuses). No submodule is
shadowed by a name exported here.
"""
from .adashift import AdaShiftB, AdaShiftMA
from .apa_aglu import AGLU, APA, aglu, apa
from .fused import KERNEL_MODES, kernel_mode
from .fusion_policy import fusion, norm_act_fusion, residual_fusable
from .iieu import IIEU, DynamicCoupler, iieu_b, patch_sq_norm

__all__ = [
    'APA', 'AGLU', 'apa', 'aglu', 'IIEU', 'DynamicCoupler', 'iieu_b', 'patch_sq_norm',
    'AdaShiftB', 'AdaShiftMA', 'KERNEL_MODES', 'kernel_mode', 'fusion', 'norm_act_fusion',
    'residual_fusable'
]
