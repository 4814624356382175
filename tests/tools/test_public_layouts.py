"""tools/analysis_tools/public_layouts.py: the public codes' layouts that the benchmarks time
compute the same functions as gated_mm's modules (float64), so a benchmark compares two
layouts of one model, not two models. The equations are also written out here, from the
public repositories, independently of both."""
import math

import pytest
import torch
import torch.nn.functional as F

import gated_mm  # noqa: F401


@pytest.fixture(scope='module')
def pub(analysis_tool):
    return analysis_tool('public_layouts')


def _close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('unit', [False, True])
def test_apa_and_aglu(pub, unit):
    """Unified(z) = (λ e^(−κz) + 1)^(−1/λ) (APA repository, activations.py), AGLU = z·Unified."""
    from gated_mm.models.activations import AGLU, APA
    z = torch.linspace(-30, 30, 601, dtype=torch.float64)
    kappa, lam = 1.1, 0.6
    ours = (AGLU if unit else APA)(kappa_init=kappa, lambda_init=lam).double()
    layout = (pub.PublicAGLU if unit else pub.PublicGate)(kappa, lam).double()
    # both store κ, λ as float32 parameters before .double(): the equation uses their values
    for module in (layout, ours):
        k, lam_ = float(module.kappa), float(module.lambda_)
        assert abs(k - kappa) < 1e-6 and abs(lam_ - lam) < 1e-6
        gate = (lam_ * torch.exp(-k * z) + 1) ** (-1 / lam_)
        _close(module(z), z * gate if unit else gate)


def test_public_init_ranges(pub):
    torch.manual_seed(0)
    m = pub.PublicAGLU()
    assert 0.8 <= m.kappa.item() <= 1.2 and 0.0 <= m.lambda_.item() <= 1.0


def test_iieu_b(pub):
    from gated_mm.models.activations import IIEU
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 8, 3, padding=1, bias=False).double()
    x_pre = torch.randn(2, 6, 9, 9, dtype=torch.float64)
    xt = conv(x_pre)
    ours, layout = IIEU(8).double(), pub.PublicIIEU(8).double()
    layout.load_state_dict(ours.state_dict())
    _close(layout(xt, x_pre, conv), ours(xt, x_pre, conv))
    # iieu.py written out once more per position: ‖x‖ is the norm of the k×k zero-padded
    # patch of x_pre under each output position, over all input channels
    pad = F.pad(x_pre, (1, 1, 1, 1))
    n, i, j = 1, 4, 7
    x_norm = math.sqrt(float(pad[n, :, i:i + 3, j:j + 3].square().sum()))
    w_norm = conv.weight.flatten(1).norm(dim=1)
    nu = torch.sigmoid(ours.norm(xt.mean(dim=(2, 3))))[n]
    r = xt[n, :, i, j] / (x_norm * w_norm + 1e-8) + nu
    eta = ours.eta.detach()
    sigma = torch.where(r >= eta, r, eta * torch.exp(torch.clamp(r - eta, max=0)))
    _close(layout(xt, x_pre, conv)[n, :, i, j], sigma * xt[n, :, i, j])


def test_adashift_b_and_ma(pub):
    from gated_mm.models.activations import AdaShiftB, AdaShiftMA
    torch.manual_seed(0)
    x = torch.randn(2, 8, 14, 14, dtype=torch.float64)
    ours, layout = AdaShiftB(8).double(), pub.PublicAdaShiftB(8).double()
    with torch.no_grad():
        ours.norm.weight.uniform_(0.5, 1.5)
    layout.load_state_dict(ours.state_dict())
    shift = F.layer_norm(x.mean(dim=(2, 3)), (8, ), ours.norm.weight, ours.norm.bias, 1e-6)
    _close(layout(x), x * torch.sigmoid(x + shift[:, :, None, None]))
    _close(ours(x), layout(x))
    for size in (14, 15):  # grid-divisible (reshape path) and not (nearest upsampling)
        x = torch.randn(2, 8, size, size, dtype=torch.float64)
        ours = AdaShiftMA(8, num_heads=2).double()
        with torch.no_grad():  # LayerNorm affines away from their init (Δ ≈ 0 at weight 0.01)
            for p in ours.parameters():
                p.uniform_(0.5, 1.5)
        layout = pub.PublicAdaShiftMA(8, num_heads=2).double()
        layout.load_state_dict(ours.state_dict())
        want = x * torch.sigmoid(x + _ma_shift(x, ours))
        _close(layout(x), want)
        _close(ours(x), layout(x))


def _ln(v, norm):
    mean = v.mean(-1, keepdim=True)
    return (v - mean) / torch.sqrt(((v - mean)**2).mean(-1, keepdim=True) + norm.eps) * \
        norm.weight + norm.bias


def _ma_shift(x, m):
    """Δ of AdaShift-MA written out (the slides' MA(avgpool) on a 7×7 grid, per-head
    softmax(q kᵀ/√d) v of three LayerNorm'd token copies, LayerNorm), pooled bin by bin
    (cell j covers rows ⌊jH/7⌋ … ⌈(j+1)H/7⌉ − 1, the public K×K cell when 7 divides H) and
    broadcast back per pixel (row i takes cell ⌊7i/H⌋), with none of the module's code."""
    n, c, h, w = x.shape
    heads, g = m.num_heads, 7
    d = c // heads
    cells = [[x[:, :, h * i // g:-(-h * (i + 1) // g), w * j // g:-(-w * (j + 1) // g)]
              .mean(dim=(2, 3)) for j in range(g)] for i in range(g)]
    tokens = torch.stack([t for row in cells for t in row], 1)  # (N, 49, C), row-major
    q, k, v = (_ln(tokens, norm).view(n, g * g, heads, d)
               for norm in (m.norm_q, m.norm_k, m.norm_v))
    out = torch.zeros(n, g * g, heads, d, dtype=x.dtype)
    for head in range(heads):
        att = torch.softmax(q[:, :, head] @ k[:, :, head].transpose(1, 2) / math.sqrt(d), -1)
        out[:, :, head] = att @ v[:, :, head]
    delta = _ln(out.reshape(n, g * g, c), m.norm)  # (N, 49, C)
    index = torch.tensor([[(g * i // h) * g + g * j // w for j in range(w)] for i in range(h)])
    return delta[:, index].permute(0, 3, 1, 2)  # (N, C, H, W)


def test_registered(pub):
    from mmengine.registry import MODELS
    pub.register()
    for cls in pub.PUBLIC_LAYOUTS:
        assert MODELS.get(cls.__name__) is cls
