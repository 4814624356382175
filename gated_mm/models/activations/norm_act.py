r"""BatchNorm followed by APA/AGLU as one memory-light autograd node.

    y = γ (x − μ_B) / sqrt(σ²_B + ε) + β          (training-mode BatchNorm, batch statistics)
    out = η(y; κ, λ)  or  y · η(y; κ, λ)           (APA / AGLU, see :mod:`.apa_aglu`)

Unfused, the activation keeps its input y for backward while BatchNorm keeps x: two
full-size tensors per unit, where BN → ReLU(inplace) keeps one. Fused, only x (and the
per-channel μ_B, 1/σ_B) is kept. y itself is never stored: the batch statistics (and the
running-statistics update) come from ATen's ``batch_norm_update_stats``, and the activation
kernel computes y = x·α + β (α = γ/sqrt(σ²_B + ε), β = β_BN − μ_B·α) on the fly, in the
forward and again in the backward, where the activation's exact gradients at y are handed to
ATen's own ``native_batch_norm_backward`` (two passes over memory fewer than BatchNorm then
the activation: y is neither written nor read back). The saved-tensor memory of BN → AGLU
then equals that of BN → ReLU(inplace). Results equal the unfused modules up to float
rounding of y (tests: 1e-6 in fp32, exact maths in fp64).

BatchNorm in eval mode (inference, and training with ``norm_eval=True`` as in detection
fine-tuning) is the fixed affine map y = x·α + β with the running statistics (α = γ/sqrt(σ²_run
+ ε), β = β_BN − μ_run·α): fused, one pass over memory instead of two at inference, and for
training only x is kept (unfused: x and y), the backward handing the activation's gradients
at y to ``native_batch_norm_backward`` in eval mode.

Used by :func:`batch_norm_act` only where it is exactly equivalent: an ``nn.BatchNorm{1,2,3}d``
(not SyncBN) with affine parameters and running statistics, in training or eval mode, followed
by an :class:`~.apa_aglu.APA` / :class:`~.apa_aglu.AGLU` with scalar κ, λ
(:func:`~.fusion_policy.norm_act_fusion`); everywhere else the two modules run unfused.

BatchNorm → IIEU-B (:func:`batch_norm_iieu`): the BatchNorm runs as ATen's
``native_batch_norm`` (the kernel ``nn.BatchNorm`` runs; its autograd node keeps its input y),
which also returns the batch statistics; the IIEU-B unit is handed (y, α, β) and keeps y
instead of its own input x̃ = y·α + β, recomputing x̃ in its backward. One full-size tensor less
per unit; outputs are the modules' own, gradients equal to rounding (the recomputed x̃ rounds
like y·α + β, not necessarily like the BatchNorm kernel).
"""
import torch
from torch import Tensor, nn

from .apa_aglu import backward_math, forward_math
from .fused import FunctionInputs, FusedKernels
from .fusion_policy import norm_act_fusion, norm_output_recomputable


def _affine_forward_math(x: Tensor, alpha: Tensor, beta: Tensor, kappa: Tensor,
                         lambda_: Tensor, unit: bool) -> Tensor:
    """:func:`~.apa_aglu.forward_math` of z = x·α + β (α, β broadcast per channel: a
    BatchNorm's output recomputed from its input, never stored)."""
    return forward_math(x.to(alpha.dtype) * alpha + beta, kappa, lambda_, unit)


def _affine_backward_math(x: Tensor, alpha: Tensor, beta: Tensor, kappa: Tensor,
                          lambda_: Tensor, grad_out: Tensor, unit: bool, need_kappa: bool,
                          need_lambda: bool):
    """:func:`~.apa_aglu.backward_math` at z = x·α + β (gradient w.r.t. z, not x)."""
    return backward_math(x.to(alpha.dtype) * alpha + beta, kappa, lambda_, grad_out, unit,
                         need_kappa, need_lambda)


#: The node's fused kernels (mode: :func:`~.fused.kernel_mode`).
KERNELS = FusedKernels('BatchNorm → APA/AGLU', {'forward': _affine_forward_math,
                                                 'backward': _affine_backward_math})


class _BatchNormAPAFunction(torch.autograd.Function):
    """BatchNorm → APA/AGLU keeping only x: with batch statistics (``training``, which also
    updates the running ones) or with the running statistics (eval mode, nothing updated)."""

    @staticmethod
    def forward(ctx, x, dtype, weight, bias, running_mean, running_var, factor, eps, kappa,
                lambda_, unit, training):
        # x is kept in its own dtype (bf16 under autocast): it is the only full-size save.
        # Batch statistics and the running-statistics update are ATen's own (the ones
        # native_batch_norm uses); y = x·α + β (α = γ/σ, β = β_BN − μ·α, ATen's form) is
        # computed inside the activation kernel and never stored.
        if training:
            mean, var = torch.ops.aten.batch_norm_update_stats(x.to(dtype), running_mean,
                                                               running_var, factor)
        else:  # copies: the buffers may change before the backward (model.train() between)
            mean, var = running_mean.to(dtype, copy=True), running_var.to(dtype, copy=True)
        alpha, beta = _affine(weight, bias, mean, _invstd(var, eps), x.dim())
        ctx.save_for_backward(x, weight, bias, mean, var, kappa, lambda_)
        ctx.eps, ctx.unit, ctx.dtype, ctx.training = eps, unit, dtype, training
        return KERNELS.run('forward', x, alpha, beta, kappa, lambda_, unit)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, bias, mean, var, kappa, lambda_ = ctx.saved_tensors
        invstd = _invstd(var, ctx.eps)
        alpha, beta = _affine(weight, bias, mean, invstd, x.dim())
        grad_y, grad_k, grad_l = KERNELS.run('backward', x, alpha, beta, kappa, lambda_,
                                             grad_out, ctx.unit,
                                             *_INPUTS.needs(ctx, 'kappa', 'lambda_'))
        # ATen's BatchNorm backward: batch statistics (save_mean/invstd) or running ones
        stats = (None, None, mean, invstd) if ctx.training else (mean, var, None, None)
        grad_x, grad_w, grad_b = torch.ops.aten.native_batch_norm_backward(
            grad_y, x.to(ctx.dtype), weight, *stats, ctx.training, ctx.eps,
            _INPUTS.needs(ctx, 'x', 'weight', 'bias'))
        return _INPUTS.grads(x=grad_x, weight=grad_w, bias=grad_b, kappa=grad_k, lambda_=grad_l)


