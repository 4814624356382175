r"""Attention scale + residual add + APA/AGLU as one memory-light autograd node.

    a′  = a                or  BN_a(a)            main branch: the bn3 (act[bn3]) output, or
                                                  the conv3 output with bn3 folded in
    b′  = b                or  BN_b(b)            shortcut: the identity x, or the downsample
                                                  conv output with its BatchNorm folded in
    y   = a′ · s + b′      or  a′ + b′            s: the SE excitation (N, C, 1, 1), if any
    out = η(y; κ, λ)       or  y · η(y; κ, λ)     APA / AGLU (see :mod:`.apa_aglu`)

(BN: training-mode BatchNorm with batch statistics, running statistics updated as
``nn.BatchNorm`` does.)

Why: unfused, the activation after the residual add keeps its input y, the sum, for backward —
a fresh full-size tensor per block, which nothing else keeps. ReLU(inplace) keeps instead its
output, which is the next block's input and is kept by the next conv anyway, so an APA/AGLU
network holds one more block-output-sized tensor per block than a ReLU network. This node keeps
a, s and b and recomputes a′, b′ and y in backward (one extra elementwise pass, plus one
statistics pass per folded BatchNorm):

* a: with attention, the tensor the SE multiply ``a · s`` keeps anyway (the SE's mean does not
  keep it); without attention, the conv3 output, which bn3 keeps anyway;
* b: the identity x, kept by conv1 anyway; or the downsample conv output, which the downsample
  BatchNorm keeps anyway;
* s, κ, λ and the BatchNorm batch statistics (μ, 1/σ per channel): small.

So the saved memory of the block end equals that of ``relu_(a · s + b)``. Gradients are exact
for every input (a, s, b, both BatchNorms' weight and bias, κ, λ): the activation's through
the APA/AGLU backward kernel at the recomputed y, the BatchNorms' through ATen's
``native_batch_norm_backward``, as unfused. With the eager kernels the forward is the unfused
arithmetic ((a′ · s) + b′, ATen's BatchNorm) and the recomputation repeats it, so on CPU the
fused and unfused outputs and gradients are bit-identical in float32 (tests). With the compiled
kernels (the default) the SE case forms y = a·s + b inside the activation kernel (never stored:
one write and one read of y fewer each way), which may round differently by an ulp (tests:
within 1e-5 through a block).

Shapes: a, b (N, C, ...) of one shape; s broadcastable to it ((N, C, 1, 1) for SE). Dtypes:
the node computes in float32 (float64 stays float64) with autocast off, as :class:`~.apa_aglu.APA`;
a, s, b are saved in their own dtypes (bfloat16 under autocast, no float32 copies) and the
result has the dtype the unfused ``act(a′ · s + b′)`` would have (the promotion of a, s, b).
Each gradient is returned in its input's dtype.

:func:`residual_act` runs the node where it is exactly equivalent (grad enabled, not compiling,
a scalar APA/AGLU, plain training-mode BatchNorms: :func:`~.fusion_policy.residual_fusable`)
and the unfused modules everywhere else. With grad disabled (inference) and no BatchNorm to
fold, the SE case is one pass of the compiled kernel, y = a·s + b formed inside (three passes
over the block output unfused: the multiply, the add and the activation; nothing is saved).
:class:`~gated_mm.models.backbones.GatedBottleneck` uses it only where every tensor the node keeps is kept anyway
(:meth:`~gated_mm.models.backbones.GatedResidualBlock.block_end_fusion`).
"""
from typing import Optional

import torch
from torch import Tensor, nn

from . import apa_aglu
from .fused import FunctionInputs, FusedKernels, reduce_to
from .fusion_policy import residual_fusable
from .norm_act import act_params, bn_step


def _scale_add_forward_math(a: Tensor, s: Tensor, b: Tensor, kappa: Tensor, lambda_: Tensor,
                            unit: bool) -> Tensor:
    """:func:`~.apa_aglu.forward_math` of z = a·s + b (s broadcast: an SE excitation
    (N, C, 1, 1); the residual sum recomputed from its operands, never stored)."""
    return apa_aglu.forward_math(a.to(s.dtype) * s + b.to(s.dtype), kappa, lambda_, unit)


