"""The public codes' layouts of the gated family, for the benchmarks' "public layout" rows.

Each module computes the same function as gated_mm's module of the same name (the tests in
``tests/tools/test_public_layouts.py`` check it in float64), but the way the public
repositories compute it: straightforward autograd, every intermediate saved for backward.
They exist to be timed and measured against gated_mm's kernels (``benchmark.py``,
``benchmark_family.py``); nothing in the library uses them.

* ``unified`` / ``PublicAPA`` / ``PublicAGLU`` / ``PublicGate``: the APA repository's
  ``Unified`` gate, exp((1/λ)·Softplus_{β=−1}(κz − log λ)) = (λ·e^{−κz} + 1)^{−1/λ},
  λ clamped to ≥ 1e-4, and AGLU = z·Unified(z) (github.com/kostas1515/AGLU,
  ``classification/activations.py``; Alexandridis et al., "Adaptive Parametric Activation",
  ECCV 2024, arXiv:2407.08567, Eq. 4-5). κ and λ are scalars; without ``kappa`` / ``lambda_``
  they start as the public code's κ ~ U(0.8, 1.2), λ ~ U(0, 1).
* ``PublicIIEU``: IIEU-B (github.com/ChengjianCai/IIEU, ``iieu.py``; Cai et al., ICCV 2023):
  ‖x‖ = sqrt(k²·AvgPool(Σ_c x_pre²)), r̂ = x̃/(‖x‖‖w‖ + ε) + ν, ς(r) = r for r ≥ η else
  η·exp(r − η), φ = ς(r̂)·x̃.
* ``PublicAdaShiftB`` / ``PublicAdaShiftMA``: AdaShift's gate x·sigmoid(x + Δ) with the
  sigmoid kept for backward (Δ = LayerNorm_C(GAP(x)) for -B; gated_mm's grid shift module,
  the same parameters, for -MA).
* ``PublicCBAM``: the APA repository's ``classification/cbam.py`` ``ChannelGate`` +
  ``SpatialGate`` with a Sigmoid or ``Unified`` gate.

``register()`` adds them to the MMEngine and MMPretrain registries so that configs can name
them (``act_cfg=dict(type='PublicAGLU')``).
"""
import torch
import torch.nn.functional as F
from torch import nn

from gated_mm.models.activations import AdaShiftMA


def unified(z, kappa, lam):
    """The public APA code's ``Unified`` gate: exp((1/λ)·Softplus_{β=−1}(κz − log λ))."""
    lam = torch.clamp(lam, min=1e-4)
    return torch.exp((1 / lam) * F.softplus(kappa * z - torch.log(lam), beta=-1.0,
                                            threshold=20))


class PublicAPA(nn.Module):
    """APA (``unit=False``: the gate Unified(z)) or AGLU (``unit=True``: z·Unified(z)) with
    scalar κ, λ, in plain autograd."""

    def __init__(self, unit: bool, kappa=None, lambda_=None, **_):
        super().__init__()
        self.unit = unit
        self.kappa = nn.Parameter(torch.empty(1).uniform_(0.8, 1.2) if kappa is None else
                                  torch.tensor([float(kappa)]))
        self.lambda_ = nn.Parameter(torch.empty(1).uniform_(0.0, 1.0) if lambda_ is None else
                                    torch.tensor([float(lambda_)]))

    def forward(self, z):
        eta = unified(z, self.kappa, self.lambda_)
        return z * eta if self.unit else eta


class PublicAGLU(PublicAPA):
    """AGLU as the public code: z·Unified(z)."""

    def __init__(self, kappa=None, lambda_=None, **kwargs):
        super().__init__(True, kappa, lambda_, **kwargs)


class PublicGate(PublicAPA):
    """The APA gate as the public code: Unified(z) (the SE / CBAM gate)."""

    def __init__(self, kappa=None, lambda_=None, **kwargs):
        super().__init__(False, kappa, lambda_, **kwargs)


