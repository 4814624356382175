"""``Gated`` on every model of the compatibility table (``gated_mm.models.gating.zoo``), float64.

Per model: identity (each activation replaced by its own class: bit-identical outputs and
gradients), one unit per call site (the call sites counted by hooks on the unconverted model,
each unit called once) with a non-zero gradient for every κ / λ, the unconverted checkpoint
loading with exactly the new keys missing, ``frozen_stages`` / ``norm_eval`` unchanged, and
``with_cp=True`` giving the gradients of ``with_cp=False``.
"""
import importlib

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

import gated_mm  # noqa: F401  (registers Gated, AGLU, APA)
from gated_mm.models.gating import CallSites
from gated_mm.models.gating.call_sites import functional_name, is_activation_module
from gated_mm.models.gating.zoo import ZOO, gated_cfg

NAMES = list(ZOO)
WITH_CP = [n for n in NAMES if ZOO[n]['with_cp']]
FREEZE = [n for n in NAMES if ZOO[n]['freeze']]
SE = dict(type='GatedSE', style='apa', ratio=4)


def registry(name):
    return importlib.import_module(f"{ZOO[name]['scope']}.registry").MODELS


def build(name, cfg, seed=0):
    torch.manual_seed(seed)
    # _scope_: mmengine otherwise builds in the default scope an earlier test left
    return registry(name).build(dict(cfg, _scope_=ZOO[name]['scope'])).double()


def plain(name, seed=0, **model_args):
    return build(name, dict(ZOO[name]['model'], **model_args), seed)


def gated(name, seed=0, by='AGLU', gate_by='APA', insert_cfg=None, **model_args):
    return build(name, gated_cfg(name, by, gate_by, insert_cfg, **model_args), seed)


def inputs(name, batch=2):
    shape = ZOO[name]['input_shape']
    g = torch.Generator().manual_seed(1)
    if isinstance(shape[0], (list, tuple)):
        return (tuple(torch.randn(batch, *s[1:], generator=g, dtype=torch.float64)
                      for s in shape), )
    return (torch.randn(batch, *shape[1:], generator=g, dtype=torch.float64), )


def flat(out):
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for o in out for t in flat(o)]


def run(model, name):
    """Forward (train mode, as a runner sets it: ``norm_eval`` applies; fixed seed) and
    backward of a fixed random projection of every output (a plain sum would have zero
    gradient through a final LayerNorm)."""
    model.train()
    torch.manual_seed(2)
    outs = flat(model(*inputs(name)))
    g = torch.Generator().manual_seed(3)
    sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs).backward()
    return outs


class CountCalls(TorchFunctionMode):
    """The unconverted model's activation call sites: calls of modules of the named classes
    (hooks) and functional calls of them made outside any activation module."""

    def __init__(self, model, name):
        super().__init__()
        e = ZOO[name]
        gate = e.get('gate') or {}
        self.names = set(e['act']) | set(gate.get('replace', ()))
        self.calls, self.depth = 0, 0
        self.handles = []
        within = {n for n, m in model.named_modules() if type(m).__name__ in
                  gate.get('within', ())}
        for n, m in model.named_modules():
            cls = type(m).__name__
            if cls in e['act'] or (cls in gate.get('replace', ()) and any(
                    n.startswith(w + '.') for w in within)):
                self.handles += [m.register_forward_pre_hook(self.pre),
                                 m.register_forward_hook(self.post)]
            elif is_activation_module(m):  # other activation modules: not call sites inside
                self.handles += [m.register_forward_pre_hook(self.enter),
                                 m.register_forward_hook(self.leave)]

    def pre(self, m, args):
        self.calls += 1
        self.depth += 1

    def post(self, m, args, out):
        self.depth -= 1

    def enter(self, m, args):
        self.depth += 1

    def leave(self, m, args, out):
        self.depth -= 1

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if functional_name(func) in self.names and not self.depth:
            self.calls += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize('name', NAMES)
def test_identity_bit_exact(name):
    """Each activation replaced by its own class: outputs and gradients bit-identical."""
    ref_model, model = plain(name), gated(name, by='same', gate_by='same')
    assert model.load_state_dict(ref_model.state_dict(), strict=True)
    assert any(isinstance(m, CallSites) for m in model.modules())
    ref, out = run(ref_model, name), run(model, name)
    assert len(ref) == len(out)
    for a, b in zip(ref, out):
        assert torch.equal(a, b)
    grads = dict(model.named_parameters())
    for n, p in ref_model.named_parameters():
        assert (p.grad is None) == (grads[n].grad is None), n
        if p.grad is not None:
            assert torch.equal(p.grad, grads[n].grad), n


