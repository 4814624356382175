"""AdaShift-B and AdaShift-MA against float64 references written from the equations.

The MA reference pools with explicit loops over the grid bins (⌊jH/g⌋ … ⌈(j+1)H/g⌉ − 1, the
public K×K cells when g divides H), runs the per-head attention with einsum, and broadcasts Δ
back by index (row i → bin ⌊i·g/H⌋), so it shares no pooling/upsampling code with the module.
"""
import math

import pytest
import torch
from mmengine.registry import MODELS

import gated_mm  # noqa: F401
from gated_mm.models.activations import AdaShiftB, AdaShiftMA

D = torch.float64


def ln(v, weight, bias, eps=1e-6):
    mean = v.mean(-1, keepdim=True)
    var = ((v - mean)**2).mean(-1, keepdim=True)
    return (v - mean) / torch.sqrt(var + eps) * weight + bias


def ref_b(x, m):
    shift = ln(x.mean(dim=(2, 3)), m.norm.weight, m.norm.bias)[:, :, None, None]
    return x * torch.sigmoid(x + shift)


def bins(size, g):
    return [(math.floor(j * size / g), math.ceil((j + 1) * size / g)) for j in range(g)]


def ref_ma(x, m):
    n, c, h, w = x.shape
    g, heads = m.grid_size, m.num_heads
    d = c // heads
    grid = torch.stack([torch.stack([x[:, :, r0:r1, c0:c1].mean(dim=(2, 3))
                                     for c0, c1 in bins(w, g)], -1)
                        for r0, r1 in bins(h, g)], -2)  # (N, C, g, g)
    tokens = grid.flatten(2).transpose(1, 2)  # (N, g², C), row-major cells
    q, k, v = (ln(tokens, nm.weight, nm.bias).view(n, g * g, heads, d)
               for nm in (m.norm_q, m.norm_k, m.norm_v))
    attn = torch.softmax(torch.einsum('nihd,njhd->nhij', q, k) / math.sqrt(d), dim=-1)
    out = torch.einsum('nhij,njhd->nihd', attn, v).reshape(n, g * g, c)
    if m.proj is not None:
        out = out @ m.proj.weight.T
    delta = ln(out, m.norm.weight, m.norm.bias).transpose(1, 2).reshape(n, c, g, g)
    rows = torch.arange(h) * g // h
    cols = torch.arange(w) * g // w
    delta = delta[:, :, rows][:, :, :, cols]
    return x * torch.sigmoid(x + delta)


def randomise(m, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith('weight') and p.dim() == 1:
                p.uniform_(0.5, 1.5)
            elif name.endswith('bias'):
                p.uniform_(-0.5, 0.5)
    return m


def compare(m, ref, x, rtol=1e-10, atol=1e-12):
    grads = []
    for fn in (m, lambda t: ref(t, m)):
        m.zero_grad()
        xa = x.clone().requires_grad_()
        out = fn(xa)
        out.backward(torch.cos(3 * out.detach()))
        grads.append([out.detach(), xa.grad] + [p.grad.clone() for p in m.parameters()])
    names = ['out', 'x'] + [n for n, _ in m.named_parameters()]
    for a, b, name in zip(*grads, names):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol, msg=name)


def test_adashift_b_matches_reference_and_defaults():
    m = randomise(AdaShiftB(6).to(D))
    compare(m, ref_b, torch.randn(3, 6, 5, 7, dtype=D) * 2)
    fresh = MODELS.build(dict(type='AdaShiftB', channels=6))
    assert torch.all(fresh.norm.weight == 0.01) and torch.all(fresh.norm.bias == 0)
    assert sum(p.numel() for p in fresh.parameters()) == 2 * 6 and fresh.norm.eps == 1e-6


@pytest.mark.parametrize('size', [(14, 21), (10, 17), (5, 3), (7, 7)])
def test_adashift_ma_matches_reference_at_any_size(size, device):
    m = randomise(AdaShiftMA(16, num_heads=2).to(D), seed=1).to(device)
    compare(m, ref_ma, torch.randn(2, 16, *size, dtype=D).to(device))


def test_adashift_ma_public_layout_heads_and_stem_variant():
    m = AdaShiftMA(192)  # public rule: heads = max(C // 64, 1)
    assert m.num_heads == 3 and m.head_dim == 64 and m.proj is None
    assert AdaShiftMA(32).num_heads == 1
    assert sum(p.numel() for p in m.parameters()) == 8 * 192  # four LayerNorms
    assert torch.all(m.norm.weight == 0.01) and torch.all(m.norm_q.weight == 1)
    stem = randomise(AdaShiftMA(16, proj=True, shift_weight_init=1.0).to(D), seed=2)
    assert stem.proj.weight.shape == (16, 16) and stem.proj.bias is None
    compare(stem, ref_ma, torch.randn(2, 16, 21, 14, dtype=D))