_INPUTS = FunctionInputs(_BatchNormAPAFunction.forward)


def _invstd(var: Tensor, eps: float) -> Tensor:
    return (var + eps).sqrt().reciprocal()


def _affine(weight: Tensor, bias: Tensor, mean: Tensor, invstd: Tensor, ndim: int):
    """Per-channel (α, β) of BatchNorm, y = x·α + β, shaped (1, C, 1, ...)."""
    shape = (1, -1) + (1, ) * (ndim - 2)
    alpha = invstd * weight
    return alpha.view(shape), (bias - mean * alpha).view(shape)


def bn_step(norm: nn.Module) -> float:
    """Count the batch like ``nn.BatchNorm`` does and return its running-average factor."""
    norm.num_batches_tracked.add_(1)
    return (norm.momentum if norm.momentum is not None else
            1.0 / float(norm.num_batches_tracked))


def act_params(act: nn.Module, dtype: torch.dtype):
    """(κ, λ clamped to ``lambda_min``) of a scalar APA/AGLU, cast to ``dtype``."""
    return act.kappa.to(dtype), act.lambda_.to(dtype).clamp(min=act.lambda_min)


def batch_norm_act(norm: nn.Module, act: nn.Module, x: Tensor) -> Tensor:
    """``act(norm(x))``, one node where :func:`~.fusion_policy.norm_act_fusion` says so (same
    results, less saved memory).

    Args:
        norm: the normalisation module (any; fused only for plain BatchNorm).
        act: the activation module (any; fused only for scalar-parameter APA/AGLU).
        x: input (N, C, ...) of ``norm``.

    Returns:
        Tensor of x's shape and dtype. Under autocast the fused path computes in float32
        (float64 stays float64) and casts back, like :class:`~.apa_aglu.APA`.
    """
    mode = norm_act_fusion(norm, act)
    if mode is None:
        return act(norm(x))
    training = mode == 'train'
    factor = bn_step(norm) if training else 0.0
    dtype = torch.promote_types(x.dtype, torch.float32)
    with torch.autocast(x.device.type, enabled=False):
        kappa, lambda_ = act_params(act, dtype)
        out = _BatchNormAPAFunction.apply(*_INPUTS.args(
            x=x, dtype=dtype, weight=norm.weight.to(dtype), bias=norm.bias.to(dtype),
            running_mean=norm.running_mean, running_var=norm.running_var, factor=factor,
            eps=norm.eps, kappa=kappa, lambda_=lambda_, unit=act.unit, training=training))
    return out.to(x.dtype)


def batch_norm_iieu(norm: nn.Module, act: nn.Module, y: Tensor, x_pre: Tensor,
                    conv: nn.Module) -> Tensor:
    """``act(norm(y), x_pre, conv)`` for an IIEU-B ``act``, keeping y (which ``norm`` keeps)
    instead of x̃ = norm(y) where :func:`~.fusion_policy.norm_output_recomputable` allows.

    α, β: the BatchNorm as y·α + β, α = γ/sqrt(σ² + ε), β = β_BN − μ·α, with the batch
    statistics in training mode (those ATen's ``native_batch_norm``, which ``nn.BatchNorm``
    runs, normalises with and returns; the running statistics and ``num_batches_tracked`` are
    updated as ``nn.BatchNorm`` does), the running statistics in eval mode; constants (no
    gradient flows through them: x̃'s gradient goes through the BatchNorm's own backward).

    Args:
        norm: the normalisation after ``conv`` (any; only a plain BatchNorm is recomputed).
        act: an IIEU-B (``needs_conv_input``); handed ``norm_affine`` only if its class sets
            ``accepts_norm_affine`` (others are called as ``act(norm(y), x_pre, conv)``).
        y: the conv output (N, C, H', W'), input of ``norm``.
        x_pre, conv: the conv input and the conv, as IIEU-B needs them.

    Returns:
        IIEU-B's output (N, C, H', W'), in the dtype of ``norm(y)``. float32/float64 y only
        (under autocast, and elsewhere, the modules run as they are).
    """
    if not (getattr(act, 'accepts_norm_affine', False) and norm_output_recomputable(norm)
            and y.dtype in (torch.float32, torch.float64)):
        return act(norm(y), x_pre, conv)
    if norm.training:  # nn.BatchNorm's own computation, which also returns μ_B and 1/σ_B
        xt, mean, invstd = torch.native_batch_norm(y, norm.weight, norm.bias, norm.running_mean,
                                                   norm.running_var, True, bn_step(norm),
                                                   norm.eps)
    else:
        xt = norm(y)
        mean, invstd = norm.running_mean, _invstd(norm.running_var, norm.eps)
    with torch.no_grad():
        alpha, beta = _affine(norm.weight, norm.bias, mean.to(y.dtype), invstd.to(y.dtype), 2)
    return act(xt, x_pre, conv, norm_affine=(y, alpha.view(-1), beta.view(-1)))
