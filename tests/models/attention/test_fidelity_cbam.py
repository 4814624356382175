"""CBAM (``style='apa'``) against an independent transcription of the public APA code.

The reference below is written from github.com/kostas1515/AGLU, ``classification/cbam.py``
(``ChannelGate``, ``SpatialGate``, ``CBAM``, ``Unified``) as used by the bottlenecks of
``classification/resnet_pytorch.py``: ``CBAMBottleneck`` (Sigmoid gates), ``CBAMBottleneckGumbel``
(APA channel and spatial gates), ``CBAMBottleneckGumbelSigmoid`` (APA channel, Sigmoid spatial),
``SpatialBottleneck`` / ``SpatialBottleneckGumbel`` (``no_channel=True``; ``sp_resnet50``,
``sp_resnext50_32x4d``). Public facts used:

* channel gate: one LayerNorm(C) (eps 1e-5) applied to the avg- and to the max-pooled vector,
  shared MLP Linear(C, C/r) → ReLU → Linear(C/r, C) (with bias) → Dropout(0.1), outputs summed,
  then Sigmoid or ``Unified``;
* spatial gate: cat[max_C, mean_C] → Conv2d(2, 1, 7, padding 3, no bias) → BatchNorm2d(1,
  eps 1e-5, momentum 0.01) → Sigmoid or ``Unified``;
* ``Unified``: λ clamped at min 1e-4, p = exp((1/λ)·Softplus_{β=−1}(κz − log λ)) with torch's
  Softplus threshold 20; κ, λ ~ U(0, 1), one scalar each.

Parameters are copied from our module into independent leaf tensors; outputs, the input
gradient, every parameter gradient and the BN running statistics are compared. Dropout is in
eval mode in both (its masks are random); BN in training mode (batch statistics).
``python tests/models/attention/test_fidelity_cbam.py`` prints the table of docs/fidelity.md.
"""
import pytest
import torch
import torch.nn.functional as F

import gated_mm  # noqa: F401
from gated_mm.models.attention import CBAM

SIG = dict(type='Sigmoid')
APA = dict(type='APA', kappa_init=(0.0, 1.0), lambda_init=(0.0, 1.0), lambda_min=1e-4)
# (id, mode, channel gate, spatial gate, public model)
CASES = [
    ('cbam-sigmoid', 'both', SIG, SIG, 'cb_resnet50 / CBAMBottleneck'),
    ('cbam-apa', 'both', APA, APA, 'cb_resnet50(use_gumbel, use_gumbel_cb) / CBAMBottleneckGumbel'),
    ('cbam-apa-sigmoid', 'both', APA, SIG, 'cb_resnet50(use_gumbel) / CBAMBottleneckGumbelSigmoid'),
    ('spatial-sigmoid', 'spatial', None, SIG, 'sp_resnext50_32x4d / SpatialBottleneck'),
    ('spatial-apa', 'spatial', None, APA, 'sp_resnext50_32x4d(use_gumbel) / '
     'SpatialBottleneckGumbel'),
]


def public_unified(z, kappa, lam):
    lam = torch.clamp(lam, min=0.0001)
    return torch.exp((1 / lam) * F.softplus(kappa * z - torch.log(lam), beta=-1.0, threshold=20))


def public_gate(kind, p):
    return torch.sigmoid if kind is SIG else (lambda z: public_unified(z, p['kappa'], p['lam']))


def public_cbam(x, p, mode, cgate, sgate, running):
    if mode == 'both':
        c = x.shape[1]
        total = None
        for pooled in (F.avg_pool2d(x, (x.size(2), x.size(3))), F.max_pool2d(
                x, (x.size(2), x.size(3)))):
            v = F.layer_norm(pooled.flatten(1), (c, ), p['ln_w'], p['ln_b'], 1e-5)
            raw = F.linear(F.relu(F.linear(v, p['fc1_w'], p['fc1_b'])), p['fc2_w'], p['fc2_b'])
            total = raw if total is None else total + raw
        x = x * public_gate(cgate, p.get('cg'))(total[:, :, None, None].expand_as(x))
    comp = torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), dim=1)
    s = F.conv2d(comp, p['conv_w'], padding=3)
    s = F.batch_norm(s, running[0], running[1], p['bn_w'], p['bn_b'], True, 0.01, 1e-5)
    return x * public_gate(sgate, p.get('sg'))(s)


