"""Fused kernels of the gated activations: eager maths, or the same maths ``torch.compile``'d.

Each op (APA/AGLU, the BatchNorm → APA/AGLU node, the residual node, IIEU) writes its forward
and backward as plain torch functions (the exact equations, differentiable, used as they are
in eager mode) and runs them through one :class:`FusedKernels`, which compiles each into one
fused kernel with dynamic shapes.

Kernel mode: ``GATED_MM_COMPILE`` (environment, read at import) or, at run time, the context
manager :func:`kernel_mode` (``gated_mm.models.activations.kernel_mode``):

* ``'auto'`` (default): compile on first use for CPU/CUDA tensors; if compilation fails (e.g.
  no C++ compiler), warn once and use the eager maths from then on;
* ``'eager'`` (``GATED_MM_COMPILE=0``/``false``/``off``/``no``): always eager;
* ``'compiled'`` (``GATED_MM_COMPILE=1``/``true``/``on``/``yes``): compile, raise on failure.

Eager always runs under grad mode (double backward, ``create_graph=True``), inside an outer
``torch.compile`` (which fuses the maths itself) and on other devices. Eager costs several
passes over memory; measured costs of both: ``docs/benchmarks.md``.

Recompilations: each kernel is compiled once per class of inputs that its guards separate
(dimension count, which dimensions are 1, dtype, Python constants such as APA vs AGLU), so one
CBAM-APA + AGLU network already needs about ten graphs of the same APA kernel (4-D maps, the
(N, C, 1, 1) channel gate, the (N, 1, H, W) spatial gate, float32 and float64, ...).
``torch._dynamo``'s default of 8 per function would silently run every further class eagerly
(several times slower; the warning "hit config.recompile_limit (8)"). On the first compile,
:data:`RECOMPILE_LIMIT` raises ``torch._dynamo.config.recompile_limit`` to 64 where it is
lower. The setting is process-wide: it only allows more recompilations and never changes
results.

Also here, shared by the autograd Functions of those ops: :func:`reduce_to` (a broadcast
gradient summed back to a parameter's shape) and :class:`FunctionInputs` (a Function's inputs
named once, by its ``forward`` signature).
"""
import contextlib
import inspect
import os
import warnings
from typing import Callable, Dict, Iterator, List, Optional

import torch
from torch import Tensor

#: Kernel modes, and the ``GATED_MM_COMPILE`` spellings of each.
KERNEL_MODES = ('eager', 'auto', 'compiled')
_SPELLINGS = {'0': 'eager', 'false': 'eager', 'off': 'eager', 'no': 'eager',
              '1': 'compiled', 'true': 'compiled', 'on': 'compiled', 'yes': 'compiled'}

_mode_override: List[str] = []  # the innermost kernel_mode(), if any

#: ``torch._dynamo.config.recompile_limit`` set (if lower) when a kernel first compiles.
RECOMPILE_LIMIT = 64


def _raise_recompile_limit() -> None:
    try:
        from torch._dynamo import config
    except Exception:  # noqa: BLE001 - no dynamo: compilation fails later, eager fallback
        return
    for name in ('recompile_limit', 'cache_size_limit'):  # new name, and older torch's
        value = getattr(config, name, None)
        if isinstance(value, int) and value < RECOMPILE_LIMIT:
            setattr(config, name, RECOMPILE_LIMIT)


def _parse_mode(mode: str) -> str:
    """A mode or ``GATED_MM_COMPILE`` spelling → one of :data:`KERNEL_MODES`; any other
    value means ``'auto'`` (as the environment variable always did)."""
    mode = str(mode).lower()
    return mode if mode in KERNEL_MODES else _SPELLINGS.get(mode, 'auto')


