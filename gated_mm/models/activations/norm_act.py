r"""BatchNorm followed by APA/AGLU as one memory-light autograd node.

    y = γ (x − μ_B) / sqrt(σ²_B + ε) + β          (training-mode BatchNorm, batch statistics)
    out = η(y; κ, λ)  or  y · η(y; κ, λ)           (APA / AGLU, see :mod:`.apa`)

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
by an :class:`~.apa.APA` / :class:`~.apa.AGLU` with scalar κ, λ; everywhere else the two
modules run unfused.
"""
import torch
from torch import Tensor, nn

from .apa import _APABase, _Kernels

_PLAIN_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


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
        return _Kernels.run('affine_forward', x, alpha, beta, kappa, lambda_, unit)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, bias, mean, var, kappa, lambda_ = ctx.saved_tensors
        invstd = _invstd(var, ctx.eps)
        alpha, beta = _affine(weight, bias, mean, invstd, x.dim())
        grad_y, grad_k, grad_l = _Kernels.run('affine_backward', x, alpha, beta, kappa, lambda_,
                                              grad_out, ctx.unit, ctx.needs_input_grad[8],
                                              ctx.needs_input_grad[9])
        # ATen's BatchNorm backward: batch statistics (save_mean/invstd) or running ones
        stats = (None, None, mean, invstd) if ctx.training else (mean, var, None, None)
        grad_x, grad_w, grad_b = torch.ops.aten.native_batch_norm_backward(
            grad_y, x.to(ctx.dtype), weight, *stats, ctx.training, ctx.eps,
            [ctx.needs_input_grad[0], ctx.needs_input_grad[2], ctx.needs_input_grad[3]])
        return grad_x, None, grad_w, grad_b, None, None, None, None, grad_k, grad_l, None, None


def _invstd(var: Tensor, eps: float) -> Tensor:
    return (var + eps).sqrt().reciprocal()


def _affine(weight: Tensor, bias: Tensor, mean: Tensor, invstd: Tensor, ndim: int):
    """Per-channel (α, β) of BatchNorm, y = x·α + β, shaped (1, C, 1, ...)."""
    shape = (1, -1) + (1, ) * (ndim - 2)
    alpha = invstd * weight
    return alpha.view(shape), (bias - mean * alpha).view(shape)


def fusable_norm(norm: nn.Module, eval_mode: bool = False) -> bool:
    """Whether ``norm`` can be folded into a fused node: a plain ``nn.BatchNorm{1,2,3}d`` (not
    SyncBN) with affine parameters and running statistics, in training mode (or, with
    ``eval_mode``, in eval mode)."""
    return (type(norm) in _PLAIN_BN and norm.training != eval_mode and norm.affine
            and norm.track_running_stats and norm.running_mean is not None)


def fusable_act(act: nn.Module) -> bool:
    """Whether ``act`` can end a fused node: an APA/AGLU with scalar κ, λ."""
    return isinstance(act, _APABase) and act.num_channels is None


def fusion_enabled() -> bool:
    """Fused training-mode nodes pay off only when a backward will run, and are left to the
    compiler's own fusion under ``torch.compile``: grad enabled and not compiling (nor
    tracing: ``torch.jit.trace`` records the plain ops, which TorchScript can save)."""
    return (torch.is_grad_enabled() and not torch.compiler.is_compiling()
            and not torch.jit.is_tracing())


def fusable(norm: nn.Module, act: nn.Module) -> bool:
    """Whether ``act(norm(x))`` can run as one fused node (see the module docstring)."""
    return fusable_norm(norm) and fusable_act(act)


def bn_step(norm: nn.Module) -> float:
    """Count the batch like ``nn.BatchNorm`` does and return its running-average factor."""
    norm.num_batches_tracked.add_(1)
    return (norm.momentum if norm.momentum is not None else
            1.0 / float(norm.num_batches_tracked))


def act_params(act: nn.Module, dtype: torch.dtype):
    """(κ, λ clamped to ``lambda_min``) of a scalar APA/AGLU, cast to ``dtype``."""
    return act.kappa.to(dtype), act.lambda_.to(dtype).clamp(min=act.lambda_min)


def batch_norm_act(norm: nn.Module, act: nn.Module, x: Tensor) -> Tensor:
    """``act(norm(x))``, fused when :func:`fusable` (same results, less saved memory).

    Args:
        norm: the normalisation module (any; fused only for plain BatchNorm in training).
        act: the activation module (any; fused only for scalar-parameter APA/AGLU).
        x: input (N, C, ...) of ``norm``.

    Returns:
        Tensor of x's shape and dtype. Under autocast the fused path computes in float32
        (float64 stays float64) and casts back, like :class:`~.apa.APA`.
    """
    training = fusable(norm, act) and fusion_enabled()
    evaluate = (fusable_norm(norm, eval_mode=True) and fusable_act(act)
                and not torch.compiler.is_compiling() and not torch.jit.is_tracing())
    if not (training or evaluate):
        return act(norm(x))
    factor = bn_step(norm) if training else 0.0
    dtype = torch.promote_types(x.dtype, torch.float32)
    with torch.autocast(x.device.type, enabled=False):
        out = _BatchNormAPAFunction.apply(
            x, dtype, norm.weight.to(dtype), norm.bias.to(dtype), norm.running_mean,
            norm.running_var, factor, norm.eps, *act_params(act, dtype), act.unit, training)
    return out.to(x.dtype)