@pytest.mark.parametrize('name', NAMES)
def test_one_unit_per_call_site_and_gradients(name):
    """Units = the call sites counted on the unconverted model; each unit runs once per
    forward; every κ and λ gets a gradient (after ``init_weights``; where a zero-initialised
    residual branch hides them at step 0, after one SGD step)."""
    ref_model = plain(name)
    with CountCalls(ref_model, name) as counter:
        ref_model(*inputs(name))
    model = gated(name, insert_cfg=SE)
    model.init_weights()
    units = [u for m in model.modules() if isinstance(m, CallSites) for u in m.units]
    assert len(units) == counter.calls > 0
    assert sum(model.gating['sites'].values()) + sum(model.gating['functional'].values()) \
        == len(units)
    calls = {id(u): 0 for u in units}
    for u in units:
        u.register_forward_hook(lambda m, a, o: calls.__setitem__(id(m), calls[id(m)] + 1))
    run(model, name)
    assert set(calls.values()) == {1}
    params = [p for u in units for p in u.parameters()]
    assert params and {type(u).__name__ for u in units} <= {'AGLU', 'APA'}

    def zero_grads():
        return [p for p in params if p.grad is None or not p.grad.abs().sum() > 0]

    if zero_grads():  # zero_init_residual: one step of the original parameters (the units
        # left as initialised) makes the residual branches non-zero
        unit_ids = {id(p) for p in params}
        torch.optim.SGD([p for p in model.parameters() if id(p) not in unit_ids],
                        lr=0.1).step()
        model.zero_grad()
        run(model, name)
    assert not zero_grads()


@pytest.mark.parametrize('name', NAMES)
def test_original_checkpoint_loads(name):
    """The unconverted state dict loads with no unexpected key and exactly the new keys
    (units, inserted blocks) missing; every original tensor is loaded."""
    ref = plain(name, seed=3).state_dict()
    model = gated(name, insert_cfg=SE)
    result = model.load_state_dict(ref, strict=False)
    assert result.unexpected_keys == []
    assert sorted(result.missing_keys) == model.gating['new_keys']
    assert model.gating['new_keys'] and set(model.gating['new_keys']).isdisjoint(ref)
    state = model.state_dict()
    for k, v in ref.items():
        assert torch.equal(state[k], v), k


@pytest.mark.parametrize('name', FREEZE)
def test_frozen_stages_and_norm_eval(name):
    """``frozen_stages`` / ``norm_eval``: after ``train()`` every original parameter has the
    unconverted model's ``requires_grad`` and every original module its ``training`` flag."""
    freeze = ZOO[name]['freeze']
    ref, model = plain(name, **freeze), gated(name, **freeze)
    ref.train()
    model.train()
    params = dict(model.named_parameters())
    frozen = [n for n, p in ref.named_parameters() if not p.requires_grad]
    assert frozen or freeze.get('norm_eval')
    for n, p in ref.named_parameters():
        assert params[n].requires_grad == p.requires_grad, n
    # the units sit where the activation was: frozen with the module that holds them
    for path, sites in model.named_modules():
        if isinstance(sites, CallSites):
            owner = path.rsplit('.', 1)[0] if '.' in path else ''
            own = [p for n, p in model.get_submodule(owner).named_parameters()
                   if '.units.' not in f'.{n}' and 'gated_' not in n] if owner else []
            if own and not any(p.requires_grad for p in own):
                assert not any(p.requires_grad for p in sites.parameters()), path
    modules = dict(model.named_modules())
    assert any(not m.training for m in ref.modules())
    for n, m in ref.named_modules():
        if not isinstance(m, (nn.ReLU, nn.GELU)) and n in modules:
            assert modules[n].training == m.training, n


@pytest.mark.parametrize('name', WITH_CP)
def test_with_cp_same_gradients(name):
    """``with_cp=True`` (activations recomputed in backward) reaches the same units: the same
    outputs and gradients (every parameter, κ / λ included) as ``with_cp=False``."""
    ref, model = gated(name, with_cp=False), gated(name, with_cp=True)
    model.load_state_dict(ref.state_dict(), strict=True)
    a, b = run(ref, name), run(model, name)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)
    grads = dict(model.named_parameters())
    for n, p in ref.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(p.grad, grads[n].grad, rtol=1e-8, atol=1e-10,
                                       msg=lambda m, n=n: f'{n}: {m}')


