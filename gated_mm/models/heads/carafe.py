r"""CARAFE upsampling with a CPU path: the mask-head upsampler of the GOL / APA R50 LVIS recipe.

CARAFE, Content-Aware ReAssembly of FEatures (Wang et al., ICCV 2019, arXiv:1905.02188), as
mmcv's ``CARAFEPack`` builds it (mmcv ``mmcv/ops/carafe.py``):

1. kernel prediction: ``channel_compressor`` (1×1 conv C → C_m), ``content_encoder``
   (k_enc×k_enc conv, dilation d, C_m → G·k_up²·σ²), pixel shuffle by σ to
   (N, G·k_up², σH, σW), softmax over the k_up² taps of each group (Eq. 2-3 of the paper);
2. reassembly (Eq. 4), for output location l' = (i', j') with source l = (⌊i'/σ⌋, ⌊j'/σ⌋)
   and r = ⌊k_up / 2⌋::

       X'(c, i', j') = Σ_{n=-r..r} Σ_{m=-r..r} W_{l'}(g, n, m) · X(c, ⌊i'/σ⌋ + n, ⌊j'/σ⌋ + m)

   with g = c // (C / G) the channel's group, W_{l'}(g, n, m) mask channel
   (g·k_up + n + r)·k_up + m + r at (i', j') (the index of mmcv's
   ``carafe_naive_cuda_kernel.cuh``), and taps outside the input skipped (zero padding).

mmcv 2.1.0 has CUDA (and MLU / NPU) kernels for step 2 only; on a CPU tensor its op stops with
``RuntimeError: carafe_forward_impl: implementation for device cpu not found``.
:func:`carafe_reassemble` is step 2 in PyTorch (any dtype, autograd), and :class:`CARAFEUpsample`
is ``CARAFEPack`` (same parameters, state dict and initialisation) whose reassembly runs
mmcv's kernel on an accelerator and :func:`carafe_reassemble` on the CPU.

Registered in mmdet's ``MODELS`` as ``CARAFEUpsample`` and as ``'carafe'``: mmdet's
``FCNMaskHead`` accepts only ``upsample_cfg=dict(type='carafe', ...)`` and builds it through
mmcv's ``build_upsample_layer`` in the mmdet scope, which finds this entry before mmcv's
``CARAFEPack`` in mmengine's root registry; other scopes keep mmcv's.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

try:  # mmcv's ops are compiled; CARAFEPack's Python part imports without a GPU
    from mmcv.ops.carafe import CARAFEPack
except ImportError:  # pragma: no cover
    CARAFEPack = None

__all__ = ['carafe_reassemble', 'CARAFEUpsample', 'CHUNK_ELEMENTS']


def carafe_reassemble(features: Tensor, masks: Tensor, kernel_size: int, group_size: int,
                      scale_factor: int) -> Tensor:
    """CARAFE reassembly (Wang et al., ICCV 2019, Eq. 4) in PyTorch; ``mmcv.ops.carafe``'s
    arguments and result.

    Args:
        features: X, (N, C, H, W), any floating dtype and device.
        masks: normalised reassembly kernels W, (N, G·k², σH, σW), channel
            (g·k + n + r)·k + m + r for group g and tap (n, m) ∈ [−r, r]² (r = ⌊k/2⌋).
        kernel_size: k (odd). group_size: G (divides C). scale_factor: σ ≥ 1.

    Returns:
        X', (N, C, σH, σW), dtype of ``features``: X'(c, i', j') = Σ_{n,m} W(g, n, m; i', j')
        · X(c, ⌊i'/σ⌋ + n, ⌊j'/σ⌋ + m), taps outside X skipped. Differentiable in both inputs.

    Raises:
        ValueError: ``masks`` not (N, G·k², σH, σW), k even, G not dividing C, σ < 1.
    """
    n, c, h, w = features.shape
    k, g, s = int(kernel_size), int(group_size), int(scale_factor)
    if k < 1 or k % 2 == 0:
        raise ValueError(f'carafe_reassemble: kernel_size must be odd, got {k}')
    if s < 1 or g < 1 or c % g:
        raise ValueError(f'carafe_reassemble: need scale_factor >= 1 and group_size dividing '
                         f'the {c} channels, got scale_factor={s}, group_size={g}')
    expected = (n, g * k * k, h * s, w * s)
    if tuple(masks.shape) != expected:
        raise ValueError(f'carafe_reassemble: masks must have shape {expected} (N, G*k^2, '
                         f'scale*H, scale*W) for features {tuple(features.shape)}, got '
                         f'{tuple(masks.shape)}')
    return _CARAFEReassemble.apply(features, masks, k, g, s)


#: elements of unfolded features (N_chunk · C · k² · H · W) computed at a time (64 MB float32)
CHUNK_ELEMENTS = 1 << 24


def _chunks(n: int, per_item: int):
    """Slices of the RoI axis so that a chunk's unfolded features hold ≤ CHUNK_ELEMENTS
    elements (at least one RoI)."""
    step = max(1, CHUNK_ELEMENTS // max(per_item, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _unfold(x: Tensor, k: int, g: int) -> Tensor:
    """(N, C, H, W) → (N, G, H·W, C/G, k²): the k×k zero-padded neighbourhood of each pixel."""
    n, c, h, w = x.shape
    cols = F.unfold(x, k, padding=k // 2).view(n, g, c // g, k * k, h * w)
    return cols.permute(0, 1, 4, 2, 3)


def _kernels(masks: Tensor, n: int, g: int, k: int, h: int, w: int, s: int) -> Tensor:
    """(N, G·k², σH, σW) → (N, G, H·W, k², σ²): each source pixel's σ² kernels."""
    return masks.reshape(n, g, k * k, h, s, w, s).permute(0, 1, 3, 5, 2, 4, 6).reshape(
        n, g, h * w, k * k, s * s)