class PublicIIEU(nn.Module):
    """IIEU-B in plain autograd. Called as ``(x̃, x_pre, conv)`` like gated_mm's ``IIEU``."""
    needs_channels = True
    needs_conv_input = True

    def __init__(self, channels, eta_init=0.05, eps=1e-8, **_):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        nn.init.constant_(self.norm.weight, 0.01)
        nn.init.constant_(self.norm.bias, 0.0)
        self.eta = nn.Parameter(torch.full((channels, ), float(eta_init)))
        self.eps = eps

    def forward(self, xt, x_pre, conv):
        kh, kw = conv.kernel_size
        sq = x_pre.square().sum(1, keepdim=True)
        x_norm = torch.sqrt(kh * kw * F.avg_pool2d(sq, (kh, kw), conv.stride, conv.padding,
                                                   count_include_pad=True))
        w_norm = conv.weight.flatten(1).norm(dim=1).view(1, -1, 1, 1)
        nu = torch.sigmoid(self.norm(xt.mean(dim=(2, 3))))[:, :, None, None]
        r_hat = xt / (x_norm * w_norm + self.eps) + nu
        eta = self.eta.view(1, -1, 1, 1)
        return torch.where(r_hat >= eta, r_hat, eta * torch.exp((r_hat - eta).clamp(max=0))) * xt


class PublicAdaShiftB(nn.Module):
    """AdaShift-B in plain autograd: x·sigmoid(x + LayerNorm_C(GAP(x)))."""
    needs_channels = True

    def __init__(self, channels, inplace=False, **_):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        nn.init.constant_(self.norm.weight, 0.01)
        nn.init.constant_(self.norm.bias, 0.0)

    def forward(self, x):
        shift = self.norm(x.mean(dim=(2, 3)))[:, :, None, None]
        return x * torch.sigmoid(x + shift)


class PublicAdaShiftMA(AdaShiftMA):
    """AdaShift-MA with the gate x·sigmoid(x + Δ↑) in plain autograd (the shift Δ is
    gated_mm's module, the same parameters)."""

    def forward(self, x):
        n, c, h, w = x.shape
        g = self.grid_size
        delta = self.shift(x)
        if h % g == 0 and w % g == 0:
            zc = x.reshape(n, c, g, h // g, g, w // g)
            return (zc * torch.sigmoid(zc + delta.view(n, c, g, 1, g, 1))).reshape(x.shape)
        return x * torch.sigmoid(x + F.interpolate(delta, size=(h, w), mode='nearest'))


class PublicCBAM(nn.Module):
    """CBAM as the public APA code (cbam.py ``ChannelGate`` + ``SpatialGate``): LayerNorm(C)
    on the avg- and max-pooled vectors, shared MLP C → C/r → C (bias) → Dropout(0.1), summed,
    Sigmoid or Unified; then cat[max_C, mean_C] → 7×7 conv → BN(1) → Sigmoid or Unified."""

    def __init__(self, channels, ratio=16, gate='sigmoid', **_):
        super().__init__()
        self.ln = nn.LayerNorm(channels)
        self.fc1 = nn.Linear(channels, max(channels // ratio, 1))
        self.fc2 = nn.Linear(max(channels // ratio, 1), channels)
        self.drop = nn.Dropout(0.1)
        self.conv = nn.Conv2d(2, 1, 7, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)
        self.gate = gate
        if gate == 'apa':
            self.ck, self.cl, self.sk, self.sl = (nn.Parameter(torch.rand(1)) for _ in range(4))

    def _g(self, z, which):
        if self.gate == 'sigmoid':
            return torch.sigmoid(z)
        return unified(z, self.ck, self.cl) if which == 'c' else unified(z, self.sk, self.sl)

    def forward(self, x):
        total = None
        for pooled in (F.avg_pool2d(x, (x.size(2), x.size(3))),
                       F.max_pool2d(x, (x.size(2), x.size(3)))):
            raw = self.drop(self.fc2(F.relu(self.fc1(self.ln(pooled.flatten(1))))))
            total = raw if total is None else total + raw
        x = x * self._g(total[:, :, None, None].expand_as(x), 'c')
        comp = torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), 1)
        return x * self._g(self.bn(self.conv(comp)), 's')


PUBLIC_LAYOUTS = (PublicAGLU, PublicGate, PublicIIEU, PublicAdaShiftB, PublicAdaShiftMA,
                  PublicCBAM)


def register():
    """Register every public layout in the MMEngine and MMPretrain ``MODELS`` registries."""
    from mmengine.registry import MODELS as ROOT
    from mmpretrain.registry import MODELS as PRETRAIN
    for cls in PUBLIC_LAYOUTS:
        for reg in (ROOT, PRETRAIN):
            if cls.__name__ not in reg.module_dict:
                reg.register_module(module=cls)