def test_multiple_of_seven_equals_public_cell_broadcast():
    """At H, W = 7K the module is exactly the public K×K pooling and broadcast (224 inputs)."""
    m = randomise(AdaShiftMA(8, num_heads=1).to(D), seed=3)
    x = torch.randn(2, 8, 28, 14, dtype=D)
    n, c, h, w = x.shape
    cells = x.view(n, c, 7, 4, 7, 2)
    pooled = cells.mean(dim=(3, 5))
    tokens = pooled.flatten(2).transpose(1, 2)
    q, k, v = (ln(tokens, nm.weight, nm.bias) for nm in (m.norm_q, m.norm_k, m.norm_v))
    out = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(8), -1) @ v
    delta = ln(out, m.norm.weight, m.norm.bias).transpose(1, 2).reshape(n, c, 7, 1, 7, 1)
    want = (cells * torch.sigmoid(cells + delta)).view(n, c, h, w)
    torch.testing.assert_close(m(x), want)


def test_gradcheck_every_parameter():
    for m, size in ((randomise(AdaShiftB(4).to(D)), (3, 2)),
                    (randomise(AdaShiftMA(4, grid_size=2, num_heads=2, proj=True).to(D)),
                     (3, 5))):
        params = dict(m.named_parameters())
        names = list(params)

        def f(x, *values):
            return torch.func.functional_call(m, dict(zip(names, values)), (x, ))

        x = torch.randn(2, 4, *size, dtype=D, requires_grad=True)
        assert torch.autograd.gradcheck(f, (x, ) + tuple(
            p.detach().clone().requires_grad_() for p in params.values()), fast_mode=True)


@pytest.mark.parametrize('cls', [AdaShiftB, AdaShiftMA])
def test_finite_at_extreme_inputs_and_under_bf16_autocast(cls):
    torch.manual_seed(4)
    m = cls(8)
    values = torch.tensor([-1e15, -1e4, -80.0, 0.0, 80.0, 1e4, 1e15, 1.0])
    x = values[torch.randint(0, 8, (2, 8, 5, 9))].requires_grad_()
    out = m(x)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())
    conv = torch.nn.Conv2d(8, 8, 1)
    z = torch.randn(2, 8, 9, 11)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        h = conv(z)
        y = m(h)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), m(h.float()), rtol=2**-7, atol=2**-7)


def test_clear_errors():
    with pytest.raises(ValueError, match='divisible by num_heads'):
        AdaShiftMA(130, num_heads=4)
    with pytest.raises(ValueError, match=r'expected input \(N, 8, H, W\)'):
        AdaShiftMA(8)(torch.randn(2, 6, 7, 7))
    with pytest.raises(ValueError, match='channels must be a positive int'):
        AdaShiftB(0)


