"""Fused attention scale + residual add + APA/AGLU: the unfused results, less saved memory."""
import contextlib
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import gated_mm  # noqa: F401
from gated_mm.models.activations import (AGLU, APA, apa_aglu, fusion, kernel_mode, norm_act,
                                         residual_fusable)
from gated_mm.models.activations.residual_act import KERNELS as RESIDUAL_KERNELS
from gated_mm.models.activations.residual_act import _ResidualActFunction, residual_act
from gated_mm.models.attention import GatedSE
from gated_mm.models.backbones import GatedBottleneck, GatedResNet

D = torch.float64
RELU = dict(type='ReLU', inplace=True)
SIGMOID_SE = dict(type='GatedSE', ratio=16)
APA_SE = dict(type='GatedSE', ratio=16, gate_cfg=dict(type='APA'), layer_norm=True, dropout=0.1)


def aglu_acts(act='AGLU'):
    return {p: dict(type=act) for p in ('bn1', 'bn2', 'add')}


def block(attention=APA_SE, downsample=False, acts=None, channels=32, seed=0, **kwargs):
    torch.manual_seed(seed)
    in_ch = channels // 2 if downsample else channels
    ds = nn.Sequential(nn.Conv2d(in_ch, channels, 1, stride=2, bias=False),
                       nn.BatchNorm2d(channels)) if downsample else None
    b = GatedBottleneck(in_ch, channels, stride=2 if downsample else 1, downsample=ds,
                        act_cfgs=aglu_acts() if acts is None else acts,
                        attention_cfg=attention, **kwargs)
    with torch.no_grad():  # away from the inits (zero-init bn3, equal κ/λ ranges)
        for p in b.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return b


@pytest.fixture
def unfused():
    """Run every block with the unfused modules (the reference) from the call to the test's
    end: its end unfused (``fusion(residual_act=False)``)."""
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(fusion(residual_act=False))


def step(module, x, seed=1):
    """Output, input grad, every parameter grad and buffer after one forward/backward."""
    torch.manual_seed(seed)  # same Dropout masks in both runs
    x = x.clone().requires_grad_()
    out = module(x)
    out = out[0] if isinstance(out, tuple) else out
    out.backward(torch.cos(out.detach()))
    return ([out.detach(), x.grad] + [p.grad for p in module.parameters()] +
            [b.clone() for b in module.buffers()])


def assert_same(got, want, rtol=1e-6, atol=1e-6, exact=False):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=0 if exact else rtol, atol=0 if exact else atol)


# ----------------------------------------------------------------------------- equality
@pytest.mark.parametrize('attention', [APA_SE, None], ids=['apa-se', 'no-attention'])
@pytest.mark.parametrize('downsample', [False, True], ids=['identity', 'downsample'])
@pytest.mark.parametrize('act', ['AGLU', 'APA'])
def test_fused_block_equals_unfused(attention, downsample, act, unfused):
    """fp32 on CPU: the output, every gradient (input, convs, BNs, SE incl. LayerNorm and the
    APA gate, κ, λ) and the running statistics bit for bit as the unfused modules (the node
    repeats their arithmetic with the same kernels)."""
    fused = block(attention, downsample, aglu_acts(act))
    ref = copy.deepcopy(fused)
    assert fused.block_end_fusion() is not None
    x = torch.randn(3, fused.in_channels, 10, 10)
    got = step(fused, x)
    unfused()
    assert ref.block_end_fusion() is None
    want = step(ref, x)
    assert_same(got, want, exact=True)


