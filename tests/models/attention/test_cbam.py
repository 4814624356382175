"""CBAM (channel, spatial, both; original and APA layout) against a float64 reference
written from the equations (Woo et al., ECCV 2018)."""
import pytest
import torch
import torch.nn.functional as F

import gated_mm  # noqa: F401
from gated_mm.models.activations import APA
from gated_mm.models.attention import CBAM
from attention_refs import D, bn_train, compare, gate, ln, randomise


def ref_cbam(x, m):
    if m.mode in ('both', 'channel'):
        total = 0
        for p in (x.mean(dim=(2, 3)), x.amax(dim=(2, 3))):
            if isinstance(m.norm, torch.nn.LayerNorm):
                p = ln(p, m.norm.weight, m.norm.bias, m.norm.eps)
            total = total + torch.relu(p @ m.fc1.weight.T + m.fc1.bias) @ m.fc2.weight.T + \
                m.fc2.bias
        x = x * gate(total, m.channel_gate)[:, :, None, None]
    if m.mode in ('both', 'spatial'):
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        s = F.conv2d(pooled, m.spatial_conv.weight, padding=m.spatial_conv.padding)
        x = x * gate(bn_train(s, m.spatial_norm), m.spatial_gate)
    return x

@pytest.mark.parametrize('mode', ['both', 'channel', 'spatial'])
@pytest.mark.parametrize('apa_style', [False, True])
def test_cbam_matches_reference(mode, apa_style, device):
    kwargs = dict(mode=mode, dropout=0.0)  # Dropout is the identity in the comparison
    m = CBAM.apa_variant(32, 8, **kwargs) if apa_style else CBAM(32, 8, **kwargs)
    randomise(m.to(D)).to(device).train()
    compare(m, ref_cbam, torch.randn(3, 32, 6, 5, dtype=D).to(device))


def test_cbam_variants_layout_and_init():
    orig = CBAM(64)
    assert isinstance(orig.norm, torch.nn.Identity) and isinstance(orig.dropout, torch.nn.Identity)
    assert orig.fc1.bias is not None and isinstance(orig.channel_gate, torch.nn.Sigmoid)
    assert orig.spatial_norm.momentum == 0.01 and orig.spatial_norm.eps == 1e-5
    torch.manual_seed(0)
    apa = CBAM.apa_variant(64)
    assert isinstance(apa.norm, torch.nn.LayerNorm) and apa.dropout.p == 0.1
    assert isinstance(apa.channel_gate, APA) and isinstance(apa.spatial_gate, APA)
    assert apa.channel_gate is not apa.spatial_gate
    assert 0 <= apa.channel_gate.kappa.item() <= 1 and 0 <= apa.spatial_gate.kappa.item() <= 1
    # the backbone's Constant(1) BN init must not undo the original CBAM's zero BN weight
    from gated_mm.models.backbones import GatedResNet
    for style, want in (('original', 0.0), ('apa', 1.0)):
        model = GatedResNet(depth=26, base_channels=8, stem_channels=8, act_cfg=dict(
            type='ReLU'), attention_cfg=dict(type='GatedAttention', name='cbam', style=style))
        model.init_weights()
        assert model.layer2[1].attention.spatial_norm.weight.item() == want
        assert model.layer2[1].norm1.weight.mean().item() == 1.0


# ------------------------------------------------------------------------ Gather-Excite
