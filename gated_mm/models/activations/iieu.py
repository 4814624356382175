r"""IIEU-B and IIEU-DC: Instantaneous Importance Estimation Units (Cai, ICCV 2023).

IIEU-B, paper Eq. (1)-(3), replaces the activation after a conv (+ norm)::

    φ(x̃) = ς(r̂) · x̃,        r̂ = x̃ / (‖x‖·‖w‖ + ε) + ν
    ν    = sigmoid(LayerNorm_C(GAP(x̃)))                      (N, C), per sample and channel
    ς(r) = r                 if r ≥ η
         = η · exp(r − η)    if r < η                          η learnable per channel

x̃ (N, C, H', W') is what the unit receives (the norm output, not the raw conv output); ‖x‖ is
the L2 norm of the receptive-field patch of the conv's input x_pre (N, C_in, H, W) at every
output location and ‖w‖ the L2 norm of the output channel's filter (the live weight, both
differentiable). Public code: github.com/SudongCAI/IIEU, ``MODELS/resnet_iieub_timm.py``
(``IIEUB``) and ``MODELS/resnet_iieudc_timm.py`` (``DynamicScaler``, ``IIEUBDC``); method
notes and the measured agreement in ``docs/fidelity.md``.

Patch norm, exact for any kernel, stride, padding (number, 'same', 'valid'; every
``padding_mode``), dilation and groups: Σ_c x_pre² is padded like the conv pads its input and
summed over each (dilated) k_h × k_w window at the conv's stride, so ‖x‖ is the norm of exactly
the entries the filter multiplies. groups = G > 1: a filter of group g only sees the C_in/G
input channels of its group, so ‖x‖ is taken over those (``patch_norm='group'``, default) and
the cosine x̃/(‖x‖‖w‖) stays a cosine; ``patch_norm='full'`` uses all C_in channels as the
public code does (it ignores groups and dilation; identical for the groups = 1, dilation = 1
convolutions of a ResNet). The exponential is evaluated on min(r̂ − η, 0) only, so the branch
that torch.where discards cannot overflow.

Deviations from the public code (config options): ε sits in the denominator as in the paper,
x̃/(‖x‖‖w‖ + ε) (``eps_mode='product'``); the public code computes x̃/((‖x‖ + k·ε)(‖w‖ + ε))
with k the kernel size of a k×k conv and k = 1 for 1×1 convs (``eps_mode='separate'``, exact;
its ``reciprocal(sqrt(AvgPool_k(Σ_c x²)) + ε) · (1/k)`` is 1/(‖x‖ + k·ε)), a difference of
order kε/‖x‖. At an all-zero patch (zero padding) the cosine would be x̃/ε; by default
(``zero_patch='zero'``) the cosine term is 0 where ‖x‖‖w‖ <= ``zero_patch_tol`` (r̂ = ν, so
|φ| <= max(1, |η|)·|x̃| there); ``zero_patch='eps'`` keeps the public behaviour. A patch or
filter of zero norm gives ‖·‖ = 0 with zero gradient (the public code's backward of sqrt at 0
gives NaN input gradients there).

IIEU-DC (Sec. 2.3, Fig. 4, Eq. (10)): :class:`DynamicCoupler` replaces the residual add
``x + res`` by ``α₀·x + α₁·res`` with per-sample, per-channel softmax weights, computed by an
IIEU in vector form on the pooled channel statistics of both branches.

Under autocast the units compute in float32 (float64 stays float64) and cast the result back.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor, nn

from .fused import FusedKernels, reduce_to

EPS_MODES = ('product', 'separate')
PATCH_NORMS = ('group', 'full')
ZERO_PATCH_MODES = ('zero', 'eps')


def _pair(v) -> Tuple[int, int]:
    if isinstance(v, int):
        return v, v
    v = tuple(int(i) for i in v)
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def _conv_geometry(conv: nn.Module):
    """(kernel, stride, padding spec, dilation, groups, padding_mode) of a 2-D conv module."""
    weight = getattr(conv, 'weight', None)
    if not isinstance(weight, Tensor) or weight.dim() != 4:
        raise ValueError(f'IIEU: expected a 2-D conv module with a 4-D weight (C_out, C_in/groups, '
                         f'kh, kw), got {type(conv).__name__}')
    kernel = tuple(weight.shape[2:])
    stride = _pair(getattr(conv, 'stride', 1))
    dilation = _pair(getattr(conv, 'dilation', 1))
    padding = getattr(conv, 'padding', 0)
    groups = int(getattr(conv, 'groups', 1))
    mode = getattr(conv, 'padding_mode', 'zeros')
    return kernel, stride, padding, dilation, groups, mode


def _pad_amounts(padding, kernel, dilation) -> Tuple[int, int, int, int]:
    """(left, right, top, bottom) padding of a conv, as F.pad wants it."""
    if isinstance(padding, str):
        if padding == 'valid':
            return 0, 0, 0, 0
        if padding == 'same':  # torch: the extra odd pixel goes right/bottom
            th, tw = (d * (k - 1) for d, k in zip(dilation, kernel))
            return tw // 2, tw - tw // 2, th // 2, th - th // 2
        raise ValueError(f"IIEU: unknown conv padding {padding!r}; expected int, pair, 'same' or "
                         f"'valid'")
    ph, pw = _pair(padding)
    return pw, pw, ph, ph


def patch_sq_norm(x_pre: Tensor, conv: nn.Module, grouped: bool = True) -> Tensor:
    """Σ of x_pre² over every receptive field of ``conv``: (N, G, H', W') (G = 1 if not grouped).

    Exact for any kernel, stride, padding, padding_mode, dilation; entry [n, g, i, j] is the
    squared L2 norm of the input patch that group g's filters multiply at output (i, j).
    """
    kernel, stride, padding, dilation, groups, mode = _conv_geometry(conv)
    n, c_in = x_pre.shape[:2]
    g = groups if grouped else 1
    if c_in % g:
        raise ValueError(f'IIEU: conv input has {c_in} channels, not divisible by groups={g}')
    sq = x_pre.square().reshape(n, g, c_in // g, *x_pre.shape[2:]).sum(2)
    left, right, top, bottom = _pad_amounts(padding, kernel, dilation)
    if left or right or top or bottom:
        pad_mode = 'constant' if mode == 'zeros' else mode
        sq = F.pad(sq, (left, right, top, bottom), mode=pad_mode)
    if kernel == (1, 1):
        return sq[:, :, ::stride[0], ::stride[1]]
    ones = sq.new_ones(g, 1, *kernel)
    return F.conv2d(sq, ones, stride=stride, dilation=dilation, groups=g)


def _safe_sqrt(s: Tensor) -> Tensor:
    """sqrt with a zero (not infinite) gradient at 0."""
    return torch.sqrt(s.clamp_min(torch.finfo(s.dtype).tiny)) * (s > 0)


def adjuster(r_hat: Tensor, eta: Tensor) -> Tensor:
    """ς(r̂) = r̂ if r̂ ≥ η else η·exp(r̂ − η), with exp only on min(r̂ − η, 0) (IIEU Eq. (3))."""
    d = r_hat - eta
    return torch.where(d >= 0, r_hat, eta * torch.exp(d.clamp(max=0)))


def _denominator(x_norm: Tensor, w_norm: Tensor, eps: float, eps_mode: str) -> Tensor:
    if eps_mode == 'product':
        return x_norm * w_norm + eps
    return (x_norm + eps) * (w_norm + eps)


# ----------------------------------------------------------------------------- fused core
# out = x̃ · ς(x̃ / D + ν),  D = ‖x‖‖w‖ + ε  ('product')  or  (‖x‖ + ε)(‖w‖ + ε)  ('separate')
# as one autograd node that saves x̃ and the small factors (‖x‖ (N, G, 1, H, W), ‖w‖, ν, η) and
# recomputes the rest in backward, with the exact derivatives
#   s = ς(r̂), s' = dς/dr̂ = 1 (r̂ ≥ η) or η e^(r̂−η) (r̂ < η),  dς/dη = 0 or e^(r̂−η)(1 − η)
#   ∂out/∂x̃ = s + x̃ s'/D,  ∂out/∂ν = x̃ s',  ∂out/∂D = −x̃² s'/D²,  ∂D/∂‖x‖ = ‖w‖ (+ε), ...
def _factors(x_norm: Tensor, w_norm: Tensor, eps: float, x_eps: float, separate: bool):
    """(‖x‖ + x_eps, ‖w‖ + ε, 1/D) for 'separate'; (‖x‖, ‖w‖, 1/(‖x‖‖w‖ + ε)) for 'product'."""
    if separate:
        xn, wn = x_norm + x_eps, w_norm + eps
        return xn, wn, 1 / (xn * wn)
    return x_norm, w_norm, 1 / (x_norm * w_norm + eps)


def _core_forward(xt: Tensor, x_norm: Tensor, w_norm: Tensor, nu: Tensor, eta: Tensor,
                  eps: float, x_eps: float, separate: bool, tol: float) -> Tensor:
    inv = _factors(x_norm, w_norm, eps, x_eps, separate)[2]
    if tol > 0:  # zero_patch='zero': the cosine term is 0 where ‖x‖‖w‖ <= tol
        inv = inv * (x_norm * w_norm > tol)
    return xt * adjuster(xt * inv + nu, eta)


def _core_backward(xt: Tensor, x_norm: Tensor, w_norm: Tensor, nu: Tensor, eta: Tensor,
                   grad: Tensor, eps: float, x_eps: float, separate: bool, tol: float):
    xn, wn, inv = _factors(x_norm, w_norm, eps, x_eps, separate)
    if tol > 0:  # masked positions: r̂ = ν, no gradient to ‖x‖, ‖w‖ through the cosine
        inv = inv * (x_norm * w_norm > tol)
    q = xt * inv
    r_hat = q + nu
    upper = r_hat >= eta
    e = torch.exp((r_hat - eta).clamp(max=0))
    low = eta * e  # ς and dς/dr̂ on the lower branch
    g_x = grad * xt
    g_r = g_x * torch.where(upper, torch.ones_like(low), low)  # ∂L/∂r̂
    grad_xt = grad * torch.where(upper, r_hat, low) + g_r * inv
    g_d = -(g_r * q) * inv  # ∂L/∂D = −∂L/∂r̂ · x̃/D²
    return (grad_xt, reduce_to(g_d * wn, x_norm.shape), reduce_to(g_d * xn, w_norm.shape),
            reduce_to(g_r, nu.shape),
            reduce_to(torch.where(upper, torch.zeros_like(e), g_x * e * (1 - eta)), eta.shape))


def _core_backward_affine(src: Tensor, alpha: Tensor, beta: Tensor, *args):
    """:func:`_core_backward` at x̃ = src·α + β (a BatchNorm output recomputed from its input)."""
    return _core_backward(src.to(alpha.dtype) * alpha + beta, *args)


#: IIEU's fused kernels (mode: :func:`~.fused.kernel_mode`).
KERNELS = FusedKernels('IIEU', {'forward': _core_forward, 'backward': _core_backward,
                                'backward_affine': _core_backward_affine})


class _IIEUCore(torch.autograd.Function):
    """x̃ · ς(x̃ / D + ν) with recomputation in backward (saved: x̃ and the small factors).

    With ``src`` (the BatchNorm input y, (N, G, C/G, H, W) in its own dtype) and per-channel
    ``alpha``, ``beta`` (x̃ = y·α + β, the BatchNorm as an affine map), x̃ itself is not saved:
    the backward recomputes it from y, which the BatchNorm keeps anyway."""

    @staticmethod
    def forward(ctx, xt, x_norm, w_norm, nu, eta, eps: float, x_eps: float, separate: bool,
                tol: float, src=None, alpha=None, beta=None):
        if src is None:
            ctx.save_for_backward(xt, x_norm, w_norm, nu, eta)
        else:
            ctx.save_for_backward(src, x_norm, w_norm, nu, eta, alpha, beta)
        ctx.recompute = src is not None
        ctx.consts = (eps, x_eps, separate, tol)
        return KERNELS.run('forward', xt, x_norm, w_norm, nu, eta, eps, x_eps, separate, tol)

    @staticmethod
    def backward(ctx, grad):
        if ctx.recompute:
            src, x_norm, w_norm, nu, eta, alpha, beta = ctx.saved_tensors
            grads = KERNELS.run('backward_affine', src, alpha, beta, x_norm, w_norm, nu, eta,
                                grad, *ctx.consts)
        else:
            grads = KERNELS.run('backward', *ctx.saved_tensors, grad, *ctx.consts)
        return (*grads, None, None, None, None, None, None, None)


def _compute_dtype(t: Tensor) -> torch.dtype:
    return torch.promote_types(t.dtype, torch.float32)


def iieu_b(x: Tensor,
           x_pre: Tensor,
           conv: nn.Module,
           eta: Tensor,
           shift_weight: Tensor,
           shift_bias: Tensor,
           shift_eps: float = 1e-6,
           eps: float = 1e-8,
           eps_mode: str = 'product',
           patch_norm: str = 'group',
           zero_patch: str = 'zero',
           zero_patch_tol: float = 1e-6,
           norm_affine: Optional[Tuple[Tensor, Tensor, Tensor]] = None) -> Tensor:
    """Functional IIEU-B; see the module docstring. Shapes and arguments as :class:`IIEU`.

    ``norm_affine`` = (y, α, β): x is a BatchNorm's output y·α + β (y (N, C, H, W), α, β (C, )
    constants); then x is not kept for backward but recomputed from y (see
    :func:`~.norm_act.batch_norm_iieu`)."""
    kernel, stride, padding, dilation, groups, mode = _conv_geometry(conv)
    weight = conv.weight
    c_out = weight.shape[0]
    if x.dim() != 4 or x.shape[1] != c_out:
        raise ValueError(f'IIEU: expected x̃ of shape (N, {c_out}, H, W) (the conv has {c_out} '
                         f'filters), got {tuple(x.shape)}')
    if x_pre.dim() != 4 or x_pre.shape[0] != x.shape[0] or \
            x_pre.shape[1] != weight.shape[1] * groups:
        raise ValueError(f'IIEU: x_pre must be the conv input (N, {weight.shape[1] * groups}, H, '
                         f'W), got {tuple(x_pre.shape)}')
    dtype = _compute_dtype(x)
    with torch.autocast(x.device.type, enabled=False):
        xt, xp, w = x.to(dtype), x_pre.to(dtype), weight.to(dtype)
        grouped = patch_norm == 'group'
        x_norm = _safe_sqrt(patch_sq_norm(xp, conv, grouped))  # (N, G, H', W')
        if x_norm.shape[2:] != xt.shape[2:]:
            raise ValueError(f'IIEU: the patch grid {tuple(x_norm.shape[2:])} of the conv does '
                             f'not match x̃ {tuple(xt.shape[2:])}; pass the input of the conv '
                             f'that produced x̃')
        w_norm = _safe_sqrt(w.flatten(1).square().sum(1))  # (C_out, )
        g = x_norm.shape[1]
        n, _, h, wd = xt.shape
        stats = F.layer_norm(xt.mean(dim=(2, 3)), (c_out, ), shift_weight.to(dtype),
                             shift_bias.to(dtype), shift_eps)
        nu = torch.sigmoid(stats).view(n, g, c_out // g, 1, 1)
        src = alpha = beta = None
        if norm_affine is not None:
            y, alpha, beta = norm_affine
            if y.shape != x.shape or alpha.numel() != c_out or beta.numel() != c_out:
                raise ValueError(f'IIEU: norm_affine must be (y, α, β) with y of x̃\'s shape '
                                 f'{tuple(x.shape)} and α, β of {c_out} entries, got '
                                 f'{tuple(y.shape)}, {alpha.numel()}, {beta.numel()}')
            src = y.reshape(n, g, c_out // g, h, wd)
            alpha, beta = (t.to(dtype).view(1, g, c_out // g, 1, 1) for t in (alpha, beta))
        out = _IIEUCore.apply(xt.reshape(n, g, c_out // g, h, wd), x_norm[:, :, None],
                              w_norm.view(1, g, c_out // g, 1, 1), nu,
                              eta.to(dtype).view(1, g, c_out // g, 1, 1), float(eps),
                              float(eps) * public_patch_eps_factor(kernel),
                              eps_mode == 'separate',
                              float(zero_patch_tol) if zero_patch == 'zero' else 0.0,
                              src, alpha, beta)
    return out.reshape(n, c_out, h, wd).to(x.dtype)


def public_patch_eps_factor(kernel: Tuple[int, int]) -> float:
    """k such that the public code's patch term is 1/(‖x‖ + k·ε): √(k_h·k_w) (= k for the square
    k×k kernels it builds) for kernels larger than 1×1, else 1.

    The public code (``MODELS/resnet_iieub_timm.py``, ``IIEUB.forward``) forms, for k > 1,
    ``reciprocal(sqrt(AvgPool_k(Σ_c x²)) + ε) · (1/k)`` = 1/(‖x‖ + k·ε), and for 1×1 convs
    (strided or not) ``reciprocal(‖x‖ + ε)``.
    """
    return 1.0 if tuple(kernel) == (1, 1) else float(kernel[0] * kernel[1])**0.5


def _check_common(name: str, channels: int, eps: float, eps_mode: str):
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f'{name}: channels must be a positive int, got {channels!r}')
    if eps_mode not in EPS_MODES:
        raise ValueError(f'{name}: eps_mode must be one of {EPS_MODES}, got {eps_mode!r}')
    if not eps >= 0:
        raise ValueError(f'{name}: eps must be >= 0, got {eps}')


@MODELS.register_module()
class IIEU(nn.Module):
    r"""IIEU-B activation, φ(x̃) = ς(x̃/(‖x‖‖w‖+ε) + ν)·x̃ (Cai, ICCV 2023, Eq. (1)-(3)).

    Needs the conv that produced x̃ (through its norm) and that conv's input: call
    ``unit(x_tilde, x_pre, conv)``. :class:`~gated_mm.models.backbones.GatedResNet` does this at
    every conv position (``stem``, ``bn1``, ``bn2``, ``bn3``, ``shortcut``) and passes
    ``channels`` (class attribute ``needs_channels``); it cannot sit after the residual add.

    Parameters (3C, as the public code): ``norm`` = LayerNorm(C) of the shift ν (weight init
    0.01, bias 0, eps 1e-6) and ``eta`` = the threshold η (C,), init 0.05.

    Args:
        channels: C, the conv's output channels.
        eta_init: initial η (public code 0.05).
        shift_weight_init, shift_bias_init: initial LayerNorm affine of ν (0.01, 0).
        shift_eps: LayerNorm eps (1e-6).
        eps: ε of the denominator (1e-8).
        eps_mode: 'product' (paper: ‖x‖‖w‖ + ε) or 'separate' (public code:
            (‖x‖ + k·ε)(‖w‖ + ε), k = kernel size for k×k convs, 1 for 1×1 convs; see
            :func:`public_patch_eps_factor`).
        patch_norm: 'group' (exact for grouped convs: ‖x‖ over the group's input channels) or
            'full' (all C_in channels, the public code's choice; equal when groups == 1).
        zero_patch: what the cosine is where the patch is (numerically) all zeros, i.e. where
            ‖x‖·‖w‖ <= ``zero_patch_tol``: 'zero' (default) sets the cosine term to 0 there,
            so r̂ = ν and |φ| <= max(1, |η|)·|x̃| (zero-padded detection batches, letterboxed
            images, black borders); 'eps' keeps x̃/ε (outputs of 1e4-1e6 that overflow
            float16), the public code's behaviour.
        zero_patch_tol: the threshold on ‖x‖·‖w‖ for ``zero_patch='zero'`` (1e-6, > 0).
        inplace: accepted for act_cfg compatibility; ignored.

    Shape: x̃ (N, C, H', W'); x_pre (N, C_in, H, W) with (H', W') the conv's output size;
    output (N, C, H', W') in the dtype of x̃.

    Call ``unit(x_tilde, x_pre, conv, norm_affine=(y, α, β))`` when x̃ = y·α + β is a
    BatchNorm's output (:func:`~gated_mm.models.activations.norm_act.batch_norm_iieu`, which
    GatedResNet uses; class attribute ``accepts_norm_affine``): the unit then keeps y, which
    the BatchNorm keeps, instead of x̃.

    Raises:
        ValueError: bad arguments, a missing x_pre/conv, or shapes that do not belong together.
    """
    needs_channels = True
    needs_conv_input = True
    accepts_norm_affine = True

    def __init__(self,
                 channels: int,
                 eta_init: float = 0.05,
                 shift_weight_init: float = 0.01,
                 shift_bias_init: float = 0.0,
                 shift_eps: float = 1e-6,
                 eps: float = 1e-8,
                 eps_mode: str = 'product',
                 patch_norm: str = 'group',
                 zero_patch: str = 'zero',
                 zero_patch_tol: float = 1e-6,
                 inplace: bool = False):
        super().__init__()
        _check_common('IIEU', channels, eps, eps_mode)
        if patch_norm not in PATCH_NORMS:
            raise ValueError(f'IIEU: patch_norm must be one of {PATCH_NORMS}, got {patch_norm!r}')
        if zero_patch not in ZERO_PATCH_MODES:
            raise ValueError(f'IIEU: zero_patch must be one of {ZERO_PATCH_MODES}, got '
                             f'{zero_patch!r}')
        if not zero_patch_tol > 0:
            raise ValueError(f'IIEU: zero_patch_tol must be > 0, got {zero_patch_tol}')
        self.channels, self.eps, self.eps_mode, self.patch_norm = channels, eps, eps_mode, \
            patch_norm
        self.zero_patch, self.zero_patch_tol = zero_patch, float(zero_patch_tol)
        self.norm = nn.LayerNorm(channels, eps=shift_eps)
        nn.init.constant_(self.norm.weight, shift_weight_init)
        nn.init.constant_(self.norm.bias, shift_bias_init)
        self.eta = nn.Parameter(torch.full((channels, ), float(eta_init)))

    def forward(self, x: Tensor, x_pre: Optional[Tensor] = None,
                conv: Optional[nn.Module] = None,
                norm_affine: Optional[Tuple[Tensor, Tensor, Tensor]] = None) -> Tensor:
        if x_pre is None or conv is None:
            raise ValueError('IIEU needs the conv input and the conv: call unit(x_tilde, x_pre, '
                             'conv), or put IIEU at a conv position of GatedResNet (stem, bn1, '
                             'bn2, bn3, shortcut), not in ConvModule/act_cfg of other models')
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f'IIEU: expected x̃ (N, {self.channels}, H, W), got '
                             f'{tuple(x.shape)}')
        return iieu_b(x, x_pre, conv, self.eta, self.norm.weight, self.norm.bias, self.norm.eps,
                      self.eps, self.eps_mode, self.patch_norm, self.zero_patch,
                      self.zero_patch_tol, norm_affine)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, eps={self.eps}, eps_mode={self.eps_mode!r}, '
                f'patch_norm={self.patch_norm!r}, zero_patch={self.zero_patch!r}')


def _row_standardise(h: Tensor, eps: float) -> Tensor:
    """(h − mean)/(std + eps) over the last dim, std unbiased (a single entry has std 0)."""
    correction = 1 if h.shape[-1] > 1 else 0
    mean = h.mean(dim=-1, keepdim=True)
    std = torch.std(h, dim=-1, keepdim=True, correction=correction)
    return (h - mean) / (std + eps)


@MODELS.register_module()
class DynamicCoupler(nn.Module):
    r"""IIEU-DC's Dynamic Coupler: replaces ``x + res`` by ``α₀·x + α₁·res`` (IIEU Eq. (10)).

    With C channels, hidden width h = max(C // ratio, 1) and the public code's layout::

        a  = LayerNorm_2C([GAP(x); GAP(res)]) → (N, 2, C)           norm_in, weight 1, eps 1e-6
        u  = a · W1ᵀ                          → (N, 2, h)           fc1 (no bias)
        ν  = sigmoid(γ ⊙ std_row(u) + β)      γ, β (2, h), γ = 0.01, β = 0; std_row: per row,
                                               (u − mean)/(std_unbiased + 1e-6)
        u' = ς(u/(‖a_row‖‖W1_j‖ + ε) + ν) · u    IIEU in vector form, η (h,) init 0.01
        c  = LayerNorm_2C(u' · W2ᵀ) → (N, 2, C)                      fc2 (no bias), norm_out
                                                                      weight 0.01, eps 1e-6
        α  = softmax over the 2 branches of c;   out = α₀ ⊙ x + α₁ ⊙ res

    At init α ≈ (½, ½). Linear weights: Kaiming normal, fan_out (public code). Parameters:
    C²·2/ratio + 8C + 5C/ratio per block with ratio 16 (about 2.64 M over a ResNet-50).

    Args:
        channels: C (built by :class:`GatedResNet` with the block's output channels).
        ratio: reduction of the hidden width (public: 16).
        eta_init, shift_weight_init, out_norm_weight_init: 0.01, 0.01, 0.01 (public code).
        norm_eps: eps of the two LayerNorms and of the row standardisation (1e-6).
        eps, eps_mode: as :class:`IIEU`.

    Shape: x, res (N, C, H, W) → (N, C, H, W) in the dtype of x.

    Small C (deviation from the public code, which uses h = C // ratio): for C < ratio the
    public coupler has h = 0 (an empty fc1/fc2, so c = LayerNorm of zeros = its bias and α is
    input-independent), and at C = ratio (h = 1) its unbiased std of one element is NaN, so ν
    and α are NaN. Here h = max(C // ratio, 1), and the row standardisation of a single entry
    uses std 0, so ν = sigmoid(β): α stays input-dependent and finite. C >= 2·ratio (every
    ResNet stage) is unaffected.

    Raises:
        ValueError: bad arguments or inputs whose shapes differ or whose dim 1 is not C.
    """
    needs_channels = True

    def __init__(self,
                 channels: int,
                 ratio: int = 16,
                 eta_init: float = 0.01,
                 shift_weight_init: float = 0.01,
                 out_norm_weight_init: float = 0.01,
                 norm_eps: float = 1e-6,
                 eps: float = 1e-8,
                 eps_mode: str = 'product'):
        super().__init__()
        _check_common('DynamicCoupler', channels, eps, eps_mode)
        if not isinstance(ratio, int) or ratio < 1:
            raise ValueError(f'DynamicCoupler: ratio must be a positive int, got {ratio!r}')
        # public: C // ratio (0 for C < ratio, NaN std at C == ratio); see the class docstring
        hidden = max(channels // ratio, 1)
        self.channels, self.hidden = channels, hidden
        self.eps, self.eps_mode, self.norm_eps = eps, eps_mode, norm_eps
        self.norm_in = nn.LayerNorm(2 * channels, eps=norm_eps)
        self.fc1 = nn.Linear(channels, hidden, bias=False)
        self.shift_weight = nn.Parameter(torch.full((2, hidden), float(shift_weight_init)))
        self.shift_bias = nn.Parameter(torch.zeros(2, hidden))
        self.eta = nn.Parameter(torch.full((hidden, ), float(eta_init)))
        self.fc2 = nn.Linear(hidden, channels, bias=False)
        self.norm_out = nn.LayerNorm(2 * channels, eps=norm_eps)
        nn.init.constant_(self.norm_out.weight, out_norm_weight_init)
        nn.init.constant_(self.norm_out.bias, 0.0)
        for fc in (self.fc1, self.fc2):
            nn.init.kaiming_normal_(fc.weight, mode='fan_out', nonlinearity='leaky_relu')

    def weights(self, x: Tensor, res: Tensor) -> Tensor:
        """The coupling weights α (N, 2, C), in the compute dtype (float32 or float64)."""
        n, c = x.shape[:2]
        dtype = _compute_dtype(x)
        with torch.autocast(x.device.type, enabled=False):
            pooled = torch.cat([x.to(dtype).mean(dim=(2, 3)), res.to(dtype).mean(dim=(2, 3))], 1)
            a = F.layer_norm(pooled, (2 * c, ), self.norm_in.weight.to(dtype),
                             self.norm_in.bias.to(dtype), self.norm_eps).view(n, 2, c)
            w1 = self.fc1.weight.to(dtype)
            u = a @ w1.t()  # (N, 2, h)
            denom = _denominator(_safe_sqrt(a.square().sum(-1, keepdim=True)),
                                 _safe_sqrt(w1.square().sum(1)), self.eps, self.eps_mode)
            nu = torch.sigmoid(self.shift_weight.to(dtype) * _row_standardise(u, self.norm_eps) +
                               self.shift_bias.to(dtype))
            u = u * adjuster(u / denom + nu, self.eta.to(dtype))
            logits = F.layer_norm((u @ self.fc2.weight.to(dtype).t()).reshape(n, 2 * c),
                                  (2 * c, ), self.norm_out.weight.to(dtype),
                                  self.norm_out.bias.to(dtype), self.norm_eps)
            return torch.softmax(logits.view(n, 2, c), dim=1)

    def forward(self, x: Tensor, res: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels or res.shape != x.shape:
            raise ValueError(f'DynamicCoupler: expected main and residual inputs of the same shape'
                             f' (N, {self.channels}, H, W), got {tuple(x.shape)} and '
                             f'{tuple(res.shape)}')
        alpha = self.weights(x, res)
        dtype = alpha.dtype
        with torch.autocast(x.device.type, enabled=False):
            out = x.to(dtype) * alpha[:, 0, :, None, None] + res.to(dtype) * alpha[:, 1, :, None,
                                                                                       None]
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return f'channels={self.channels}, hidden={self.hidden}, eps_mode={self.eps_mode!r}'
