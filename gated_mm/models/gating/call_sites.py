r"""Call sites of activations: one unit per call, for module and functional activations.

A *call site* is one call of an activation inside one forward of the converted model, in call
order. A ``self.relu`` module that a ResNet bottleneck calls three times is three call sites;
``F.relu(x)`` written in a head's ``forward`` is one call site per time that line runs (the
RPN head's ``forward_single`` runs once per pyramid level: one site per level).

* :class:`CallSites` replaces an activation *module*: it holds one unit per call and hands the
  i-th call of a forward to ``units[i]``.
* Functional calls (``F.relu``, ``torch.sigmoid``, ``Tensor.relu``, ... listed per activation
  class in :data:`FUNCTIONAL`) are intercepted with a :class:`torch.overrides.TorchFunctionMode`
  that is active only while an *owner* runs (a module whose own ``forward`` makes such calls,
  found at build time), and handed to the owner's ``CallSites`` child of that function.

Call counters are reset by a forward pre-hook of the converted model; a unit is
``units[count % n]``, so a ``torch.utils.checkpoint`` recompute (``with_cp=True``), which
calls a block's activations again in the same order during backward, reaches the same units.
After each forward of the converted model every ``CallSites`` must have been called exactly
``n`` times (as when it was built); otherwise the forward raises (data-dependent control flow:
see :func:`check_counts`).
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

#: activation class name → the torch functions that compute it when called directly.
FUNCTIONAL: Dict[str, tuple] = {
    'ReLU': (F.relu, F.relu_, torch.relu, torch.relu_, Tensor.relu, Tensor.relu_),
    'ReLU6': (F.relu6, ),
    'SiLU': (F.silu, ),
    'GELU': (F.gelu, ),
    'Sigmoid': (torch.sigmoid, F.sigmoid, Tensor.sigmoid, torch.sigmoid_, Tensor.sigmoid_),
    'Hardsigmoid': (F.hardsigmoid, ),
    'Hardswish': (F.hardswish, ),
    'Tanh': (torch.tanh, F.tanh, Tensor.tanh),
    'LeakyReLU': (F.leaky_relu, ),
    'ELU': (F.elu, ),
    'Mish': (F.mish, ),
}
_FUNC_TO_NAME = {f: name for name, funcs in FUNCTIONAL.items() for f in funcs}
_in_new = [0]  # > 0 while a unit or inserted block runs: its own calls are never call sites


class added_code:
    """Context: code that conversion added (a unit, an inserted block) runs inside; functional
    activations it calls are not intercepted (they are not call sites of the original)."""

    def __enter__(self):
        _in_new[0] += 1

    def __exit__(self, *exc):
        _in_new[0] -= 1


def functional_name(func) -> Optional[str]:
    """The activation class name of a torch function (``F.relu`` → ``'ReLU'``), or None."""
    try:
        return _FUNC_TO_NAME.get(func)
    except TypeError:  # unhashable callables are never activations
        return None


class CallSites(nn.Module):
    """One unit per call site of a replaced activation; call ``i % n`` goes to ``units[i % n]``.

    Args:
        units: the ``n`` replacement units, in call order.
        original: name of the activation class replaced (for the repr and the report).

    Shape: whatever the units take; only the first positional argument is passed on (the
    activation's input; an in-place flag or a functional's extra arguments such as
    ``inplace=True`` are dropped: the result is always a new tensor).
    """

    def __init__(self, units: Sequence[nn.Module], original: str):
        super().__init__()
        self.units = nn.ModuleList(units)
        self.original = original
        self.calls = 0

    def forward(self, x: Tensor, *args, **kwargs) -> Tensor:
        unit = self.units[self.calls % len(self.units)]
        self.calls += 1
        with added_code():
            return unit(x)

    def extra_repr(self) -> str:
        return f'replaces {self.original}, {len(self.units)} call site(s)'


class Probe(nn.Module):
    """Build-time stand-in for an activation module: runs it and counts its calls."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.calls = 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.module(*args, **kwargs)


class _Intercept(TorchFunctionMode):
    """Routes the named functional activations of the running owner to its ``CallSites``."""

    def __init__(self, tracker: 'FunctionalSites'):
        super().__init__()
        self.tracker = tracker

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = functional_name(func)
        if name is not None and self.tracker.stack and not _in_new[0]:
            owner = self.tracker.stack[-1]
            attr = self.tracker.attr_of(owner, name)
            if attr is not None:
                return getattr(owner, attr)(args[0])
        return func(*args, **kwargs)


