r"""APA and AGLU: Adaptive Parametric Activation (Alexandridis et al., ECCV 2024).

APA, the gate (replaces Sigmoid), paper Eq. (4)::

    η(z; κ, λ) = (λ·exp(−κ z) + 1)^(−1/λ)

AGLU, the unit (replaces ReLU), paper Eq. (5)::

    AGLU(z) = z · η(z; κ, λ)

λ = κ = 1 gives Sigmoid and SiLU; λ → 0⁺, κ = 1 gives the Gumbel gate exp(−exp(−z)).

Both are evaluated in log space, never forming λ·exp(−κz)::

    u = log λ − κ z,   s = softplus(u),   η = exp(−s / λ)

and differentiated exactly (``../shared/REFERENCE.md`` section 1), with σ = sigmoid(u)
obtained from s as σ = −expm1(−s) (no extra exp)::

    ∂η/∂z = η κ σ / λ        ∂η/∂κ = η z σ / λ        ∂η/∂λ = η (s − σ) / λ²

The autograd function saves only the input (and the two parameters) and recomputes the
intermediates in backward, so the saved-tensor memory equals one input, as for a native
activation. Its backward is written in differentiable torch ops, so double backward
(``gradgradcheck``) works too.

λ is clamped to ``lambda_min`` (default 1e-4, as the public code) at use time; below the
floor the gradient w.r.t. λ is zero.

Deviation from the public code: its hand-written AGLU backward gets ∂/∂λ wrong (drops the
s/λ² term); here every gradient is exact. Under autocast the computation runs in float32
(float64 inputs stay float64) and the result is cast back to the input dtype.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor, nn

InitRange = Union[float, Tuple[float, float], Sequence[float]]


def _terms(z: Tensor, kappa: Tensor, lambda_: Tensor):
    """Return η, s = softplus(log λ − κ z) and σ = sigmoid(log λ − κ z)."""
    s = F.softplus(torch.log(lambda_) - kappa * z)
    eta = torch.exp(-s / lambda_)
    return eta, s, -torch.expm1(-s)


def _reduce_to(grad: Tensor, shape: torch.Size) -> Tensor:
    """Sum a broadcast gradient back to a parameter's ``shape``."""
    if grad.shape == shape:
        return grad
    ndim_extra = grad.dim() - len(shape)
    dims = list(range(ndim_extra)) + [
        ndim_extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[ndim_extra + i] != 1]
    return grad.sum(dim=dims, keepdim=True).reshape(shape)


class _APAFunction(torch.autograd.Function):
    """η(z; κ, λ) (``unit=False``) or z·η (``unit=True``), recomputed in backward."""

    @staticmethod
    def forward(ctx, z, kappa, lambda_, unit: bool):
        ctx.save_for_backward(z, kappa, lambda_)
        ctx.unit = unit
        eta = torch.exp(-F.softplus(torch.log(lambda_) - kappa * z) / lambda_)
        return z * eta if unit else eta

    @staticmethod
    def backward(ctx, grad_out):
        z, kappa, lambda_ = ctx.saved_tensors
        eta, s, sigma = _terms(z, kappa, lambda_)
        g_eta = grad_out * eta  # shared factor of all three gradients
        if ctx.unit:
            # d(zη)/dz = η + z η κ σ / λ ; d(zη)/dκ = z² η σ / λ ; d(zη)/dλ = z η (s − σ)/λ²
            zg = z * g_eta
            grad_z = g_eta + zg * sigma * (kappa / lambda_)
            grad_k = zg * z * sigma / lambda_ if ctx.needs_input_grad[1] else None
            grad_l = zg * (s - sigma) / lambda_.square() if ctx.needs_input_grad[2] else None
        else:
            grad_z = g_eta * sigma * (kappa / lambda_)
            grad_k = g_eta * z * sigma / lambda_ if ctx.needs_input_grad[1] else None
            grad_l = g_eta * (s - sigma) / lambda_.square() if ctx.needs_input_grad[2] else None
        if grad_k is not None:
            grad_k = _reduce_to(grad_k, kappa.shape)
        if grad_l is not None:
            grad_l = _reduce_to(grad_l, lambda_.shape)
        return grad_z, grad_k, grad_l, None


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
        out = _APAFunction.apply(
            z.to(dtype), kappa.to(dtype), lambda_.to(dtype).clamp(min=lambda_min), unit)
    return out.to(z.dtype)


def _init_param(shape, init: InitRange) -> nn.Parameter:
    p = torch.empty(shape)
    if isinstance(init, (int, float)):
        p.fill_(float(init))
    else:
        low, high = (float(v) for v in init)
        if not low <= high:
            raise ValueError(f'init range must be (low, high) with low <= high, got {init}')
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
        self.kappa = _init_param(
            shape, self.default_kappa_init if kappa_init is None else kappa_init)
        self.lambda_ = _init_param(
            shape, self.default_lambda_init if lambda_init is None else lambda_init)
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
            public code use κ ~ U(0, 1).
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
    """
    unit = True
    default_kappa_init = (0.8, 1.2)
