r"""AdaShift-B and AdaShift-MA (Cai, "AdaShift: Learning Discriminative Self-Gated Neural
Feature Activation With an Adaptive Shift Factor", CVPR 2024).

Prototype (slides, "AdaShift Prototype")::

    φ(x̃) = f_adj(x̃ + Δ) · x̃,        f_adj = sigmoid,  Δ a tensor-level non-local shift

AdaShift-B (public code)::

    Δ = LayerNorm_C(GAP(x̃))          (N, C) broadcast over H×W; weight init 0.01, bias 0,
                                       eps 1e-6; no sigmoid on Δ

AdaShift-MA (slides: Δ = [MA(avgpool_{K_H×K_L}(X̃))]_c(h_k, l_k), "LAP", "UPS")::

    T = AvgPool to a g×g grid (g = 7)           (N, g², C) tokens
    q, k, v = three LayerNorm_C(T)              (no projections), heads = max(C // 64, 1)
    O = softmax(q kᵀ / √d) v                    d = C / heads
    Δ = LayerNorm_C(O)   (stem: LayerNorm_C(O·Pᵀ), P a bias-free Linear(C, C))
    Δ is broadcast back over each grid cell (nearest upsampling) and φ = x̃·sigmoid(x̃ + Δ)

The public code hard-codes the cell size K = H/7 for 224×224 inputs. Here the grid is made
with ``adaptive_avg_pool2d`` and Δ is brought back with nearest upsampling, so any H×W works
(detection inputs): when H and W are multiples of g this is exactly the public K×K pooling and
broadcast (computed that way, without materialising the upsampled Δ); otherwise adaptive
pooling bin j covers rows ⌊jH/g⌋ … ⌈(j+1)H/g⌉ − 1 and every pixel takes the Δ of the bin
``nearest`` assigns it to (row i → ⌊i·g/H⌋, a bin that contains row i).

Both compute in float32 under autocast (float64 stays float64) and return the input dtype.

Memory: the gate x̃·sigmoid(x̃ + Δ) is one autograd node (:class:`_SelfGate`) that keeps only
x̃, in its own dtype, and the small Δ ((N, C), the (N, C, g, g) grid, or Δ↑ where H·W ≤ g²), and
recomputes the sigmoid in backward; plain autograd would also keep the full-size sigmoid output.
The forward allocates one full-size tensor, the output (Δ is broadcast, or nearest-upsampled
into the output buffer). Saved memory is then x̃ plus O(N·C·g²), as for a native activation;
outputs are those of plain autograd bit for bit (float32, CPU), gradients to float32 rounding
(the K×K block sums of the backward run as ATen's pooling kernel, in another order than
autograd's broadcast reduction).

AdaShift-MA's shift path (pooling, three LayerNorms, attention, LayerNorm) keeps about seven
(N, g², C) token tensors for its backward: each as large as x̃ where the map is g×g (a ResNet's
layer 4 at 224², layer 3 at 112²), larger where the map is smaller. That is the default
(``recompute_shift=False``), as in the public code. With ``recompute_shift=True`` Δ is computed
under ``torch.utils.checkpoint`` (non-reentrant) from x̃, which the gate keeps anyway: nothing
of the shift path is kept, it is run again in backward (a pooling read of x̃ and O(N·C·g²)
work); values and gradients are those of the stored path bit for bit. It trades time for memory:
``docs/benchmarks.md`` has both, measured on the same ResNet-50.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


def _check_channels(name: str, channels):
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f'{name}: channels must be a positive int, got {channels!r}')


class _SelfGate(torch.autograd.Function):
    """out = z · sigmoid(z + up(Δ)), z = x in ``dtype``; saves x (own dtype) and Δ only.

    How Δ reaches z's shape (``up``), :func:`_shifted`: ``block`` (kh, kw): z is (N, C, H, W),
    Δ (N, C, H/kh, W/kw) and each Δ cell covers a kh × kw block (the public K×K broadcast, no
    upsampled copy); else ``size`` None: Δ broadcasts against z (any shapes); else Δ is
    (N, C, g, g) and up = nearest upsampling to ``size`` = (H, W) (``F.interpolate``).
    Gradients, with σ recomputed: ∂/∂z = g·σ + t, ∂/∂Δ = up*(t), t = sigmoid'(·)·g·z; for
    blocks up*(t) is the block sum, taken by ``avg_pool2d`` with divisor 1 (ATen's pooling
    kernel; 2.5 ms instead of 7.3 ms for a strided 6-D sum at 32×256×28×28 on 2 CPU threads).
    """

    @staticmethod
    def forward(ctx, x, delta, size, dtype, block=None):
        ctx.save_for_backward(x, delta)
        ctx.size, ctx.dtype, ctx.block = size, dtype, block
        z = x.to(dtype)
        # the one full-size allocation is the output: z + Δ, then sigmoid and · z in place
        return _shifted(z, delta, size, block).sigmoid_().mul_(z)

    @staticmethod
    def backward(ctx, grad):
        x, delta = ctx.saved_tensors
        z = x.to(ctx.dtype)
        sig = _shifted(z, delta, ctx.size, ctx.block).sigmoid_()
        grad_t = torch.ops.aten.sigmoid_backward(grad * z, sig)  # ∂L/∂(z + Δ)
        grad_x = grad_delta = None
        if ctx.needs_input_grad[1]:
            if ctx.block is not None:
                grad_delta = F.avg_pool2d(grad_t, ctx.block, divisor_override=1)
            elif ctx.size is None:
                grad_delta = grad_t.sum_to_size(delta.shape)
            else:
                grad_delta = torch.ops.aten.upsample_nearest2d_backward(
                    grad_t, list(ctx.size), list(delta.shape), None, None)
        if ctx.needs_input_grad[0]:
            grad_x = (grad * sig).add_(grad_t).to(x.dtype)
        return grad_x, grad_delta, None, None, None


def _shifted(z: Tensor, delta: Tensor, size, block=None) -> Tensor:
    """A new tensor z + up(Δ) (see :class:`_SelfGate`), of z's shape."""
    if block is not None:
        n, c, h, w = z.shape
        kh, kw = block
        gh, gw = h // kh, w // kw
        if kh == 1:
            return (z.reshape(n, c, h, gw, kw) + delta.reshape(n, c, h, gw, 1)).view(n, c, h, w)
        # Δ repeated along W first (a 1/kh-size temporary), so that the full-size add
        # broadcasts over whole rows: 2.5 ms instead of 5.0 ms (6-D broadcast) at 32×256×28×28
        rows = delta.repeat_interleave(kw, dim=-1).view(n, c, gh, 1, w)
        return (z.reshape(n, c, gh, kh, w) + rows).view(n, c, h, w)
    if size is None:
        return z + delta
    return F.interpolate(delta, size=size, mode='nearest').add_(z)


