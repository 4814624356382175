"""The name → block factory (``GatedAttention``): names, gates, scopes, the alias building
the same module as the class config, and every factory block under gradcheck, extreme inputs
and bf16 autocast."""
import pytest
import torch
from mmengine.registry import DefaultScope

import gated_mm  # noqa: F401
from gated_mm.models.attention import (ATTENTION_BLOCKS, CBAM, GatedAttentionPlugin, GatherExcite,
                                       attention_cfg)
from attention_refs import D, randomise


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

GATE_NAMES = ('gate', 'channel_gate', 'spatial_gate')


def _gate_values_are_the_named_gate(m, gate):
    """Runs block ``m`` once with hooks on its gate modules: each gate's output is the named
    gate of its input (sigmoid 1/(1 + e^(−z)); APA (λ e^(−κz) + 1)^(−1/λ), κ and λ from the
    config or in the block's init range, written out here in float64) and the block's output
    is x times the gate outputs."""
    from gated_mm.models.activations import APA
    gates = [mod for n, mod in m.named_modules() if n.split('.')[-1] in GATE_NAMES]
    assert gates, 'no gate module'
    seen = []
    hooks = [mod.register_forward_hook(lambda mod, i, o: seen.append((mod, i[0], o)))
             for mod in gates]
    x = torch.randn(2, 16, 3, 3)
    with torch.no_grad():
        out = m.eval()(x)
    for h in hooks:
        h.remove()
    assert len(seen) == len(gates), 'a gate module of the block was not run'
    want_out = x
    for mod, z, y in seen:
        z = z.double()
        if gate == 'sigmoid':
            assert isinstance(mod, torch.nn.Sigmoid)
            want = 1 / (1 + torch.exp(-z))
        else:
            assert isinstance(mod, APA)
            k, lam = mod.kappa.double(), mod.lambda_.double()
            if isinstance(gate, dict):
                assert (k.item(), lam.item()) == pytest.approx((1.5, 0.4))
            else:  # the class's APA_GATE: κ in [−1, 0] (SE) or [0, 1], λ in [0, 1]
                assert -1 <= k.item() <= 1 and 0 < lam.item() <= 1
            want = (lam * torch.exp(-k * z) + 1)**(-1 / lam)
        torch.testing.assert_close(y.double(), want, rtol=1e-5, atol=1e-6)
        assert z.std() < 1e-6 or y.std() > 1e-4  # a varying input gives varying gates
        want_out = want_out * (y[:, :, None, None] if y.dim() == 2 else y)
    torch.testing.assert_close(out, want_out, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet'])
def test_factory_names_gates_and_scopes(scope):
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        for name in ATTENTION_BLOCKS:
            extra = dict(feat_size=3) if name in ('ge-theta', 'ge-theta+') else {}
            for g in ('sigmoid', 'apa', dict(type='APA', kappa_init=1.5, lambda_init=0.4)):
                torch.manual_seed(0)
                m = registry.build(dict(type='GatedAttention', name=name, gate=g, channels=16,
                                        **extra))
                _gate_values_are_the_named_gate(m, g)
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
