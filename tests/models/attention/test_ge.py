"""Gather-Excite (GE-θ⁻/θ/θ⁺) against a float64 reference with explicit window loops and
index maps (Hu et al., NeurIPS 2018), sharing no pooling/interpolation code with the module."""
import math

import pytest
import torch
import torch.nn.functional as F

import gated_mm  # noqa: F401
from gated_mm.models.attention import GatherExcite
from attention_refs import D, bn_train, compare, gate, randomise


def window_mean(x, starts, ends_r, starts_c, ends_c):
    return torch.stack([torch.stack([x[:, :, r0:r1, c0:c1].mean(dim=(2, 3))
                                     for c0, c1 in zip(starts_c, ends_c)], -1)
                        for r0, r1 in zip(starts, ends_r)], -2)


def ref_extent_pool(x, e, pool):
    h, w = x.shape[2:]

    def spans(size):
        n = -(-size // e)  # ⌈size / e⌉ outputs
        if pool == 'overlap':  # window 2e − 1 centred on i·e, clipped to the map
            return ([max(i * e - (e - 1), 0) for i in range(n)],
                    [min(i * e + e, size) for i in range(n)])
        return [i * e for i in range(n)], [min((i + 1) * e, size) for i in range(n)]

    (r0, r1), (c0, c1) = spans(h), spans(w)
    return window_mean(x, r0, r1, c0, c1)


def ref_adaptive(x, size):
    h, w = x.shape[2:]
    sh, sw = size
    r0 = [math.floor(i * h / sh) for i in range(sh)]
    r1 = [math.ceil((i + 1) * h / sh) for i in range(sh)]
    c0 = [math.floor(i * w / sw) for i in range(sw)]
    c1 = [math.ceil((i + 1) * w / sw) for i in range(sw)]
    return window_mean(x, r0, r1, c0, c1)


def upsample_nearest(g, size):
    rows = torch.arange(size[0]) * g.shape[2] // size[0]
    cols = torch.arange(size[1]) * g.shape[3] // size[1]
    return g[:, :, rows][:, :, :, cols]


def ref_ge(x, m):
    e = m.extent
    if m.variant == 'theta-':
        g = x.mean(dim=(2, 3), keepdim=True) if e == 0 else ref_extent_pool(x, e, m.pool)
    elif e == 0:
        conv, bn = m.gather[0], m.gather[1]
        pooled = x if tuple(x.shape[2:]) == m.feat_size else ref_adaptive(x, m.feat_size)
        g = bn_train((pooled * conv.weight[:, 0]).sum(dim=(2, 3), keepdim=True)[None].squeeze(0),
                     bn)
    else:
        g = x
        convs = [mod for mod in m.gather if isinstance(mod, torch.nn.Conv2d)]
        bns = [mod for mod in m.gather if isinstance(mod, torch.nn.BatchNorm2d)]
        for i, (conv, bn) in enumerate(zip(convs, bns)):
            g = bn_train(F.conv2d(g, conv.weight, stride=2, padding=1, groups=g.shape[1]), bn)
            if i < len(convs) - 1:
                g = torch.relu(g)
    if m.variant == 'theta+':
        c1, c2 = m.mlp[0], m.mlp[2]
        g = torch.einsum('oc,nchw->nohw', c1.weight[:, :, 0, 0], g) + c1.bias.view(1, -1, 1, 1)
        g = torch.einsum('oc,nchw->nohw', c2.weight[:, :, 0, 0], torch.relu(g)) + \
            c2.bias.view(1, -1, 1, 1)
    return x * gate(upsample_nearest(g, x.shape[2:]), m.gate)


GE_CASES = [  # (variant, extent, feat_size, pool, input size)
    ('theta-', 0, None, 'overlap', (7, 5)),
    ('theta-', 2, None, 'overlap', (7, 5)),
    ('theta-', 4, None, 'overlap', (9, 13)),
    ('theta-', 3, None, 'tile', (7, 8)),
    ('theta', 0, 7, 'overlap', (7, 7)),
    ('theta', 0, (4, 3), 'overlap', (9, 7)),  # resampled to feat_size
    ('theta', 4, None, 'overlap', (9, 6)),
    ('theta+', 0, 5, 'overlap', (5, 5)),
    ('theta+', 2, None, 'overlap', (7, 6)),
]


@pytest.mark.parametrize('case', GE_CASES, ids=lambda c: f'{c[0]}-e{c[1]}-{c[3]}-{c[4]}')
@pytest.mark.parametrize('gate_type', ['Sigmoid', 'APA'])
def test_gather_excite_matches_reference(case, gate_type, device):
    variant, extent, feat_size, pool, size = case
    m = GatherExcite(16, variant, extent, feat_size, ratio=4, pool=pool,
                     gate_cfg=dict(type=gate_type))
    randomise(m.to(D), seed=extent).train()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.Conv2d):
                mod.weight.normal_(0, 0.5)
    compare(m.to(device), ref_ge, torch.randn(2, 16, *size, dtype=D).to(device))


def test_gather_excite_parameter_counts_and_errors():
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(GatherExcite(64)) == 0  # θ⁻: parameter-free
    assert n(GatherExcite(64, 'theta', feat_size=7)) == 64 * 49 + 2 * 64  # dw conv + BN
    assert n(GatherExcite(64, 'theta+', feat_size=7)) == 64 * 49 + 2 * 64 + 2 * 64 * 4 + 4 + 64
    assert n(GatherExcite(64, 'theta', extent=8)) == 3 * (64 * 9 + 2 * 64)
    with pytest.raises(ValueError, match='needs feat_size'):
        GatherExcite(8, 'theta')
    with pytest.raises(ValueError, match='power of two'):
        GatherExcite(8, 'theta', extent=6)
    with pytest.raises(ValueError, match='is not feat_size'):
        GatherExcite(8, 'theta', feat_size=7, resize='error')(torch.randn(2, 8, 9, 9))
    assert GatherExcite(8, 'theta-plus', extent=2).variant == 'theta+'
