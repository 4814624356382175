"""CARAFE upsampling (gated_mm/models/heads/carafe.py) against an independent float64
transcription of CARAFE (Wang et al., ICCV 2019, arXiv:1905.02188): kernel prediction as
mmcv's ``CARAFEPack`` (channel compressor, content encoder, pixel shuffle, softmax over the
k² taps) and reassembly as the loop of mmcv's ``carafe_naive_cuda_kernel.cuh``, written out
here element by element; values, gradients (gradcheck), dtypes, the mmdet ``type='carafe'``
entry, and mmcv's CUDA op on a GPU (``device`` fixture; skipped without one)."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import gated_mm  # noqa: F401
from gated_mm.models.heads import CARAFEUpsample, carafe_reassemble

# CARAFEUpsample subclasses mmcv's CARAFEPack (mmcv.ops): with mmcv-lite (the offline GPU
# check's bundle) there is none, and this module's tests skip with the reason
pytestmark = pytest.mark.skipif(CARAFEUpsample is None, reason='mmcv has no compiled ops '
                                '(mmcv-lite): no CARAFEPack to extend')


def ref_reassemble(x: np.ndarray, masks: np.ndarray, k: int, g: int, s: int) -> np.ndarray:
    """carafe_naive_forward_cuda_kernel: one output element per (n, c, ph, pw)."""
    n_, c_, h, w = x.shape
    out = np.zeros((n_, c_, h * s, w * s))
    r = (k - 1) // 2
    for n, c, ph, pw in itertools.product(range(n_), range(c_), range(h * s), range(w * s)):
        group = c // (c_ // g)
        dph, dpw = ph // s, pw // s
        val = 0.0
        for iy in range(dph - r, dph + r + 1):
            for ix in range(dpw - r, dpw + r + 1):
                if iy < 0 or iy > h - 1 or ix < 0 or ix > w - 1:
                    continue
                mask_c = (group * k + iy - dph + r) * k + ix - dpw + r
                val += x[n, c, iy, ix] * masks[n, mask_c, ph, pw]
        out[n, c, ph, pw] = val
    return out


def ref_kernels(module, x: torch.Tensor) -> np.ndarray:
    """CARAFEPack's kernel prediction in float64 with the module's weights: 1×1 compressor,
    content encoder (padding (k_enc − 1)·d / 2), pixel shuffle written as its index map
    (out[c, σh + i, σw + j] = in[c·σ² + i·σ + j, h, w]), softmax over each group's k² taps."""
    m = module
    y = F.conv2d(x.double(), m.channel_compressor.weight.double(),
                 m.channel_compressor.bias.double())
    pad = (m.encoder_kernel - 1) * m.encoder_dilation // 2
    y = F.conv2d(y, m.content_encoder.weight.double(), m.content_encoder.bias.double(),
                 padding=pad, dilation=m.encoder_dilation).detach().numpy()
    n, cs, h, w = y.shape
    s = m.scale_factor
    shuffled = np.zeros((n, cs // (s * s), h * s, w * s))
    for c, i, j in itertools.product(range(cs // (s * s)), range(s), range(s)):
        shuffled[:, c, i::s, j::s] = y[:, c * s * s + i * s + j]
    kk = m.up_kernel**2
    grouped = shuffled.reshape(n, m.up_group, kk, h * s, w * s)
    e = np.exp(grouped - grouped.max(axis=2, keepdims=True))
    return (e / e.sum(axis=2, keepdims=True)).reshape(n, -1, h * s, w * s)


CASES = [  # channels, scale, up_kernel, up_group, encoder_kernel, encoder_dilation, H, W
    (8, 2, 5, 1, 3, 1, 5, 4),  # the R50 mask head's settings (scaled channels)
    (6, 3, 3, 2, 3, 2, 3, 4),
    (4, 2, 1, 4, 1, 1, 2, 3),
]


@pytest.mark.parametrize('case', CASES)
def test_carafe_equals_the_transcription(case):
    c, s, k, g, ke, d, h, w = case
    torch.manual_seed(0)
    m = CARAFEUpsample(c, s, up_kernel=k, up_group=g, encoder_kernel=ke, encoder_dilation=d,
                       compressed_channels=5).double()
    torch.nn.init.normal_(m.content_encoder.weight, std=0.5)  # non-uniform kernels
    x = torch.randn(2, c, h, w, dtype=torch.float64)
    out = m(x)
    assert out.dtype == torch.float64 and out.shape == (2, c, h * s, w * s)
    kernels = ref_kernels(m, x)
    expected = ref_reassemble(x.numpy(), kernels, k, g, s)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-13)
    # the reassembly alone, on non-normalised kernels
    masks = torch.randn(2, g * k * k, h * s, w * s, dtype=torch.float64)
    np.testing.assert_allclose(carafe_reassemble(x, masks, k, g, s).numpy(),
                               ref_reassemble(x.numpy(), masks.numpy(), k, g, s),
                               rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize('chunk', [None, 100])
def test_carafe_gradcheck(chunk, monkeypatch):
    """Gradients of both inputs, also when the RoIs are processed in chunks (100 elements of
    unfolded features: one RoI per chunk here)."""
    from gated_mm.models.heads import carafe
    if chunk:
        monkeypatch.setattr(carafe, 'CHUNK_ELEMENTS', chunk)
    torch.manual_seed(1)
    x = torch.randn(3, 4, 2, 3, dtype=torch.float64, requires_grad=True)
    masks = torch.randn(3, 2 * 9, 4, 6, dtype=torch.float64, requires_grad=True)
    f = lambda a, b: carafe_reassemble(a, b, 3, 2, 2)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x, masks), fast_mode=True)
    assert torch.autograd.gradcheck(f, (x[:1, :, :1], masks[:1, :, :2]))
    np.testing.assert_allclose(f(x, masks).detach().numpy(),
                               ref_reassemble(x.detach().numpy(), masks.detach().numpy(), 3, 2,
                                              2), rtol=1e-12, atol=1e-13)
    m = CARAFEUpsample(4, 2, up_kernel=3, compressed_channels=3).double()
    torch.nn.init.normal_(m.content_encoder.weight, std=0.5)
    xs = torch.randn(1, 4, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (xs, ))
    # parameter gradients reach the kernel predictor
    m(xs).square().sum().backward()
    assert m.content_encoder.weight.grad.abs().sum() > 0


def test_float32_stays_float32_and_matches_float64():
    torch.manual_seed(2)
    m = CARAFEUpsample(8, 2)
    torch.nn.init.normal_(m.content_encoder.weight, std=0.5)
    x = torch.randn(3, 8, 7, 7)
    out = m(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), m.double()(x.double()), rtol=1e-5, atol=1e-5)


def test_errors_are_one_line():
    x = torch.randn(1, 4, 3, 3)
    with pytest.raises(ValueError, match=r'masks must have shape \(1, 9, 6, 6\)'):
        carafe_reassemble(x, torch.randn(1, 9, 3, 3), 3, 1, 2)
    with pytest.raises(ValueError, match='kernel_size must be odd'):
        carafe_reassemble(x, torch.randn(1, 16, 6, 6), 4, 1, 2)
    with pytest.raises(ValueError, match='group_size dividing the 4 channels'):
        carafe_reassemble(x, torch.randn(1, 27, 6, 6), 3, 3, 2)


def test_mmdet_mask_head_builds_it_and_runs_on_cpu():
    """FCNMaskHead accepts only type='carafe'; in the mmdet scope that is CARAFEUpsample, a
    CARAFEPack (same state dict, mmdet's init path) that runs on a CPU."""
    from mmcv.ops.carafe import CARAFEPack
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = MODELS.build(dict(type='FCNMaskHead', num_convs=1, in_channels=16,
                                 conv_out_channels=16, num_classes=3,
                                 upsample_cfg=dict(type='carafe', scale_factor=2)))
    assert type(head.upsample) is CARAFEUpsample and isinstance(head.upsample, CARAFEPack)
    assert head.upsample.state_dict().keys() == CARAFEPack(16, 2).state_dict().keys()
    head.init_weights()
    out = head(torch.randn(2, 16, 14, 14))
    assert out.shape == (2, 3, 28, 28) and torch.isfinite(out).all()


def test_cuda_op_equals_cpu_path(device):
    """On a GPU the module runs mmcv's CUDA kernel: it equals the CPU path and the
    transcription (float64, and float32 to float32 rounding)."""
    torch.manual_seed(3)
    m = CARAFEUpsample(8, 2, up_kernel=5, up_group=2, compressed_channels=6).double()
    torch.nn.init.normal_(m.content_encoder.weight, std=0.5)
    x = torch.randn(2, 8, 5, 6, dtype=torch.float64)
    cpu = m(x)
    md, xd = m.to(device), x.to(device).clone().requires_grad_()
    out = md(xd)
    assert out.device.type == torch.device(device).type
    torch.testing.assert_close(out.cpu(), cpu, rtol=1e-12, atol=1e-12)
    expected = ref_reassemble(x.numpy(), ref_kernels(m.cpu(), x), 5, 2, 2)
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected, rtol=1e-12, atol=1e-12)
    out.square().sum().backward()
    x_cpu = x.clone().requires_grad_()
    m.cpu()(x_cpu).square().sum().backward()
    torch.testing.assert_close(xd.grad.cpu(), x_cpu.grad, rtol=1e-10, atol=1e-12)
    out32 = m.float().to(device)(x.float().to(device))
    torch.testing.assert_close(out32.cpu().double(), cpu, rtol=1e-4, atol=1e-5)