class _BlockMean(torch.autograd.Function):
    """Mean over kh × kw blocks, (N, C, H, W) → (N, C, H/kh, W/kw), by ATen's ``avg_pool2d``
    (2.6 ms instead of 8.5 ms for a strided 6-D ``mean`` at 32×256×28×28 on 2 CPU threads).
    Saves nothing: ``avg_pool2d``'s own autograd would keep its input, a full-size float32
    copy of a bfloat16 x under autocast. Backward: each cell's gradient / (kh·kw) over its
    block (repeated along W, then broadcast over rows)."""

    @staticmethod
    def forward(ctx, z, block):
        ctx.shape, ctx.block = z.shape, block
        return F.avg_pool2d(z, block)

    @staticmethod
    def backward(ctx, grad):
        n, c, h, w = ctx.shape
        kh, kw = ctx.block
        rows = (grad / (kh * kw)).repeat_interleave(kw, dim=-1).view(n, c, h // kh, 1, w)
        return rows.expand(n, c, h // kh, kh, w).reshape(n, c, h, w), None


def _self_gate(x: Tensor, delta: Tensor, size=None, block=None) -> Tensor:
    """x · sigmoid(x + up(Δ)) in Δ's dtype (the compute dtype), through :class:`_SelfGate`."""
    return _SelfGate.apply(x, delta, size, delta.dtype, block)


def _layer_norm(t: Tensor, norm: nn.LayerNorm) -> Tensor:
    """``norm`` applied in the dtype of ``t`` (parameters cast, never modified)."""
    return F.layer_norm(t, norm.normalized_shape, norm.weight.to(t.dtype),
                        norm.bias.to(t.dtype), norm.eps)


@MODELS.register_module()
class AdaShiftB(nn.Module):
    r"""AdaShift-B, φ(x̃) = x̃ · sigmoid(x̃ + LayerNorm_C(GAP(x̃))) (public code's ``silumod``).

    Placed where ReLU sits in a ResNet (stem, after bn1, bn2 and after the residual add).
    Parameters: the LayerNorm affine (2C).

    Args:
        channels: C (injected by :class:`GatedResNet`; class attribute ``needs_channels``).
        shift_weight_init, shift_bias_init: initial LayerNorm affine (0.01, 0).
        eps: LayerNorm eps (1e-6).
        inplace: accepted for act_cfg compatibility; ignored.

    Shape: (N, C, *) with at least one spatial dim (or (N, C): Δ = LayerNorm of x̃ itself);
    output the same shape and dtype.

    Raises:
        ValueError: channels < 1 or an input whose dim 1 is not C.
    """
    needs_channels = True

    def __init__(self, channels: int, shift_weight_init: float = 0.01,
                 shift_bias_init: float = 0.0, eps: float = 1e-6, inplace: bool = False):
        super().__init__()
        _check_channels('AdaShiftB', channels)
        self.channels = channels
        self.norm = nn.LayerNorm(channels, eps=eps)
        nn.init.constant_(self.norm.weight, shift_weight_init)
        nn.init.constant_(self.norm.bias, shift_bias_init)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[1] != self.channels:
            raise ValueError(f'AdaShiftB: expected input (N, {self.channels}, ...), got shape '
                             f'{tuple(x.shape)}')
        dtype = torch.promote_types(x.dtype, torch.float32)
        with torch.autocast(x.device.type, enabled=False):
            z = x.to(dtype)
            pooled = z.mean(dim=tuple(range(2, z.dim()))) if z.dim() > 2 else z
            shift = _layer_norm(pooled, self.norm).view(*pooled.shape, *([1] * (z.dim() - 2)))
            out = _self_gate(x, shift)  # z · sigmoid(z + shift), keeps x and shift only
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return f'channels={self.channels}'


@MODELS.register_module()
class AdaShiftMA(nn.Module):
    r"""AdaShift-MA: φ(x̃) = x̃ · sigmoid(x̃ + Δ), Δ from multi-head attention over a g×g grid.

    See the module docstring for the equations and the any-size rule. Parameters: LayerNorms
    ``norm_q``, ``norm_k``, ``norm_v`` (weight 1, bias 0) and ``norm`` (weight
    ``shift_weight_init``), 8C in all; with ``proj=True`` (the public stem) a bias-free
    ``proj`` Linear(C, C) (truncated normal, std 0.02) before ``norm``, whose weight is 1 there.

    Args:
        channels: C (injected by :class:`GatedResNet`).
        grid_size: g, the grid of the pooled tokens (7, the public code's 224/32).
        num_heads: None → max(C // head_channels, 1) (public rule with 64).
        head_channels: channels per head used by the default ``num_heads``.
        proj: bias-free Linear(C, C) on the attention output (public code: stem only).
        shift_weight_init, shift_bias_init: initial affine of ``norm`` (0.01, 0 in blocks;
            the public stem uses 1.0 with ``proj=True``).
        eps: eps of every LayerNorm (1e-6).
        proj_init_std: std of the truncated-normal init of ``proj`` (0.02).
        recompute_shift: False (default): keep the shift path's intermediates for backward,
            as the public code's plain autograd does. True: keep nothing of it and recompute
            Δ from x̃ in backward (``torch.utils.checkpoint``; module docstring): less memory,
            more time; the same values either way.
        inplace: accepted for act_cfg compatibility; ignored.

    Shape: (N, C, H, W), any H, W ≥ 1 → the same shape and dtype.

    Raises:
        ValueError: bad arguments (C not divisible by ``num_heads``) or an input that is not
            (N, C, H, W).
    """
    needs_channels = True

    def __init__(self,
                 channels: int,
                 grid_size: int = 7,
                 num_heads: Optional[int] = None,
                 head_channels: int = 64,
                 proj: bool = False,
                 shift_weight_init: float = 0.01,
                 shift_bias_init: float = 0.0,
                 eps: float = 1e-6,
                 proj_init_std: float = 0.02,
                 recompute_shift: bool = False,
                 inplace: bool = False):
        super().__init__()
        _check_channels('AdaShiftMA', channels)
        if not isinstance(grid_size, int) or grid_size < 1:
            raise ValueError(f'AdaShiftMA: grid_size must be a positive int, got {grid_size!r}')
        heads = max(channels // head_channels, 1) if num_heads is None else num_heads
        if not isinstance(heads, int) or heads < 1 or channels % heads:
            raise ValueError(f'AdaShiftMA: channels={channels} must be divisible by num_heads='
                             f'{heads}; set num_heads (or head_channels) accordingly')
        self.channels, self.grid_size, self.num_heads = channels, grid_size, heads
        self.head_dim = channels // heads
        self.recompute_shift = bool(recompute_shift)
        self.norm_q = nn.LayerNorm(channels, eps=eps)
        self.norm_k = nn.LayerNorm(channels, eps=eps)
        self.norm_v = nn.LayerNorm(channels, eps=eps)
        self.proj = nn.Linear(channels, channels, bias=False) if proj else None
        if proj:
            nn.init.trunc_normal_(self.proj.weight, std=proj_init_std)
        self.norm = nn.LayerNorm(channels, eps=eps)
        nn.init.constant_(self.norm.weight, shift_weight_init)
        nn.init.constant_(self.norm.bias, shift_bias_init)

    def shift(self, z: Tensor) -> Tensor:
        """Δ on the grid: (N, C, H, W) → (N, C, g, g), in the dtype of ``z``."""
        n, c, h, w = z.shape
        g = self.grid_size
        if h % g == 0 and w % g == 0:  # the public K×K pooling
            grid = _BlockMean.apply(z, (h // g, w // g))
        else:
            grid = F.adaptive_avg_pool2d(z, g)
        tokens = grid.flatten(2).transpose(1, 2)  # (N, g², C)

        def heads(t):
            return t.view(n, g * g, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = (heads(_layer_norm(tokens, m)) for m in (self.norm_q, self.norm_k, self.norm_v))
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.head_dim**-0.5, dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(n, g * g, c)
        if self.proj is not None:
            out = out @ self.proj.weight.to(out.dtype).t()
        return _layer_norm(out, self.norm).transpose(1, 2).reshape(n, c, g, g)

    def _shift_of(self, x: Tensor, dtype: torch.dtype) -> Tensor:
        return self.shift(x.to(dtype))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f'AdaShiftMA: expected input (N, {self.channels}, H, W), got shape '
                             f'{tuple(x.shape)}')
        n, c, h, w = x.shape
        g = self.grid_size
        dtype = torch.promote_types(x.dtype, torch.float32)
        with torch.autocast(x.device.type, enabled=False):
            if self.recompute_shift and torch.is_grad_enabled():
                # only x (kept by the gate below) is held for the recompute, not z = x.to(dtype)
                delta = checkpoint(self._shift_of, x, dtype, use_reentrant=False,
                                   preserve_rng_state=False)
            else:
                delta = self._shift_of(x, dtype)
            # z · sigmoid(z + Δ↑), keeping x and the grid Δ only
            if h % g == 0 and w % g == 0:  # the public K×K broadcast, no upsampled copy
                out = _self_gate(x, delta, block=(h // g, w // g))
            elif h * w <= g * g:  # a map no larger than the grid: keep Δ↑, the smaller one
                out = _self_gate(x, F.interpolate(delta, size=(h, w), mode='nearest'))
            else:
                out = _self_gate(x, delta, (h, w))
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, grid_size={self.grid_size}, '
                f'num_heads={self.num_heads}, proj={self.proj is not None}, '
                f'recompute_shift={self.recompute_shift}')