class FunctionalSites:
    """Keeps the stack of running owners and the interception mode of one converted model.

    Owners get a forward pre-hook (push) and an always-called forward hook (pop); the mode is
    entered when the first owner starts and left when it returns, so code outside the owners
    runs without any interception. Owners whose functional calls must *not* be replaced (an
    un-replaced activation module such as mmcv's ``Swish`` calling ``torch.sigmoid``) are
    pushed too, with no ``CallSites``, so their calls pass through. An owner keeps the
    ``CallSites`` of activation ``name`` as its child :meth:`attr_name` (``gated_relu``).
    """

    def __init__(self):
        self.stack: List[nn.Module] = []
        self._mode: Optional[_Intercept] = None

    @staticmethod
    def attr_name(name: str) -> str:
        """The owner's child holding the call sites of functional activation ``name``."""
        return f'gated_{name.lower()}'

    def attr_of(self, owner: nn.Module, name: str) -> Optional[str]:
        attr = self.attr_name(name)
        return attr if isinstance(getattr(owner, attr, None), CallSites) else None

    def watch(self, module: nn.Module) -> None:
        module.register_forward_pre_hook(self.push)
        module.register_forward_hook(self.pop, always_call=True)

    def push(self, module, args):
        self.stack.append(module)
        if len(self.stack) == 1:
            self._mode = _Intercept(self)
            self._mode.__enter__()

    def pop(self, module, args, out):
        if self.stack:
            self.stack.pop()
        if not self.stack and self._mode is not None:
            mode, self._mode = self._mode, None
            mode.__exit__(None, None, None)


class Recorder(TorchFunctionMode):
    """Build-time: counts named functional activations per innermost running module.

    ``counts[(module_name, activation_name)]`` is the number of calls; calls made inside a
    parameter-free leaf module (an activation module's own implementation, e.g. ``nn.ReLU``
    calling ``F.relu``) are left out and that module is listed in ``leaves``.
    """

    def __init__(self, model: nn.Module, names: Sequence[str]):
        super().__init__()
        self.names = set(names)
        self.path = {id(m): n for n, m in model.named_modules()}
        self.stack: List[nn.Module] = []
        self.counts: Dict[tuple, int] = {}
        self.leaves: Dict[str, nn.Module] = {}
        self._handles = []
        for m in model.modules():
            self._handles.append(m.register_forward_pre_hook(self._push))
            self._handles.append(m.register_forward_hook(self._pop, always_call=True))

    def _push(self, module, args) -> None:
        self.stack.append(module)

    def _pop(self, module, args, out) -> None:
        self.stack.pop()

    def remove(self):
        for h in self._handles:
            h.remove()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = functional_name(func)
        if name in self.names and self.stack:
            owner = self.stack[-1]
            path = self.path.get(id(owner))
            if path is not None and not isinstance(owner, (Probe, CallSites)):
                if is_activation_module(owner):
                    self.leaves[path] = owner
                else:
                    self.counts[(path, name)] = self.counts.get((path, name), 0) + 1
        return func(*args, **(kwargs or {}))


def is_activation_module(m: nn.Module) -> bool:
    """A parameter-free module without children (an activation's implementation)."""
    return next(iter(m.children()), None) is None and next(iter(m.parameters()), None) is None


def reset_counts(model: nn.Module, *args) -> None:
    """Forward pre-hook of the converted model: every ``CallSites`` counts from 0."""
    for m in model.modules():
        if isinstance(m, CallSites):
            m.calls = 0


def check_counts(model: nn.Module, args, out) -> None:
    """Forward hook of the converted model: each ``CallSites`` ran exactly ``n`` times.

    Raises:
        RuntimeError: a site ran a different number of times than when it was built (control
            flow that depends on the data or on the input size, e.g. a loop over a variable
            number of levels): its units would not match the call sites they were made for.
    """
    for name, m in model.named_modules():
        if isinstance(m, CallSites) and m.calls != len(m.units):
            raise RuntimeError(
                f'Gated: {name or type(model).__name__} ({m.original}) was called {m.calls} '
                f'times in this forward, {len(m.units)} times at build; one unit per call site '
                'needs the same calls every forward (data-dependent control flow cannot be '
                'converted; build with input_shape= matching the input structure)')