@pytest.mark.parametrize('cfg, match', [
    (dict(act=dict(replace=['Relu'], by=dict(type='AGLU'))),
     r"^Gated: act.replace 'Relu' matches no activation module or call of ResNet; "
     r"candidates: \['ReLU'\]$"),
    (dict(act=dict(replace=['ReLU'], by=dict(type='AGLUU'))),
     r"^Gated: act.by type 'AGLUU' is not registered; candidates: \[.*'AGLU'.*\]$"),
    (dict(act=dict(replace=['ReLU'], by=dict(type='AGLU')),
          insert=dict(after='layer9', cfg=SE)),
     r"^Gated: insert.after 'layer9' matches no module of ResNet; candidates: "
     r"\['conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4'\]$"),
    (dict(act=dict(replace=['ReLU'], by=dict(type='AGLU')),
          insert=dict(after='layer1', cfg=dict(type='NoSuchBlock'))),
     r"^Gated: insert.cfg type 'NoSuchBlock' is not registered"),
])
def test_bad_input_stops_at_build(cfg, match):
    """One line naming the key and listing the candidates, raised by the registry build."""
    with pytest.raises(ValueError, match=match) as info:
        registry('mmdet ResNet').build(
            dict(type='Gated', model=ZOO['mmdet ResNet']['model'],
                 input_shape=(1, 3, 32, 32), **cfg))
    assert '\n' not in str(info.value)


def test_data_dependent_calls_raise():
    """A forward that calls an activation a different number of times than the build-time
    probe raises instead of sharing units (the RPN head built for 5 levels, run on 3)."""
    model = gated('mmdet RPN head')
    feats = inputs('mmdet RPN head')[0]
    with pytest.raises(RuntimeError, match='called 3 times in this forward, 5 times at build'):
        model(feats[:3])


def test_insert_applies_the_block_to_the_target_output():
    """An inserted block maps the target's own output: layer1(x) == block(layer1's forward)."""
    model = gated('mmpretrain ResNet', insert_cfg=dict(type='CBAM', style='apa'))
    model.eval()
    assert sorted(model.gating['inserts']) == ['layer1', 'layer2', 'layer3', 'layer4']
    x = torch.randn(2, 8, 8, 8, dtype=torch.float64)
    raw = nn.Sequential.forward(model.layer1, x)  # the stage without its hook
    block = model.gated_attention['layer1']
    assert type(block).__name__ == 'CBAM' and block.channels == raw.shape[1]
    assert torch.equal(model.layer1(x), block(raw))
    assert not torch.equal(raw, block(raw))


@pytest.mark.parametrize('name', ['mmpretrain ResNet', 'mmdet RPN head'])
def test_deepcopy_keeps_units_and_inserts(name):
    """A deep copy (mmengine's EMA hooks copy the model) runs its own units and blocks:
    changing only the copy's new parameters (κ, λ, inserted blocks) changes only its output."""
    import copy
    model = gated(name, insert_cfg=SE)
    model.eval()
    twin = copy.deepcopy(model)
    with torch.no_grad():
        ref = flat(model(*inputs(name)))
        last = flat(twin(*inputs(name)))
        assert all(torch.equal(a, b) for a, b in zip(ref, last))
        for part in ('gated_attention.', '.units.'):  # the inserted blocks, then the units
            for n, p in twin.named_parameters():
                if part in n or n.startswith(part):
                    p.add_(0.25)
            out = flat(twin(*inputs(name)))
            assert not all(torch.equal(a, b) for a, b in zip(last, out)), part
            last = out
        same = flat(model(*inputs(name)))
    assert all(torch.equal(a, b) for a, b in zip(ref, same))


def test_builder_keeps_its_scope_under_another_default_scope():
    """``type='mmdet.Gated'`` in an mmpretrain-scoped run builds mmdet's SwinTransformer (both
    libraries register one, with different arguments): the builder pins its own scope."""
    from mmengine.registry import DefaultScope
    cfg = dict(gated_cfg('mmdet Swin', 'AGLU', 'APA', None), type='mmdet.Gated')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = registry('mmpretrain Swin').build(cfg)
    assert type(model).__module__.startswith('mmdet.'), type(model)