@contextlib.contextmanager
def kernel_mode(mode: str) -> Iterator[None]:
    """Run every fused kernel (APA/AGLU, both fused nodes, IIEU) in ``mode`` inside the block.

    Args:
        mode: ``'eager'``, ``'auto'`` or ``'compiled'`` (see the module docstring); overrides
            ``GATED_MM_COMPILE``. Nested blocks: the innermost wins.

    Raises:
        ValueError: any other ``mode``.
    """
    if mode not in KERNEL_MODES:
        raise ValueError(f"kernel_mode: mode must be one of {KERNEL_MODES}, got {mode!r}")
    _mode_override.append(mode)
    try:
        yield
    finally:
        _mode_override.pop()


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

    Attributes:
        mode: this op's own mode (from ``GATED_MM_COMPILE``; a :func:`kernel_mode` block
            overrides it); set with a mode or a ``GATED_MM_COMPILE`` spelling.
        compiled: whether the compiled kernels have been built (a compiled run was tried).
        failed: whether compilation failed in ``'auto'`` mode (eager from then on).
    """

    def __init__(self, op: str, maths: Dict[str, Callable]):
        self.op = op
        self.maths = maths
        self.mode = os.environ.get('GATED_MM_COMPILE', 'auto')
        self._compiled = None
        self._failed = False

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str):
        self._mode = _parse_mode(value)

    @property
    def compiled(self) -> bool:
        return self._compiled is not None

    @property
    def failed(self) -> bool:
        return self._failed

    def active_mode(self) -> str:
        """The mode in force: the innermost :func:`kernel_mode`, else :attr:`mode`."""
        return _mode_override[-1] if _mode_override else self._mode

    def use_compiled(self, t: torch.Tensor) -> bool:
        return (self.active_mode() != 'eager' and not self._failed
                and t.device.type in ('cpu', 'cuda') and not torch.compiler.is_compiling()
                and not torch.is_grad_enabled())

    def run(self, name: str, *args):
        eager = self.maths[name]
        if not self.use_compiled(args[0]):
            return eager(*args)
        if self._compiled is None:
            _raise_recompile_limit()
            self._compiled = {k: torch.compile(f, dynamic=True, options=compile_options())
                              for k, f in self.maths.items()}
        try:
            return self._compiled[name](*args)
        except Exception as exc:  # noqa: BLE001 - any compiler failure means: use eager
            if self.active_mode() == 'compiled':
                raise
            self._failed = True
            warnings.warn(f'gated_mm: torch.compile of the {self.op} kernels failed '
                          f'({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); using the '
                          f'eager kernels (slower). Set GATED_MM_COMPILE=0 to silence this.')
            return eager(*args)


def reduce_to(grad: Tensor, shape) -> Tensor:
    """Sum a broadcast gradient back to ``shape`` (the adjoint of broadcasting ``shape`` to
    ``grad.shape``): leading extra dims and dims where ``shape`` has size 1 are summed in one
    reduction. Same reduction as ATen's ``sum_to`` (``Tensor.sum_to_size``)."""
    extra = grad.dim() - len(shape)
    dims = list(range(extra)) + [
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1]
    if not dims:
        return grad
    out = grad.sum(dim=dims, keepdim=True)
    return out.reshape(shape) if extra else out


class FunctionInputs:
    """The positional inputs of an autograd Function, named once: by its ``forward``
    signature (after ``ctx``). ``Function.apply`` takes positions and ``backward`` returns one
    gradient per position; this maps names to both, so adding an input edits the signature
    (and the call and gradient that name it), nothing is renumbered.

    Args:
        forward: the Function's ``forward(ctx, ...)``.
    """

    def __init__(self, forward: Callable):
        self.names = tuple(inspect.signature(forward).parameters)[1:]
        self._index = {n: i for i, n in enumerate(self.names)}

    def _check(self, names):
        unknown = [n for n in names if n not in self._index]
        if unknown:
            raise TypeError(f'unknown input(s) {unknown}; the inputs are {self.names}')

    def args(self, **values) -> tuple:
        """``values`` (every input, by name) in ``forward``'s order, for ``Function.apply``."""
        self._check(values)
        missing = [n for n in self.names if n not in values]
        if missing:
            raise TypeError(f'missing input(s) {missing}; the inputs are {self.names}')
        return tuple(values[n] for n in self.names)

    def needs(self, ctx, *names: str) -> List[bool]:
        """``ctx.needs_input_grad`` of the named inputs, in the order given."""
        return [ctx.needs_input_grad[self._index[n]] for n in names]

    def grads(self, **grads: Optional[Tensor]) -> tuple:
        """The tuple ``backward`` returns: the named gradients in place, None elsewhere."""
        self._check(grads)
        return tuple(grads.get(n) for n in self.names)