# ----------------------------------------------------------------------------- memory
def plain_gate_ma(m, x):
    """The MA gate z·sigmoid(z + Δ↑) in plain autograd (keeps the full-size sigmoid)."""
    n, c, h, w = x.shape
    g = m.grid_size
    delta = m.shift(x)
    if h % g == 0 and w % g == 0:
        zc = x.reshape(n, c, g, h // g, g, w // g)
        return (zc * torch.sigmoid(zc + delta.view(n, c, g, 1, g, 1))).reshape(n, c, h, w)
    return x * torch.sigmoid(x + torch.nn.functional.interpolate(delta, size=(h, w)))


def plain_gate_b(m, x):
    shift = torch.nn.functional.layer_norm(x.mean(dim=(2, 3)), (m.channels, ), m.norm.weight,
                                           m.norm.bias, m.norm.eps)
    return x * torch.sigmoid(x + shift[:, :, None, None])


def saved_storages(fn, x):
    """{storage pointer: (bytes, numel, dtype)} of the tensors autograd keeps in ``fn(x)``."""
    storages = {}

    def pack(t):
        st = t.untyped_storage()
        storages[st.data_ptr()] = (st.nbytes(), t.numel(), t.dtype)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return storages


@pytest.mark.parametrize('cls,size', [(AdaShiftMA, (56, 56)), (AdaShiftMA, (50, 61)),
                                      (AdaShiftB, (56, 56))], ids=['ma-cells', 'ma-any', 'b'])
def test_keeps_only_the_input_and_equals_plain_autograd(cls, size):
    """Saved: x (the only full-size tensor; no sigmoid output, no upsampled Δ) and O(N·C·g²);
    float32 outputs bit for bit those of plain autograd, every gradient to float32 rounding
    (block sums by the pooling kernel, in another order)."""
    torch.manual_seed(5)
    m = randomise(cls(64), seed=5)
    plain = plain_gate_ma if cls is AdaShiftMA else plain_gate_b
    x = (torch.randn(2, 64, *size) * 2).requires_grad_()
    saved = saved_storages(m, x)
    assert {p for p, (_, numel, _) in saved.items() if numel >= x.numel()} == \
        {x.untyped_storage().data_ptr()}
    assert sum(b for b, _, _ in saved.values()) <= 1.15 * x.nbytes  # x + the O(N·C·g²) Δ path
    ref = saved_storages(lambda t: plain(m, t), x)
    assert sum(b for b, _, _ in ref.values()) > 1.9 * x.nbytes  # plain: x and the sigmoid
    results = []
    for fn, dtype in ((m, torch.float32), (lambda t: plain(m, t), torch.float32),
                      (lambda t: plain(m, t), torch.float64)):
        m.to(dtype).zero_grad()
        xa = x.detach().to(dtype).requires_grad_()
        out = fn(xa)
        out.backward(torch.cos(out.detach()))
        results.append([out.detach(), xa.grad] + [p.grad.clone() for p in m.parameters()])
    m.float()
    ours, plain32, ref64 = results
    assert torch.equal(ours[0], plain32[0])
    for a, b, r in zip(ours[1:], plain32[1:], ref64[1:]):  # as close to float64 as plain is
        err, err_plain = (a.double() - r).norm(), (b.double() - r).norm()
        assert err <= 2 * err_plain + 1e-7 * r.norm(), (err, err_plain)


@pytest.mark.parametrize('size', [(14, 14), (7, 7), (10, 17), (5, 3)],
                         ids=['cells', 'g-by-g', 'any', 'smaller-than-grid'])
def test_ma_recompute_shift_keeps_x_and_delta_only_and_changes_nothing(size):
    """recompute_shift=True: of the shift path nothing is saved, only x and Δ (the
    grid, or Δ↑ for a map smaller than the grid); outputs and every gradient equal those of
    recompute_shift=False bit for bit (float32, the same kernels run again), which keeps the
    attention's token tensors."""
    torch.manual_seed(8)
    x = (torch.randn(2, 16, *size) * 2).requires_grad_()
    results, kept = [], []
    for recompute in (True, False):
        m = randomise(AdaShiftMA(16, num_heads=2, recompute_shift=recompute), seed=8)
        saved = saved_storages(m, x)
        kept.append(sum(b for b, _, _ in saved.values()))
        if recompute:
            others = [numel for p, (_, numel, _) in saved.items()
                      if p != x.untyped_storage().data_ptr()]
            h, w = size
            delta = h * w if h * w <= 49 else 49  # Δ↑, else the 7×7 grid
            assert sorted(others) == [2 * 16 * delta], others
        out = m(x)
        grads = torch.autograd.grad(out, [x, *m.parameters()], torch.cos(out.detach()))
        results.append([out.detach(), *grads])
    for a, b in zip(*results):
        assert torch.equal(a, b)
    assert kept[0] < kept[1]


@pytest.mark.parametrize('cls', [AdaShiftB, AdaShiftMA])
def test_bf16_autocast_keeps_the_bf16_input_not_a_float32_copy(cls):
    m = cls(8)
    x = torch.randn(2, 8, 56, 56, dtype=torch.bfloat16, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        saved = saved_storages(m, x)
    big = [(numel, dtype) for _, numel, dtype in saved.values() if numel >= x.numel()]
    assert big == [(x.numel(), torch.bfloat16)]


def test_self_gate_gradcheck_broadcast_upsampled_and_blocks():
    from gated_mm.models.activations.adashift import _SelfGate
    torch.manual_seed(6)
    x = torch.randn(2, 3, 6, 4, dtype=D, requires_grad=True)
    for delta, size, block in ((torch.randn(2, 3, 1, 1, dtype=D), None, None),
                               (torch.randn(2, 3, 2, 3, dtype=D), (6, 4), None),
                               (torch.randn(2, 3, 3, 2, dtype=D), None, (2, 2))):
        delta.requires_grad_()
        assert torch.autograd.gradcheck(
            lambda a, b: _SelfGate.apply(a, b, size, D, block), (x, delta))


@pytest.mark.parametrize('h, w', [(12, 8), (4, 8), (8, 4), (4, 4)])
def test_blocks_equal_upsampled_broadcast_and_block_mean(h, w):
    """The K×K block path (rows of Δ, avg_pool2d block sums) equals nearest upsampling of Δ,
    forward and backward, and the block mean equals a reshaped mean (float64; kh, kw = 1 too)."""
    from gated_mm.models.activations.adashift import _BlockMean, _SelfGate
    torch.manual_seed(7)
    block = (h // 4, w // 4)
    x = torch.randn(2, 3, h, w, dtype=D)
    delta = torch.randn(2, 3, 4, 4, dtype=D)
    grad = torch.randn(2, 3, h, w, dtype=D)
    outs = []
    for size, blk in (((h, w), None), (None, block)):
        a, b = x.clone().requires_grad_(), delta.clone().requires_grad_()
        y = _SelfGate.apply(a, b, size, D, blk)
        y.backward(grad)
        outs.append((y.detach(), a.grad, b.grad))
    for u, v in zip(*outs):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)
    g = torch.randn(2, 3, 4, 4, dtype=D)
    means = []
    for fn in (lambda t: _BlockMean.apply(t, block),
               lambda t: t.reshape(2, 3, 4, block[0], 4, block[1]).mean(dim=(3, 5))):
        a = x.clone().requires_grad_()
        m = fn(a)
        m.backward(g)
        means.append((m.detach(), a.grad))
    for u, v in zip(*means):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)
