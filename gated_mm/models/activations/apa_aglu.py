r"""APA and AGLU: Adaptive Parametric Activation (Alexandridis et al., ECCV 2024).

APA, the gate (replaces Sigmoid), paper Eq. (4)::

    η(z; κ, λ) = (λ·exp(−κ z) + 1)^(−1/λ)

AGLU, the unit (replaces ReLU), paper Eq. (5)::

    AGLU(z) = z · η(z; κ, λ)

λ = κ = 1 gives Sigmoid and SiLU; λ → 0⁺, κ = 1 gives the Gumbel gate exp(−exp(−z)).

Both are evaluated in log space, never forming λ·exp(−κz)::

    u = log λ − κ z,   s = softplus(u),   η = exp(−s / λ)

and differentiated exactly (chain rule on the log-space form), with σ = sigmoid(u)
and s both obtained from the one exponential exp(−|u|) (see :func:`backward_math`)::

    ∂η/∂z = η κ σ / λ        ∂η/∂κ = η z σ / λ        ∂η/∂λ = η (s − σ) / λ²

The autograd function saves only the input (and the two parameters) and recomputes the
intermediates in backward, so the saved-tensor memory equals one input, as for a native
activation. Forward and backward each run as one fused ``torch.compile`` kernel with dynamic
shapes when available (see :mod:`.fused`; :func:`~.fused.kernel_mode` ``('eager')`` or
``GATED_MM_COMPILE=0`` for eager). Inside those
kernels log1p(exp(−|u|)) is a degree-9 polynomial (:func:`_log1p_poly`, float32 error ≤ 1.8e-7
relative, as ``torch.log1p``) for float32 and lower precisions, and ``torch.log1p`` for
float64, so every path is float64-accurate for a float64 caller; the multiply-adds are
FMA-contracted; eager mode uses ``torch.log1p``. The eager backward is written in
differentiable torch ops, so double backward (``gradgradcheck``) works.

λ is clamped to ``lambda_min`` (default 1e-4, as the public code) at use time; below the
floor the gradient w.r.t. λ is zero.

Deviation from the public code: its hand-written AGLU backward gets ∂/∂λ wrong (drops the
s/λ² term); here every gradient is exact. Under autocast the computation runs in float32
(float64 inputs stay float64) and the result is cast back to the input dtype.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor, nn

from .fused import FunctionInputs, FusedKernels, reduce_to

InitRange = Union[float, Tuple[float, float], Sequence[float]]


# log1p(e) = e·P(e) on [0, 1]: P of degree 9, fitted to log1p(e)/e by iteratively reweighted
# least squares on 4,000 Chebyshev points of [0, 1] (towards minimax relative error).
# Approximation error 4.7e-9 relative; evaluated in float32 with the kernels' FMAs, at most
# 1.8e-7 relative on [0, 1] (float32 torch.log1p: 2.0e-7, same measurement; tested).
_LOG1P_COEFFS = (0.9999999952873893, -0.499999024136771, 0.33329962110689326,
                 -0.2495413023261494, 0.19675920821431162, -0.15305537716735212,
                 0.10603559811878156, -0.05695857853839337, 0.01985094582076524,
                 -0.003243909084542034)


def _log1p_poly(e: Tensor) -> Tensor:
    """log1p(e) for e in [0, 1] as a polynomial (Horner), no transcendental.

    Inside a fused kernel this costs ten multiply-adds, where a vectorised ``log1p`` costs
    about three exponentials (measured on a 2-core CPU: the AGLU forward kernel 7.8 → 5.0 ms
    at 32×256×28×28 together with the reciprocal below). Only valid on [0, 1].
    """
    c = _LOG1P_COEFFS
    p = e * c[9] + c[8]
    for coeff in c[7::-1]:
        p = p * e + coeff
    return e * p


def _log1p_unit(e: Tensor) -> Tensor:
    """log1p(e), e in [0, 1]: the polynomial when traced into a fused kernel of float32 (or
    lower) precision, ``torch.log1p`` in eager mode (where each polynomial step would be one
    more pass over memory) and in float64 (the polynomial is float32-accurate only: 4.7e-9
    relative, so a float64 caller gets the exact log1p from every path)."""
    if torch.compiler.is_compiling() and e.dtype != torch.float64:
        return _log1p_poly(e)
    return torch.log1p(e)


def _softplus(u: Tensor) -> Tensor:
    """softplus(u) = max(u, 0) + log1p(exp(−|u|)) in a fused kernel (polynomial log1p in
    float32, exact log1p in float64); eager: ``F.softplus``, one pass over memory instead of
    six."""
    if torch.compiler.is_compiling():
        return torch.clamp_min(u, 0) + _log1p_unit(torch.exp(-u.abs()))
    return F.softplus(u)


def forward_math(z: Tensor, kappa: Tensor, lambda_: Tensor, unit: bool) -> Tensor:
    """η (or z·η) with s = softplus(u), η = exp(−s · (1/λ))."""
    eta = torch.exp(-_softplus(torch.log(lambda_) - kappa * z) * lambda_.reciprocal())
    return z * eta if unit else eta


def backward_math(z: Tensor, kappa: Tensor, lambda_: Tensor, grad_out: Tensor, unit: bool,
                   need_kappa: bool, need_lambda: bool):
    """Exact gradients w.r.t. z, κ, λ from the recomputed s, η, σ (derivatives: module doc).

    With u = log λ − κz and e = exp(−|u|) (in (0, 1], never overflows), both
    s = softplus(u) = max(u, 0) + log1p(e) and σ = sigmoid(u) = (u ≥ 0 ? 1 : e) / (1 + e)
    come from the one exponential e: three transcendentals per element (e, log1p, η), where
    softplus + expm1 took four (measured: backward kernel 17.1 → 12.2 ms at 32×256×28×28 on
    2 CPU threads). 1/λ is formed once on the parameter and multiplies the elements, and the
    κ/λ gradients are reduced first and scaled by 1/λ, 1/λ² after (no per-element division;
    with the polynomial log1p, the backward kernel 10-15 → 6.3-6.6 ms in the same setting).
    """
    inv_lambda = lambda_.reciprocal()
    u = torch.log(lambda_) - kappa * z
    e = torch.exp(-u.abs())
    s = torch.clamp_min(u, 0) + _log1p_unit(e)
    eta = torch.exp(-s * inv_lambda)
    sigma = torch.where(u >= 0, torch.ones_like(e), e) / (1 + e)
    g = grad_out * eta  # shared factor of all three gradients
    if unit:
        # d(zη)/dz = η + z η κ σ / λ ; d(zη)/dκ = z² η σ / λ ; d(zη)/dλ = z η (s − σ)/λ²
        g_dz = z * g
        grad_z = g + g_dz * sigma * (kappa * inv_lambda)
    else:
        g_dz = g
        grad_z = g * sigma * (kappa * inv_lambda)
    grad_k = reduce_to(g_dz * z * sigma, kappa.shape) * inv_lambda if need_kappa else None
    grad_l = (reduce_to(g_dz * (s - sigma), lambda_.shape) * inv_lambda.square()
              if need_lambda else None)
    return grad_z, grad_k, grad_l


# The kernel mode (kernel_mode, GATED_MM_COMPILE) picks eager or compiled, see fused.py. Eager
# costs ~6-8x a native SiLU on CPU (many passes over memory); the fused kernels one pass each way.
KERNELS = FusedKernels('APA/AGLU', {'forward': forward_math, 'backward': backward_math})


class _APAFunction(torch.autograd.Function):
    """η(z; κ, λ) (``unit=False``) or z·η (``unit=True``), recomputed in backward."""

    @staticmethod
    def forward(ctx, z, kappa, lambda_, unit: bool):
        ctx.save_for_backward(z, kappa, lambda_)
        ctx.unit = unit
        return KERNELS.run('forward', z, kappa, lambda_, unit)

    @staticmethod
    def backward(ctx, grad_out):
        z, kappa, lambda_ = ctx.saved_tensors
        grad_z, grad_k, grad_l = KERNELS.run('backward', z, kappa, lambda_, grad_out, ctx.unit,
                                             *_APA_INPUTS.needs(ctx, 'kappa', 'lambda_'))
        return _APA_INPUTS.grads(z=grad_z, kappa=grad_k, lambda_=grad_l)


_APA_INPUTS = FunctionInputs(_APAFunction.forward)


def apa(z: Tensor, kappa: Tensor, lambda_: Tensor, lambda_min: float = 1e-4) -> Tensor:
    """Functional APA gate η(z; κ, λ) = (λ e^(−κz) + 1)^(−1/λ), values in (0, 1].

    Args:
        z: input of any shape (N, C, ...) or (N, C).
        kappa, lambda_: parameters broadcastable to ``z`` (scalar, or (1, C, 1, ...)).
        lambda_min: floor applied to λ (gradient zero below it).

    Returns:
        Tensor of the shape and dtype of ``z``; float16/bfloat16 inputs are computed in
        float32 and cast back.
    """
    return _apply(z, kappa, lambda_, lambda_min, unit=False)


def aglu(z: Tensor, kappa: Tensor, lambda_: Tensor, lambda_min: float = 1e-4) -> Tensor:
    """Functional AGLU(z) = z·η(z; κ, λ); same arguments and dtypes as :func:`apa`."""
    return _apply(z, kappa, lambda_, lambda_min, unit=True)


def _apply(z, kappa, lambda_, lambda_min, unit):
    dtype = torch.promote_types(z.dtype, torch.float32)
    with torch.autocast(z.device.type, enabled=False):
        args = (z.to(dtype), kappa.to(dtype), lambda_.to(dtype).clamp(min=lambda_min), unit)
        # torch.jit.trace records plain ops (a TorchScript file cannot hold a Python
        # autograd Function); same values, autograd's own backward.
        out = forward_math(*args) if torch.jit.is_tracing() else _APAFunction.apply(*args)
    return out.to(z.dtype)


def _init_param(shape, init: InitRange, name: str = 'init', low_bound: Optional[float] = None,
                min_value: Optional[float] = None) -> nn.Parameter:
    """A parameter filled with ``init`` (a constant, or a (low, high) uniform range).

    Raises:
        ValueError: ``init`` is not finite, a range has low > high, a constant is below
            ``min_value`` or a range starts below ``low_bound`` or ends at or below
            ``min_value``.
    """
    p = torch.empty(shape)
    values = [float(init)] if isinstance(init, (int, float)) else [float(v) for v in init]
    if len(values) not in (1, 2) or not all(math.isfinite(v) for v in values):
        raise ValueError(f'{name} must be a finite constant or (low, high), got {init!r}')
    if len(values) == 1:
        if min_value is not None and values[0] < min_value:
            raise ValueError(f'{name} must be >= {min_value} (lambda_min), got {init!r}')
        p.fill_(values[0])
    else:
        low, high = values
        if not low <= high:
            raise ValueError(f'init range must be (low, high) with low <= high, got {init}')
        if (low_bound is not None and low < low_bound) or (
                min_value is not None and high <= min_value):
            raise ValueError(f'{name} range must lie in [{low_bound}, inf) and end above '
                             f'{min_value} (lambda_min), got {init!r}')
        p.uniform_(low, high)
    return nn.Parameter(p)


class _APABase(nn.Module):
    unit: bool = False
    default_kappa_init: InitRange = (-1.0, 0.0)
    default_lambda_init: InitRange = (0.0, 1.0)

    def __init__(self,
                 num_channels: Optional[int] = None,
                 kappa_init: Optional[InitRange] = None,
                 lambda_init: Optional[InitRange] = None,
                 lambda_min: float = 1e-4,
                 inplace: bool = False):
        super().__init__()
        if num_channels is not None and (not isinstance(num_channels, int) or num_channels < 1):
            raise ValueError(f'{type(self).__name__}: num_channels must be a positive int or '
                             f'None (one scalar κ, λ), got {num_channels!r}')
        if not lambda_min > 0:
            raise ValueError(f'{type(self).__name__}: lambda_min must be > 0, got {lambda_min}')
        self.num_channels = num_channels
        self.lambda_min = float(lambda_min)
        shape = (1, ) if num_channels is None else (num_channels, )
        cls = type(self).__name__
        self.kappa = _init_param(
            shape, self.default_kappa_init if kappa_init is None else kappa_init,
            f'{cls}: kappa_init')
        # λ below lambda_min is clamped at use, where its gradient is 0: it would never learn
        self.lambda_ = _init_param(
            shape, self.default_lambda_init if lambda_init is None else lambda_init,
            f'{cls}: lambda_init', low_bound=0.0, min_value=self.lambda_min)
        # Accepted for ConvModule (which injects ``inplace``); the backward needs the input,
        # so the result is never written in place.
        self.inplace = inplace

    def _params(self, z: Tensor):
        if self.num_channels is None:
            return self.kappa, self.lambda_
        if z.dim() < 2 or z.shape[1] != self.num_channels:
            raise ValueError(f'{type(self).__name__}: expected input (N, {self.num_channels}, ...)'
                             f' (channels on dim 1), got shape {tuple(z.shape)}')
        view = (1, self.num_channels) + (1, ) * (z.dim() - 2)
        return self.kappa.view(view), self.lambda_.view(view)

    def forward(self, z: Tensor) -> Tensor:
        kappa, lambda_ = self._params(z)
        return _apply(z, kappa, lambda_, self.lambda_min, self.unit)

    def extra_repr(self) -> str:
        ch = 'scalar' if self.num_channels is None else f'num_channels={self.num_channels}'
        return f'{ch}, lambda_min={self.lambda_min}'


@MODELS.register_module()
class APA(_APABase):
    r"""Adaptive Parametric Activation gate, η(z) = (λ e^(−κz) + 1)^(−1/λ).

    APA paper (Alexandridis et al., ECCV 2024) Eq. (4). Replaces a Sigmoid gate (SE, CBAM).

    Args:
        num_channels: None for one scalar κ and one scalar λ (every published model), or C
            for per-channel parameters applied along dim 1.
        kappa_init, lambda_init: a constant, or a (low, high) uniform range. Defaults are the
            public code's APA-in-SE inits: κ ~ U(−1, 0), λ ~ U(0, 1). The CBAM gates of the
            public code use κ ~ U(0, 1). Valid: κ any finite value; λ a constant
            ≥ ``lambda_min`` or a range with 0 ≤ low ≤ high and high > ``lambda_min``
            (ValueError otherwise: a λ at the floor gets zero gradient and never learns).
        lambda_min: floor of λ at use time (1e-4 as the public code); gradient zero below it.
        inplace: accepted for ``ConvModule``/``act_cfg`` compatibility; ignored.

    Shape: input (N, C, ...) or any shape if scalar; output has the input's shape and dtype,
    values in (0, 1]. Float16/bfloat16 inputs (autocast) are computed in float32.

    Raises:
        ValueError: bad ``num_channels``/``lambda_min``/init range, or an input whose dim 1
            does not match ``num_channels``.
    """
    unit = False
    default_kappa_init = (-1.0, 0.0)


@MODELS.register_module()
class AGLU(_APABase):
    r"""Adaptive Generalized Linear Unit, AGLU(z) = z · (λ e^(−κz) + 1)^(−1/λ).

    APA paper (Alexandridis et al., ECCV 2024) Eq. (5). Replaces ReLU; λ = κ = 1 is SiLU.

    Args: as :class:`APA`; default inits are the public classification code's
    κ ~ U(0.8, 1.2), λ ~ U(0, 1) (the public detection backbone uses κ ~ U(1.0, 1.3)).
    λ is used as max(λ, ``lambda_min``); the public ``UniRect`` uses relu(λ) + 1e-8 (a shift,
    not a floor; the difference is quantified in
    ``tools/dataset_converters/convert_apa_checkpoint.py``).
    """
    unit = True
    default_kappa_init = (0.8, 1.2)