def build_pair(mode, cgate, sgate, dtype, device, seed=0, below_floor=False):
    torch.manual_seed(seed)
    m = CBAM(32, 4, mode=mode, style='apa', gate_cfg=cgate or SIG, spatial_gate_cfg=sgate)
    m = m.to(device=device, dtype=dtype).train()
    if hasattr(m, 'dropout'):
        m.dropout.eval()
    with torch.no_grad():  # away from the inits, so that every parameter matters
        for mod in m.modules():
            if hasattr(mod, 'kappa'):
                mod.kappa.uniform_(-0.5, 1.5)
                mod.lambda_.uniform_(0.2, 1.5)
        if below_floor and hasattr(m, 'channel_gate') and hasattr(m.channel_gate, 'lambda_'):
            m.channel_gate.lambda_.fill_(5e-5)  # below the 1e-4 floor: clamped, zero gradient
        if hasattr(m, 'norm'):
            m.norm.weight.uniform_(0.5, 1.5)
            m.norm.bias.uniform_(-0.3, 0.3)
        m.spatial_norm.weight.uniform_(0.5, 1.5)
        m.spatial_norm.bias.uniform_(-0.3, 0.3)

    def leaf(t):
        return t.detach().clone().requires_grad_()

    p = dict(conv_w=leaf(m.spatial_conv.weight), bn_w=leaf(m.spatial_norm.weight),
             bn_b=leaf(m.spatial_norm.bias))
    pairs = [('conv_w', m.spatial_conv.weight), ('bn_w', m.spatial_norm.weight),
             ('bn_b', m.spatial_norm.bias)]
    if mode == 'both':
        for k, t in (('ln_w', m.norm.weight), ('ln_b', m.norm.bias), ('fc1_w', m.fc1.weight),
                     ('fc1_b', m.fc1.bias), ('fc2_w', m.fc2.weight), ('fc2_b', m.fc2.bias)):
            p[k] = leaf(t)
            pairs.append((k, t))
    for key, name in (('cg', 'channel_gate'), ('sg', 'spatial_gate')):
        gate = getattr(m, name, None)
        if gate is not None and hasattr(gate, 'kappa'):
            p[key] = dict(kappa=leaf(gate.kappa), lam=leaf(gate.lambda_))
            pairs += [(f'{key}.kappa', gate.kappa), (f'{key}.lambda', gate.lambda_)]
    return m, p, pairs


def _get(p, key):
    a, _, b = key.partition('.')
    return p[a][{'kappa': 'kappa', 'lambda': 'lam'}[b]] if b else p[a]


def compare(case, dtype, device='cpu', seed=0, below_floor=False):
    """Max relative difference max|ours − public| / max|public| of the output, the input
    gradient, every parameter gradient and the running statistics."""
    _, mode, cgate, sgate, _ = case
    m, p, pairs = build_pair(mode, cgate, sgate, dtype, device, seed, below_floor)
    torch.manual_seed(seed + 1)
    x = torch.randn(3, 32, 7, 6, dtype=dtype, device=device)
    weight = torch.randn(3, 32, 7, 6, dtype=dtype, device=device)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out = m(xa)
    (out * weight).sum().backward()
    running = [torch.zeros(1, dtype=dtype, device=device), torch.ones(1, dtype=dtype,
                                                                        device=device)]
    want = public_cbam(xb, p, mode, cgate, sgate, running)
    (want * weight).sum().backward()

    def rel(a, b):
        scale = b.abs().max().item()
        return (a - b).abs().max().item() / (scale if scale > 0 else 1.0)

    diffs = {'output': rel(out.detach(), want.detach()), 'grad input': rel(xa.grad, xb.grad)}
    for key, t in pairs:
        ref = _get(p, key).grad
        diffs[f'grad {key}'] = rel(t.grad, ref)
    diffs['running mean'] = rel(m.spatial_norm.running_mean, running[0])
    diffs['running var'] = rel(m.spatial_norm.running_var, running[1])
    return diffs


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_cbam_apa_style_equals_public_code(case, device):
    d64 = compare(case, torch.float64, device)
    assert len(d64) >= 6
    for name, v in d64.items():
        assert v <= 1e-12, (name, v)
    d32 = compare(case, torch.float32, device)
    for name, v in d32.items():
        assert v <= 2e-5, (name, v)


def test_apa_lambda_floor_as_public_clamp():
    """λ below 1e-4 is used as 1e-4 (public torch.clamp(λ, min=1e-4)), with zero gradient."""
    d = compare(CASES[1], torch.float64, below_floor=True)
    for name, v in d.items():
        assert v <= 1e-12, (name, v)


def test_style_defaults_are_the_public_layout():
    m = CBAM(64, style='apa')
    assert isinstance(m.norm, torch.nn.LayerNorm) and m.norm.eps == 1e-5
    assert m.dropout.p == 0.1 and m.fc1.bias is not None and m.fc1.out_features == 4
    assert torch.all(m.spatial_norm.weight == 1.0) and m.spatial_norm.momentum == 0.01
    assert m.spatial_norm.eps == 1e-5 and m.spatial_conv.bias is None
    for gate in (m.channel_gate, m.spatial_gate):
        assert gate.kappa.numel() == 1 and 0 <= gate.kappa.item() <= 1
        assert 0 <= gate.lambda_.item() <= 1 and gate.lambda_min == 1e-4
    orig = CBAM(64)
    assert isinstance(orig.norm, torch.nn.Identity) and isinstance(orig.dropout, torch.nn.Identity)
    assert torch.all(orig.spatial_norm.weight == 0.0)


if __name__ == '__main__':
    for case in CASES:
        for dtype in (torch.float64, torch.float32):
            d = compare(case, dtype)
            worst = max(d, key=d.get)
            print(f'{case[0]:18s} {str(dtype)[6:]:8s} output {d["output"]:.1e}  worst gradient '
                  f'{max(v for k, v in d.items() if k.startswith("grad")):.1e} ({worst}); '
                  f'{len(d)} tensors; public: {case[4]}')