def _scale_add_backward_math(a: Tensor, s: Tensor, b: Tensor, kappa: Tensor, lambda_: Tensor,
                             grad_out: Tensor, unit: bool, need_kappa: bool, need_lambda: bool):
    """:func:`~.apa_aglu.backward_math` at z = a·s + b (gradient w.r.t. z)."""
    return apa_aglu.backward_math(a.to(s.dtype) * s + b.to(s.dtype), kappa, lambda_, grad_out,
                                  unit, need_kappa, need_lambda)


#: The SE case's fused kernels, y = a·s + b formed inside (mode: :func:`~.fused.kernel_mode`);
#: the other cases run the APA/AGLU kernels (``apa_aglu.KERNELS``) at y.
KERNELS = FusedKernels('attention scale + residual add → APA/AGLU',
                       {'forward': _scale_add_forward_math, 'backward': _scale_add_backward_math})


def _bn_forward(x: Tensor, weight, bias, stats, dtype):
    """(BN(x) or x in ``dtype``, batch mean, 1/σ); ``stats`` None → no BatchNorm."""
    x = x.to(dtype)
    if stats is None:
        return x, None, None
    running_mean, running_var, factor, eps = stats
    return torch.ops.aten.native_batch_norm(x, weight, bias, running_mean, running_var, True,
                                            factor, eps)


def _bn_recompute(x: Tensor, weight, bias, eps, dtype) -> Tensor:
    """BN(x) (``eps`` None: x) in ``dtype``, bit-identical to the forward's.

    ATen's own kernel, statistics included (one reduction pass more than reusing the saved
    μ, 1/σ in a hand-written affine map, whose rounding differs from the kernel's by an ulp
    and, amplified through the network, by ~1e-6 in the gradients).
    """
    x = x.to(dtype)
    if eps is None:
        return x
    return torch.ops.aten.native_batch_norm(x, weight, bias, None, None, True, 0.0, eps)[0]


def _bn_backward(grad: Tensor, x: Tensor, weight, mean, invstd, eps, needs, dtype):
    """(grad x, grad weight, grad bias) through an optional BatchNorm."""
    if mean is None:
        return (grad.to(x.dtype) if needs[0] else None), None, None
    gx, gw, gb = torch.ops.aten.native_batch_norm_backward(grad, x.to(dtype), weight, None, None,
                                                           mean, invstd, True, eps, list(needs))
    return (gx.to(x.dtype) if gx is not None else None), gw, gb


class _ResidualActFunction(torch.autograd.Function):
    """act(BN_a(a) · s + BN_b(b)); saves a, s, b (own dtypes), recomputes the rest."""

    @staticmethod
    def forward(ctx, main, main_weight, main_bias, scale, shortcut, short_weight, short_bias,
                kappa, lambda_, main_stats, short_stats, unit: bool, dtype: torch.dtype):
        b, short_mean, short_invstd = _bn_forward(shortcut, short_weight, short_bias,
                                                  short_stats, dtype)
        if scale is not None and main_stats is None:
            # SE case: the sum a · s + b is formed inside the activation kernel, never stored
            main_mean = main_invstd = None
            out = KERNELS.run('forward', main, scale.to(dtype), b, kappa, lambda_, unit)
        else:
            a, main_mean, main_invstd = _bn_forward(main, main_weight, main_bias, main_stats,
                                                    dtype)
            # the unfused arithmetic, (a · s) + b, so the forward is bit-identical to it
            y = (a * scale.to(dtype)).add_(b) if scale is not None else a + b
            del a
            out = apa_aglu.KERNELS.run('forward', y, kappa, lambda_, unit)
        del b
        ctx.save_for_backward(main, main_weight, main_bias, main_mean, main_invstd, scale,
                              shortcut, short_weight, short_bias, short_mean, short_invstd,
                              kappa, lambda_)
        ctx.eps = (None if main_stats is None else main_stats[3],
                   None if short_stats is None else short_stats[3])
        ctx.unit, ctx.dtype = unit, dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (main, main_weight, main_bias, main_mean, main_invstd, scale, shortcut, short_weight,
         short_bias, short_mean, short_invstd, kappa, lambda_) = ctx.saved_tensors
        dtype = ctx.dtype
        need_k, need_l = _INPUTS.needs(ctx, 'kappa', 'lambda_')
        a = _bn_recompute(main, main_weight, main_bias, ctx.eps[0], dtype)
        b = _bn_recompute(shortcut, short_weight, short_bias, ctx.eps[1], dtype)
        s = scale.to(dtype) if scale is not None else None
        if s is not None and ctx.eps[0] is None:
            grad_y, grad_k, grad_l = KERNELS.run('backward', a, s, b, kappa, lambda_, grad_out,
                                                 ctx.unit, need_k, need_l)
        else:
            y = (a * s).add_(b) if s is not None else a + b
            grad_y, grad_k, grad_l = apa_aglu.KERNELS.run('backward', y, kappa, lambda_,
                                                          grad_out, ctx.unit, need_k, need_l)
            del y
        del b
        grad_s = None
        if s is not None and _INPUTS.needs(ctx, 'scale')[0]:
            grad_s = reduce_to(grad_y * a, scale.shape).to(scale.dtype)
        del a
        grad_a = grad_y * s if s is not None else grad_y
        grad_main, grad_mw, grad_mb = _bn_backward(
            grad_a, main, main_weight, main_mean, main_invstd, ctx.eps[0],
            _INPUTS.needs(ctx, 'main', 'main_weight', 'main_bias'), dtype)
        del grad_a
        grad_short, grad_sw, grad_sb = _bn_backward(
            grad_y, shortcut, short_weight, short_mean, short_invstd, ctx.eps[1],
            _INPUTS.needs(ctx, 'shortcut', 'short_weight', 'short_bias'), dtype)
        return _INPUTS.grads(main=grad_main, main_weight=grad_mw, main_bias=grad_mb,
                             scale=grad_s, shortcut=grad_short, short_weight=grad_sw,
                             short_bias=grad_sb, kappa=grad_k, lambda_=grad_l)