def _pixels(out: Tensor, n: int, c: int, h: int, w: int, s: int) -> Tensor:
    """(N, G, H·W, C/G, σ²) → (N, C, σH, σW)."""
    g = out.shape[1]
    return out.reshape(n, g, h, w, c // g, s, s).permute(0, 1, 4, 2, 5, 3, 6).reshape(
        n, c, h * s, w * s)


class _CARAFEReassemble(torch.autograd.Function):
    """Eq. 4 as one small matrix product per source pixel, (C/G × k²) @ (k² × σ²), over
    chunks of RoIs; only the inputs are saved and the unfolded features are recomputed in
    the backward pass (memory as mmcv's kernel: O(inputs), not O(k² · inputs))."""

    @staticmethod
    def forward(ctx, features, masks, k, g, s):
        n, c, h, w = features.shape
        out = features.new_empty(n, c, h * s, w * s)
        for sl in _chunks(n, c * k * k * h * w):
            x, m = features[sl], masks[sl]
            nc = x.shape[0]
            out[sl] = _pixels(_unfold(x, k, g) @ _kernels(m, nc, g, k, h, w, s), nc, c, h, w, s)
        ctx.save_for_backward(features, masks)
        ctx.k, ctx.g, ctx.s = k, g, s
        return out

    @staticmethod
    def backward(ctx, grad_out):
        features, masks = ctx.saved_tensors
        k, g, s = ctx.k, ctx.g, ctx.s
        n, c, h, w = features.shape
        grad_x = torch.zeros_like(features) if ctx.needs_input_grad[0] else None
        grad_m = torch.zeros_like(masks) if ctx.needs_input_grad[1] else None
        for sl in _chunks(n, c * k * k * h * w):
            x, m, go = features[sl], masks[sl], grad_out[sl]
            nc = x.shape[0]
            # (N, C, σH, σW) → (N, G, H·W, C/G, σ²), the layout of the forward product
            go = go.reshape(nc, g, c // g, h, s, w, s).permute(0, 1, 3, 5, 2, 4, 6).reshape(
                nc, g, h * w, c // g, s * s)
            if grad_x is not None:
                cols = go @ _kernels(m, nc, g, k, h, w, s).transpose(-1, -2)  # N G P C/G k²
                cols = cols.permute(0, 1, 3, 4, 2).reshape(nc, c * k * k, h * w)
                grad_x[sl] = F.fold(cols, (h, w), k, padding=k // 2)
            if grad_m is not None:
                gk = _unfold(x, k, g).transpose(-1, -2) @ go  # N G P k² σ²
                grad_m[sl] = gk.reshape(nc, g, h, w, k * k, s, s).permute(
                    0, 1, 4, 2, 5, 3, 6).reshape(nc, g * k * k, h * s, w * s)
        return grad_x, grad_m, None, None, None


if CARAFEPack is not None:
    from ..registry import register_in_scopes

    @register_in_scopes(('mmdet', ))
    class CARAFEUpsample(CARAFEPack):
        """mmcv's ``CARAFEPack`` with a CPU path: reassembly by mmcv's kernel on CUDA / MLU /
        NPU tensors, by :func:`carafe_reassemble` on CPU tensors.

        Args: as ``CARAFEPack``: channels, scale_factor, up_kernel (5), up_group (1),
        encoder_kernel (3), encoder_dilation (1), compressed_channels (64).
        Shape: (N, C, H, W) → (N, C, σH, σW).
        """

        def feature_reassemble(self, x: Tensor, mask: Tensor) -> Tensor:
            if x.device.type != 'cpu':
                return super().feature_reassemble(x, mask)
            return carafe_reassemble(x, mask, self.up_kernel, self.up_group,
                                     self.scale_factor)

    try:  # FCNMaskHead's type='carafe' in the mmdet scope
        from mmdet.registry import MODELS as _MMDET_MODELS
        _MMDET_MODELS.register_module(name='carafe', module=CARAFEUpsample)
    except ImportError:  # pragma: no cover
        pass
else:  # pragma: no cover
    CARAFEUpsample = None
