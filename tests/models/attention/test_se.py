"""GatedSE (Hu et al., CVPR 2018; APA layout of Alexandridis et al., ECCV 2024) against
torchvision's SqueezeExcitation and the written-out equation; styles and errors."""
import pytest
import torch
import torchvision

import gated_mm  # noqa: F401
from gated_mm.models.attention import GatedSE


def test_gated_se_sigmoid_equals_torchvision_squeeze_excitation():
    torch.manual_seed(0)
    ref = torchvision.ops.SqueezeExcitation(64, 4)
    se = GatedSE(64, ratio=16, bias=True)
    with torch.no_grad():
        se.fc1.weight.copy_(ref.fc1.weight[:, :, 0, 0])
        se.fc1.bias.copy_(ref.fc1.bias)
        se.fc2.weight.copy_(ref.fc2.weight[:, :, 0, 0])
        se.fc2.bias.copy_(ref.fc2.bias)
    x = torch.randn(2, 64, 7, 5)
    torch.testing.assert_close(se(x), ref(x))


def test_gated_se_apa_variant_equation():
    torch.manual_seed(0)
    se = GatedSE.apa_variant(32, ratio=8, gate_cfg=dict(type='APA', kappa_init=-0.4,
                                                          lambda_init=0.7)).double().eval()
    x = torch.randn(3, 32, 6, 6, dtype=torch.float64)
    y = x.mean(dim=(2, 3))
    y = (y - y.mean(1, keepdim=True)) / torch.sqrt(y.var(1, unbiased=False, keepdim=True) + 1e-5)
    y = torch.relu(y @ se.fc1.weight.T) @ se.fc2.weight.T
    gate = (0.7 * torch.exp(0.4 * y) + 1)**(-1 / 0.7)
    torch.testing.assert_close(se(x), x * gate[:, :, None, None])
    assert isinstance(se.dropout, torch.nn.Dropout) and se.dropout.p == 0.1


def test_scale_is_the_excitation_and_styles_resolve_once():
    torch.manual_seed(0)
    se = GatedSE(16, ratio=4, style='apa').double().eval()
    x = torch.randn(2, 16, 5, 3, dtype=torch.float64)
    s = se.scale(x)
    assert s.shape == (2, 16, 1, 1)
    torch.testing.assert_close(se(x), x * s, rtol=0, atol=0)
    # explicit arguments override the style; the style table is the one definition
    plain = GatedSE(16, ratio=4, style='apa', layer_norm=False, dropout=0.0)
    assert isinstance(plain.norm, torch.nn.Identity) and isinstance(plain.dropout,
                                                                    torch.nn.Identity)
    assert type(GatedSE(16, style='apa').gate).__name__ == GatedSE.STYLES['apa']['gate_cfg']['type']


def test_clear_errors():
    with pytest.raises(ValueError, match="style must be one of"):
        GatedSE(16, style='cbam')
    with pytest.raises(ValueError, match='channels and ratio must be >= 1'):
        GatedSE(0)
    with pytest.raises(ValueError, match=r'expected input \(N, 16, H, W\)'):
        GatedSE(16)(torch.zeros(1, 8, 2, 2))