_INPUTS = FunctionInputs(_ResidualActFunction.forward)


def _bn_args(norm: Optional[nn.Module], dtype):
    """(weight, bias, stats) of a fused BatchNorm (counts the batch), or Nones."""
    if norm is None:
        return None, None, None
    stats = (norm.running_mean, norm.running_var, bn_step(norm), norm.eps)
    return norm.weight.to(dtype), norm.bias.to(dtype), stats


def residual_act(act: nn.Module,
                 main: Tensor,
                 shortcut: Tensor,
                 scale: Optional[Tensor] = None,
                 main_norm: Optional[nn.Module] = None,
                 shortcut_norm: Optional[nn.Module] = None) -> Tensor:
    """``act(main_norm(main) · scale + shortcut_norm(shortcut))`` as one node when
    :func:`~.fusion_policy.residual_fusable` (same results, less saved memory; see the module
    docstring).

    Args:
        act: the activation after the add (fused only for a scalar APA/AGLU).
        main: the main branch (N, C, ...), or the input of ``main_norm``.
        shortcut: the shortcut (N, C, ...) of main's shape, or the input of ``shortcut_norm``.
        scale: a multiplier broadcastable to ``main`` (the SE excitation, (N, C, 1, 1)); None
            for none.
        main_norm, shortcut_norm: a BatchNorm applied to ``main`` / ``shortcut`` first, or
            None (fused only for plain BatchNorm in training mode).

    Returns:
        Tensor of main's shape in the dtype of the unfused expression. The fused path computes
        in float32 (float64 stays float64) under autocast and keeps its saved inputs in their
        own dtypes.
    """
    if not residual_fusable(act, main_norm, shortcut_norm):
        a = main if main_norm is None else main_norm(main)
        b = shortcut if shortcut_norm is None else shortcut_norm(shortcut)
        return act((a * scale if scale is not None else a) + b)
    out_dtype = torch.promote_types(main.dtype, shortcut.dtype)
    if scale is not None:
        out_dtype = torch.promote_types(out_dtype, scale.dtype)
    dtype = torch.promote_types(out_dtype, torch.float32)
    with torch.autocast(main.device.type, enabled=False):
        main_weight, main_bias, main_stats = _bn_args(main_norm, dtype)
        short_weight, short_bias, short_stats = _bn_args(shortcut_norm, dtype)
        kappa, lambda_ = act_params(act, dtype)
        out = _ResidualActFunction.apply(*_INPUTS.args(
            main=main, main_weight=main_weight, main_bias=main_bias, scale=scale,
            shortcut=shortcut, short_weight=short_weight, short_bias=short_bias, kappa=kappa,
            lambda_=lambda_, main_stats=main_stats, short_stats=short_stats, unit=act.unit,
            dtype=dtype))
    return out.to(out_dtype)
