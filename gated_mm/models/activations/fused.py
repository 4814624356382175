"""Fused kernels of the gated activations: eager maths, or the same maths ``torch.compile``'d.

Each op (APA/AGLU, IIEU) writes its forward and backward as plain torch functions (the exact
equations, differentiable, used as they are in eager mode) and runs them through one
:class:`FusedKernels`, which compiles each into one fused kernel with dynamic shapes.

``GATED_MM_COMPILE`` (environment; the ``mode`` attribute at run time):

* ``auto`` (default): compile on first use for CPU/CUDA tensors; if compilation fails (e.g.
  no C++ compiler), warn once and use the eager maths from then on;
* ``0`` (``false``/``off``/``no``): always eager;
* ``1`` (``true``/``on``/``yes``): compile and raise on failure.

Eager always runs under grad mode (double backward, ``create_graph=True``), inside an outer
``torch.compile`` (which fuses the maths itself) and on other devices. Eager costs several
passes over memory; measured costs of both: ``docs/benchmarks.md``.
"""
import os
import warnings
from typing import Callable, Dict

import torch

_OFF = ('0', 'false', 'off', 'no')
_STRICT = ('1', 'true', 'on', 'yes')


def compile_options() -> dict:
    """Inductor options of the fused kernels: multiply-adds contracted into FMA instructions
    in the generated C++ (``-ffp-contract=fast``; inductor's default is ``off``). One rounding
    instead of two, so never less accurate; polynomials and gradient sums run ~1.2-1.5x faster
    on CPU. Only set where this torch's inductor has the option (CUDA ignores it)."""
    try:
        from torch._inductor import config
        if hasattr(config.cpp, 'enable_floating_point_contract_flag'):
            return {'cpp.enable_floating_point_contract_flag': 'fast'}
    except Exception:  # noqa: BLE001 - no inductor: compilation fails later, eager fallback
        pass
    return {}


class FusedKernels:
    """Run ``maths[name](*args)`` eagerly or as its compiled kernel (see the module doc).

    Args:
        op: the op's name, for the warning on a compiler failure (e.g. ``'APA/AGLU'``).
        maths: name → function of tensors and Python constants.
    """

    def __init__(self, op: str, maths: Dict[str, Callable]):
        self.op = op
        self.maths = maths
        self.mode = os.environ.get('GATED_MM_COMPILE', 'auto').lower()
        self._compiled = None
        self._failed = False

    def use_compiled(self, t: torch.Tensor) -> bool:
        return (self.mode not in _OFF and not self._failed
                and t.device.type in ('cpu', 'cuda') and not torch.compiler.is_compiling()
                and not torch.is_grad_enabled())

    def run(self, name: str, *args):
        eager = self.maths[name]
        if not self.use_compiled(args[0]):
            return eager(*args)
        if self._compiled is None:
            self._compiled = {k: torch.compile(f, dynamic=True, options=compile_options())
                              for k, f in self.maths.items()}
        try:
            return self._compiled[name](*args)
        except Exception as exc:  # noqa: BLE001 - any compiler failure means: use eager
            if self.mode in _STRICT:
                raise
            self._failed = True
            warnings.warn(f'gated_mm: torch.compile of the {self.op} kernels failed '
                          f'({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); using the '
                          f'eager kernels (slower). Set GATED_MM_COMPILE=0 to silence this.')
            return eager(*args)