@pytest.mark.parametrize('downsample', [False, True], ids=['identity', 'downsample'])
def test_compiled_fused_block_equals_eager_unfused(downsample, unfused):
    """As shipped: the torch.compile'd kernels (the SE case forms a · s + b inside the kernel,
    the BN → AGLU units y = x·α + β) against the eager unfused modules, within 1e-5 (fp32
    rounding of a different summation order, amplified through one block)."""
    x = torch.randn(2, 16 if downsample else 32, 9, 7)
    fused, ref = block(downsample=downsample), block(downsample=downsample)
    with kernel_mode('auto'):
        got = step(fused, x)
    for kernels in (apa_aglu.KERNELS, norm_act.KERNELS, RESIDUAL_KERNELS):
        assert kernels.compiled and not kernels.failed, kernels.op
    unfused()
    with kernel_mode('eager'):
        assert_same(got, step(ref, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('downsample', [False, True], ids=['identity', 'downsample'])
@pytest.mark.parametrize('act', ['AGLU', 'APA'])
def test_inference_block_end_equals_unfused(downsample, act, device):
    """Eval mode, grad disabled: SE scale, add and act[add] as one kernel pass (compiled, as
    shipped, within 1e-5 in fp32; eager float64 to rounding) against the unfused modules."""
    for dtype, mode, tol in ((torch.float32, 'auto', 1e-5), (D, 'eager', 1e-12)):
        fused = block(APA_SE, downsample, aglu_acts(act)).to(device, dtype).eval()
        x = torch.randn(2, fused.in_channels, 9, 7, dtype=dtype, device=device)
        with torch.no_grad(), kernel_mode(mode):
            plan = fused.block_end_fusion()
            assert plan is not None and plan.scale and plan.main_norm is None
            got = fused(x)
            with fusion(residual_act=False):
                assert fused.block_end_fusion() is None
                want = fused(x)
        torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    # not without grad in training mode with attention missing, nor with a hook on act[add]
    ref = block(None, downsample).eval()
    hooked = block(APA_SE, downsample).eval()
    hooked.act_add.register_forward_hook(lambda *a: None)
    with torch.no_grad():
        assert ref.block_end_fusion() is None and hooked.block_end_fusion() is None


def test_float64_fused_block_equals_unfused_to_rounding(unfused):
    fused = block(APA_SE, True).double()
    ref = copy.deepcopy(fused)
    x = torch.randn(2, 16, 6, 6, dtype=D)
    got = step(fused, x)
    unfused()
    assert_same(got, step(ref, x), rtol=1e-12, atol=1e-12)


def test_whole_gated_resnet26_forward_backward_equal():
    """The APA paper's SE layout (APA-SE, AGLU at stem/bn1/bn2/add) and an AGLU ResNet
    without attention (bn3 folded in), depth 26: fused equals unfused."""
    x = torch.randn(2, 3, 64, 64)
    for cfg in (dict(), dict(attention_cfg=None)):
        torch.manual_seed(0)
        fused = GatedResNet(depth=26, out_indices=(0, 1, 2, 3), zero_init_residual=False,
                            **cfg).train()
        ref = copy.deepcopy(fused)
        got = step(fused, x)
        with fusion(residual_act=False):
            want = step(ref, x)
        assert_same(got, want, exact=True)


def test_gradient_checkpointing_uses_the_fused_end(unfused):
    fused = block(APA_SE, True, with_cp=True)
    ref = copy.deepcopy(fused)
    x = torch.randn(2, 16, 8, 8)
    got = step(fused, x)
    unfused()
    want = step(ref, x)
    # the checkpoint recomputes the forward: BN statistics counted twice in both runs
    assert_same(got, want, exact=True)


# ----------------------------------------------------------------------------- the node
def _bn_inputs(c, seed):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(c, generator=g, dtype=D) + 0.5).requires_grad_(),
            (torch.rand(c, generator=g, dtype=D) - 0.5).requires_grad_()]


@pytest.mark.parametrize('scale,main_bn,short_bn', [(True, False, False), (False, True, False),
                                                    (True, False, True), (False, True, True),
                                                    (True, True, True)])
@pytest.mark.parametrize('unit', [True, False])
def test_gradcheck_every_input(scale, main_bn, short_bn, unit):
    torch.manual_seed(3)
    n, c, h, w = 2, 3, 4, 3
    main = (torch.randn(n, c, h, w, dtype=D) * 2).requires_grad_()
    short = torch.randn(n, c, h, w, dtype=D).requires_grad_()
    s = torch.rand(n, c, 1, 1, dtype=D).requires_grad_() if scale else None
    mw, mb = _bn_inputs(c, 1) if main_bn else (None, None)
    sw, sb = _bn_inputs(c, 2) if short_bn else (None, None)
    kappa = torch.tensor([1.1], dtype=D, requires_grad=True)
    lambda_ = torch.tensor([0.6], dtype=D, requires_grad=True)
    stats = (None, None, 0.1, 1e-5)

    def f(main, mw, mb, s, short, sw, sb, kappa, lambda_):
        return _ResidualActFunction.apply(main, mw, mb, s, short, sw, sb, kappa, lambda_,
                                          stats if main_bn else None,
                                          stats if short_bn else None, unit, D)

    assert torch.autograd.gradcheck(f, (main, mw, mb, s, short, sw, sb, kappa, lambda_))


