"""CBAM and Gather-Excite against float64 references written from the equations, the name →
block factory, and the mmdet ``plugins`` wrappers inside upstream mmdet ResNet.

References pool, normalise and upsample with explicit formulas (window loops, index maps,
batch statistics), so they share no pooling/interpolation code with the modules.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope

import gated_mm  # noqa: F401
from gated_mm.models.activations import APA
from gated_mm.models.attention import (ATTENTION_BLOCKS, CBAM, CBAMPlugin, GatedAttentionPlugin,
                                       GatherExcite, GatherExcitePlugin, attention_cfg)

D = torch.float64


def ln(v, weight, bias, eps):
    mean = v.mean(-1, keepdim=True)
    var = ((v - mean)**2).mean(-1, keepdim=True)
    return (v - mean) / torch.sqrt(var + eps) * weight + bias


def bn_train(s, bn):  # batch statistics over (N, H, W), biased variance
    mean = s.mean(dim=(0, 2, 3), keepdim=True)
    var = ((s - mean)**2).mean(dim=(0, 2, 3), keepdim=True)
    return (s - mean) / torch.sqrt(var + bn.eps) * bn.weight.view(1, -1, 1, 1) + \
        bn.bias.view(1, -1, 1, 1)


def gate(z, module):
    if isinstance(module, APA):  # APA paper Eq. (4), direct form
        return (module.lambda_ * torch.exp(-module.kappa * z) + 1)**(-1 / module.lambda_)
    return 1 / (1 + torch.exp(-z))


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


def randomise(m, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith('kappa'):
                p.uniform_(0.3, 1.2)
            elif name.endswith('lambda_'):
                p.uniform_(0.3, 1.5)
            elif name.endswith('bias'):
                p.uniform_(-0.3, 0.3)
            elif p.dim() == 1:
                p.uniform_(0.5, 1.5)
    return m


def compare(m, ref, x):
    grads = []
    for fn in (m, lambda t: ref(t, m)):
        m.zero_grad()
        xa = x.clone().requires_grad_()
        out = fn(xa)
        out.backward(torch.cos(3 * out.detach()))
        grads.append([out.detach(), xa.grad] +
                     [torch.zeros_like(p) if p.grad is None else p.grad.clone()
                      for p in m.parameters()])
    names = ['out', 'x'] + [n for n, _ in m.named_parameters()]
    for a, b, name in zip(*grads, names):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=name)


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


def test_gradcheck_every_parameter():
    cases = [CBAM.apa_variant(8, 2, dropout=0.0),
             GatherExcite(4, 'theta+', extent=2, ratio=2, gate_cfg=dict(type='APA')),
             GatherExcite(4, 'theta', feat_size=(2, 3), ratio=2)]
    for m in cases:
        randomise(m.to(D), seed=1).eval()  # BN with (random) running statistics
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.running_mean.uniform_(-0.2, 0.2)
                    mod.running_var.uniform_(0.5, 1.5)
        params = dict(m.named_parameters())
        names = list(params)

        def f(x, *values):
            return torch.func.functional_call(m, dict(zip(names, values)), (x, ))

        x = torch.randn(2, m.channels, 3, 4, dtype=D, requires_grad=True)
        assert torch.autograd.gradcheck(f, (x, ) + tuple(
            p.detach().clone().requires_grad_() for p in params.values()), fast_mode=True)


@pytest.mark.parametrize('name', sorted(ATTENTION_BLOCKS))
def test_extreme_inputs_and_bf16_autocast(name):
    torch.manual_seed(3)
    extra = dict(feat_size=4) if name in ('ge-theta', 'ge-theta+') else {}
    m = GatedAttentionPlugin(16, name=name, gate='apa', **extra)
    values = torch.tensor([-1e15, -1e4, -80.0, 0.0, 80.0, 1e4, 1e15, 1.0])
    x = values[torch.randint(0, 8, (2, 16, 5, 6))].requires_grad_()
    out = m(x)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = m(torch.nn.functional.conv2d(torch.randn(2, 16, 9, 7), torch.eye(16)[..., None,
                                                                                   None]))
    assert y.dtype == torch.bfloat16 and torch.isfinite(y).all()


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet'])
def test_factory_names_gates_and_scopes(scope):
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        for name in ATTENTION_BLOCKS:
            extra = dict(feat_size=3) if name in ('ge-theta', 'ge-theta+') else {}
            for g in ('sigmoid', 'apa', dict(type='APA', kappa_init=1.0, lambda_init=1.0)):
                m = registry.build(dict(type='GatedAttention', name=name, gate=g, channels=16,
                                        **extra))
                assert m(torch.randn(2, 16, 3, 3)).shape == (2, 16, 3, 3)
        cbam = registry.build(dict(type='CBAM', channels=16))
        ge = registry.build(dict(type='GatherExcite', channels=16, variant='theta-', extent=2))
    assert isinstance(cbam, CBAM) and isinstance(ge, GatherExcite)
    assert attention_cfg('se', 'apa', 'apa') == dict(
        type='GatedSE', ratio=16, style='apa',
        gate_cfg=dict(type='APA', kappa_init=(-1.0, 0.0), lambda_init=(0.0, 1.0)))
    assert attention_cfg('cbam', style='apa') == dict(type='CBAM', ratio=16, mode='both',
                                                      style='apa')
    with pytest.raises(ValueError, match="unknown name 'bam'"):
        attention_cfg('bam')
    with pytest.raises(ValueError, match="style='apa' exists for se and cbam"):
        attention_cfg('ge-theta', style='apa')


def test_plugins_in_upstream_mmdet_resnet():
    from mmdet.models.backbones import ResNet
    from mmdet.registry import MODELS
    plugins = [
        dict(cfg=dict(type='CBAMPlugin', gate_cfg=dict(type='APA')), stages=(True, ) * 4,
             position='after_conv3'),
        dict(cfg=dict(type='GatedAttentionPlugin', name='ge-theta-', gate='apa'),
             stages=(False, True, True, True), position='after_conv3'),
    ]
    plugins += [dict(cfg=dict(type='GatherExcitePlugin', variant='theta', feat_size=s,
                              postfix=f'_s{i}'),
                     stages=tuple(j == i for j in range(4)), position='after_conv3')
                for i, s in enumerate((16, 8, 4, 2))]
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(dict(type='ResNet', depth=50, stem_channels=8, base_channels=4,
                                  plugins=plugins, norm_eval=False))
    block = model.layer3[0]
    assert isinstance(block.cbam, CBAMPlugin) and block.cbam.channels == 64
    assert isinstance(block.gated_attention, GatedAttentionPlugin)
    assert isinstance(block.gather_excite_s2, GatherExcitePlugin)
    assert block.gather_excite_s2.feat_size == (4, 4)
    assert not hasattr(model.layer1[0], 'gated_attention')
    outs = model(torch.randn(2, 3, 75, 53))  # non-multiple-of-7 detection-like input
    assert [o.shape[1] for o in outs] == [16, 32, 64, 128]
    sum(o.sum() for o in outs).backward()
    assert block.cbam.spatial_conv.weight.grad is not None


def _fingerprint(m):
    return str(m), [(k, v.clone()) for k, v in m.state_dict().items()]


@pytest.mark.parametrize('name', sorted(ATTENTION_BLOCKS))
def test_alias_and_class_config_build_the_same_module(name):
    """GatedAttention(name, gate, style) is a thin alias: it builds the module the class config
    builds (same repr, same parameters from the same seed): one definition per variant."""
    from gated_mm.models.attention import GatedSE
    from mmengine.registry import MODELS
    extra = dict(feat_size=3) if name in ('ge-theta', 'ge-theta+') else {}
    cls_cfg = dict(ATTENTION_BLOCKS[name])
    cls = MODELS.get(cls_cfg['type'])
    styles = ('original', 'apa') if hasattr(cls, 'STYLES') else ('original', )
    for style in styles:
        for gate, gate_cfg in ((None, None), ('sigmoid', dict(type='Sigmoid')),
                               ('apa', cls.APA_GATE)):
            torch.manual_seed(0)
            a = MODELS.build(dict(type='GatedAttention', name=name, gate=gate, style=style,
                                  channels=32, **extra))
            torch.manual_seed(0)
            want = dict(cls_cfg, channels=32, **extra)
            if hasattr(cls, 'STYLES'):
                want['style'] = style
            if gate_cfg is not None:
                want['gate_cfg'] = gate_cfg
            b = MODELS.build(want)
            (ra, sa), (rb, sb) = _fingerprint(a), _fingerprint(b)
            assert ra == rb and [k for k, _ in sa] == [k for k, _ in sb]
            assert all(torch.equal(x, y) for (_, x), (_, y) in zip(sa, sb))
    # the style is the APA paper's layout, and the same as the spelled-out arguments
    torch.manual_seed(1)
    se = GatedSE(32, style='apa')
    torch.manual_seed(1)
    spelled = GatedSE(32, gate_cfg=dict(type='APA', kappa_init=(-1.0, 0.0),
                                        lambda_init=(0.0, 1.0)), layer_norm=True, dropout=0.1)
    assert _fingerprint(se)[0] == _fingerprint(spelled)[0]
    assert all(torch.equal(x, y) for (_, x), (_, y) in zip(_fingerprint(se)[1],
                                                           _fingerprint(spelled)[1]))
    with pytest.raises(ValueError, match='style must be one of'):
        GatedSE(32, style='timm')