def test_functional_fallback_and_predicate():
    act = AGLU(kappa_init=1.1, lambda_init=0.6).double()
    a, b = torch.randn(2, 4, 3, 3, dtype=D), torch.randn(2, 4, 3, 3, dtype=D)
    s = torch.rand(2, 4, 1, 1, dtype=D)
    bn = nn.BatchNorm2d(4).double()
    assert residual_fusable(act, bn) and not residual_fusable(nn.ReLU())
    assert not residual_fusable(AGLU(num_channels=4))  # per-channel κ, λ: unfused
    assert not residual_fusable(act, bn.eval())  # running statistics: unfused
    with torch.no_grad():
        assert residual_fusable(act)  # inference: one kernel pass over a, s, b
        assert not residual_fusable(act, bn) and not residual_fusable(act, None, bn)
        torch.testing.assert_close(residual_act(act, a, b, s, bn), act(bn(a) * s + b))
        torch.testing.assert_close(residual_act(act, a, b, s), act(a * s + b), rtol=1e-14,
                                   atol=1e-14)
    bn.train()
    bn2 = copy.deepcopy(bn)
    torch.testing.assert_close(residual_act(act, a, b, s, bn), act(bn2(a) * s + b))
    torch.testing.assert_close(bn.running_var, bn2.running_var)


# ----------------------------------------------------------------------------- dtypes
def _node_in_float32(act, main, shortcut, scale=None, main_norm=None, shortcut_norm=None):
    """act(bn(main)·scale + bn(shortcut)) evaluated in float32 from the node's own inputs
    (BatchNorm in training mode: batch statistics, the running ones left alone)."""
    def norm(bn, t):
        t = t.float()
        return t if bn is None else F.batch_norm(t, None, None, bn.weight.float(),
                                                  bn.bias.float(), True, 0.0, bn.eps)
    a = norm(main_norm, main)
    z = (a if scale is None else a * scale.float()) + norm(shortcut_norm, shortcut)
    with torch.autocast('cpu', enabled=False), torch.no_grad():
        return act(z)


def test_bf16_autocast_finite_close_and_saves_bf16(unfused, monkeypatch):
    """Under bfloat16 autocast the fused block end computes in float32 and rounds once: its
    output is the float32 value of the node on its (bfloat16) inputs within one bfloat16
    rounding (2^-8 relative, bound 2^-7); the unfused block agrees to its extra roundings."""
    from gated_mm.models.backbones import gated_bottleneck
    fused = block(APA_SE, True)
    ref = copy.deepcopy(fused)
    fp32 = copy.deepcopy(fused)
    x = torch.randn(2, 16, 8, 8)
    nodes = []

    def recording(*args):
        nodes.append(args)
        return residual_act(*args)

    results = []
    for m, off in ((fused, False), (ref, True)):
        if off:
            unfused()
        torch.manual_seed(1)
        xx = x.clone().requires_grad_()
        with monkeypatch.context() as patch, torch.autocast('cpu', dtype=torch.bfloat16):
            patch.setattr(gated_bottleneck, 'residual_act', recording)
            out = m(xx)
        out.float().sum().backward()
        results.append((out, xx.grad))
    torch.manual_seed(1)
    want = fp32(x)
    (out, grad), (out_ref, grad_ref) = results
    assert out.dtype == out_ref.dtype == torch.bfloat16
    assert torch.isfinite(out).all() and torch.isfinite(grad).all()
    assert len(nodes) == 1 and nodes[0][1].dtype == torch.bfloat16  # fused run only; bf16 in
    node = _node_in_float32(*nodes[0])
    torch.testing.assert_close(out.float(), node, rtol=2**-7, atol=1e-5)
    torch.testing.assert_close(out.float(), want, rtol=0.05, atol=0.1)  # bf16 convs as well
    torch.testing.assert_close(out, out_ref, rtol=0.05, atol=0.1)
    torch.testing.assert_close(grad, grad_ref, rtol=0.05, atol=0.1)


def test_node_keeps_its_inputs_in_their_own_dtype():
    act = AGLU(kappa_init=1.1, lambda_init=0.6)
    a = torch.randn(2, 4, 5, 5, dtype=torch.bfloat16, requires_grad=True)
    b = torch.randn(2, 4, 5, 5, dtype=torch.bfloat16, requires_grad=True)
    s = torch.rand(2, 4, 1, 1, dtype=torch.bfloat16, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out = residual_act(act, a, b, s)
    assert out.dtype == torch.bfloat16
    big = [t for t in saved if t.numel() == a.numel()]
    assert {t.data_ptr() for t in big} == {a.data_ptr(), b.data_ptr()}
    assert all(t.dtype == torch.bfloat16 for t in big)
    out.float().sum().backward()
    assert a.grad.dtype == s.grad.dtype == torch.bfloat16
    # computed in float32 and rounded once to bfloat16: 2^-8 relative (bound 2^-7)
    want = act(a.detach().float() * s.detach().float() + b.detach().float())
    torch.testing.assert_close(out.float(), want, rtol=2**-7, atol=1e-5)


# ----------------------------------------------------------------------------- memory
def saved_bytes(module, x, count_output=True):
    """Bytes of the storages autograd keeps in a forward (deduplicated by storage pointer).

    ``count_output``: also the block's output, which the next block's conv1 keeps; this is
    what makes blocks comparable: ReLU(inplace) keeps its output (that same tensor), an
    unfused AGLU keeps its input (an extra tensor) while its output is kept by the next block.
    """
    storages = {}

    def pack(t):
        st = t.untyped_storage()
        storages[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(x.clone().requires_grad_())
    if count_output:
        for t in (out if isinstance(out, tuple) else (out, )):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(storages.values())


@pytest.mark.parametrize('downsample', [False, True], ids=['identity', 'downsample'])
@pytest.mark.parametrize('attention', ['se', None], ids=['se', 'no-attention'])
def test_block_saved_bytes_at_most_1_05_of_relu(downsample, attention, unfused):
    """APA-SE + AGLU vs ReLU(inplace) + Sigmoid-SE (and AGLU vs ReLU without attention), one
    stage-1 bottleneck of an SE-R50 at 56×56: ≤ 1.05× with the fused end, > 1.1× without."""
    relu = block(SIGMOID_SE if attention else None, downsample, {p: RELU for p in aglu_acts()},
                 channels=256)
    gated = block(APA_SE if attention else None, downsample, channels=256)
    x = torch.randn(2, gated.in_channels, 56, 56)
    base = saved_bytes(relu, x)
    fused = saved_bytes(gated, x)
    assert fused <= 1.05 * base, fused / base
    unfused()
    assert saved_bytes(gated, x) > 1.1 * base  # the fused end is what closes the gap


def test_whole_se_resnet_saved_bytes_at_most_1_05_of_relu(unfused):
    x = torch.randn(2, 3, 112, 112)
    torch.manual_seed(0)
    relu = GatedResNet(depth=26, act_cfg=RELU, attention_cfg=SIGMOID_SE).train()
    gated = GatedResNet(depth=26).train()  # APA-SE + AGLU
    base = saved_bytes(relu, x, count_output=False)
    assert saved_bytes(gated, x, count_output=False) <= 1.05 * base
    unfused()
    assert saved_bytes(gated, x, count_output=False) > 1.05 * base


def test_se_gate_path_keeps_no_full_size_tensor():
    """GatedSE.scale (mean, LayerNorm, MLP, Dropout, APA): only (N, C)-sized saves, and
    forward(x) == x * scale(x)."""
    se = GatedSE.apa_variant(64)
    x = torch.randn(2, 64, 9, 9, requires_grad=True)
    sizes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.numel()) or t,
                                                  lambda t: t):
        s = se.scale(x)
    assert s.shape == (2, 64, 1, 1)
    assert sizes and max(sizes) <= 2 * 64 + 64 * 4  # (N, C) vectors and the fc weights
    torch.manual_seed(0)
    out = se(x)
    torch.manual_seed(0)
    assert torch.equal(out, x * se.scale(x))


# ----------------------------------------------------------------------------- fallbacks
@pytest.mark.parametrize('case', ['eval', 'merge', 'relu_add', 'per_channel',
                                  'cbam', 'act3_without_attention', 'act_shortcut', 'hook'])
def test_unfused_where_fusing_saves_nothing_or_is_not_equivalent(case):
    kwargs, acts = {}, aglu_acts()
    attention = APA_SE
    if case == 'eval':  # bn3 (and a downsample BN) can only be folded in training mode
        attention = None
    elif case == 'merge':
        kwargs['merge_cfg'] = dict(type='DynamicCoupler')
    elif case == 'relu_add':
        acts['add'] = RELU
    elif case == 'per_channel':
        acts['add'] = dict(type='AGLU', num_channels=32)
    elif case == 'cbam':
        attention = dict(type='CBAM', ratio=16)
    elif case == 'act3_without_attention':
        attention, acts['bn3'] = None, dict(type='AGLU')
    elif case == 'act_shortcut':
        acts['shortcut'] = dict(type='AGLU')
    b = block(attention, case == 'act_shortcut', acts, **kwargs)
    if case == 'eval':
        b.eval()
    elif case == 'hook':
        b.attention.register_forward_hook(lambda *args: None)
    x = torch.randn(2, b.in_channels, 6, 6, requires_grad=True)
    assert b.block_end_fusion() is None
    b(x)
