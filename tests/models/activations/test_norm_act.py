"""Fused BatchNorm → APA/AGLU equals the two modules run one after the other, keeps less."""
import copy

import pytest
import torch
from torch import nn

from gated_mm.models.activations import AGLU, APA, kernel_mode, norm_act, norm_act_fusion
from gated_mm.models.activations.norm_act import batch_norm_act


def pair(act_cls, channels=6, momentum=0.1, dtype=torch.float64):
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(channels, momentum=momentum).to(dtype)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    act = act_cls(kappa_init=1.1, lambda_init=0.6).to(dtype)
    return bn, act


def fused_with_saved(bn, act, x):
    """``batch_norm_act(bn, act, x)`` and the tensors its graph saved for backward."""
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        return batch_norm_act(bn, act, x), saved


@pytest.mark.parametrize('act_cls', [AGLU, APA])
@pytest.mark.parametrize('momentum', [0.1, None])
def test_fused_equals_unfused_outputs_gradients_running_stats(act_cls, momentum, device):
    bn, act = (m.to(device) for m in pair(act_cls, momentum=momentum))
    bn2, act2 = copy.deepcopy(bn), copy.deepcopy(act)
    x = (torch.randn(4, 6, 5, 7, dtype=torch.float64) * 3 + 1).to(device).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    g = torch.randn(4, 6, 5, 7, dtype=torch.float64).to(device)
    assert norm_act_fusion(bn, act) == 'train'
    for _ in range(2):  # two steps: running statistics and num_batches_tracked too
        batch_norm_act(bn, act, x).backward(g)
        act2(bn2(x2)).backward(g)
    torch.testing.assert_close(batch_norm_act(bn, act, x), act2(bn2(x2)))
    torch.testing.assert_close(x.grad, x2.grad)
    for a, b in [(bn.weight, bn2.weight), (bn.bias, bn2.bias), (act.kappa, act2.kappa),
                 (act.lambda_, act2.lambda_)]:
        torch.testing.assert_close(a.grad, b.grad)
    torch.testing.assert_close(bn.running_mean, bn2.running_mean)
    torch.testing.assert_close(bn.running_var, bn2.running_var)
    assert bn.num_batches_tracked.item() == bn2.num_batches_tracked.item() == 3


def test_gradcheck_all_inputs():
    bn, act = pair(AGLU, channels=3)

    # x, BN weight and bias, kappa and lambda as inputs of the fused node
    from gated_mm.models.activations.norm_act import _BatchNormAPAFunction

    def g(x, w, b, k, l):
        return _BatchNormAPAFunction.apply(x, torch.float64, w, b, None, None, 0.1, 1e-5, k, l,
                                           True, True)

    inputs = [torch.randn(3, 3, 4, 4, dtype=torch.float64, requires_grad=True),
              bn.weight.detach().clone().requires_grad_(),
              bn.bias.detach().clone().requires_grad_(),
              torch.tensor([1.1], dtype=torch.float64, requires_grad=True),
              torch.tensor([0.6], dtype=torch.float64, requires_grad=True)]
    assert torch.autograd.gradcheck(g, inputs)


def test_fp32_within_1e6_and_saves_only_the_input():
    bn, act = pair(AGLU, channels=16, dtype=torch.float32)
    bn2, act2 = copy.deepcopy(bn), copy.deepcopy(act)
    x = torch.randn(8, 16, 12, 12, requires_grad=True)
    out, saved = fused_with_saved(bn, act, x)
    assert [t.numel() for t in saved if t.numel() > 16] == [x.numel()]
    ref = act2(bn2(x))
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    g = torch.randn_like(out)
    (gx, ) = torch.autograd.grad(out, x, g)
    (gx2, ) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(gx, gx2, rtol=1e-5, atol=1e-6)


def test_unfusable_cases_run_unfused():
    bn, act = pair(AGLU)
    assert norm_act_fusion(bn.eval(), act) != 'train'  # eval BN has its own node (below)
    assert (norm_act_fusion(bn.eval(), act) == 'eval'
            and norm_act_fusion(bn.train(), act) != 'eval')
    assert norm_act_fusion(nn.GroupNorm(2, 6).double(), act) is None
    assert norm_act_fusion(bn.train(), nn.ReLU()) is None
    x = torch.randn(2, 6, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(batch_norm_act(bn.eval(), nn.ReLU(), x), torch.relu(bn(x)))
    per_channel = AGLU(num_channels=6).double()
    torch.testing.assert_close(batch_norm_act(bn.eval(), per_channel, x), per_channel(bn(x)))


def _trained_eval_pair(act_cls, dtype):
    bn, act = pair(act_cls, dtype=dtype)
    bn(torch.randn(8, 6, 5, 5, dtype=dtype) * 2 + 1)  # non-trivial running statistics
    return bn.eval(), act


@pytest.mark.parametrize('act_cls', [AGLU, APA])
def test_eval_mode_fused_equals_unfused_and_keeps_only_the_input(act_cls):
    """norm_eval / inference: BN with running statistics → APA/AGLU as one node keeping only
    x (unfused: x and y); outputs and every gradient equal (float64), statistics untouched."""
    bn, act = _trained_eval_pair(act_cls, torch.float64)
    bn2, act2 = copy.deepcopy(bn), copy.deepcopy(act)
    stats = (bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone())
    x = (torch.randn(4, 6, 5, 7, dtype=torch.float64) * 3).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    y, saved = fused_with_saved(bn, act, x)
    assert [t.numel() for t in saved if t.numel() > 6] == [x.numel()]
    y2 = act2(bn2(x2))
    g = torch.randn_like(y)
    y.backward(g)
    y2.backward(g)
    torch.testing.assert_close(y, y2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-12, atol=1e-12)
    for a, b in [(bn.weight, bn2.weight), (bn.bias, bn2.bias), (act.kappa, act2.kappa),
                 (act.lambda_, act2.lambda_)]:
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-10)
    for a, b in zip(stats, (bn.running_mean, bn.running_var, bn.num_batches_tracked)):
        assert torch.equal(a, b)


def test_eval_mode_gradcheck_and_fp32_inference_and_bf16_autocast():
    from gated_mm.models.activations.norm_act import _BatchNormAPAFunction
    bn, act = _trained_eval_pair(AGLU, torch.float64)

    def f(x, w, b, k, l):
        return _BatchNormAPAFunction.apply(x, torch.float64, w, b, bn.running_mean,
                                           bn.running_var, 0.0, 1e-5, k, l, True, False)

    inputs = [torch.randn(3, 6, 4, 4, dtype=torch.float64, requires_grad=True),
              bn.weight.detach().clone().requires_grad_(),
              bn.bias.detach().clone().requires_grad_(),
              torch.tensor([1.1], dtype=torch.float64, requires_grad=True),
              torch.tensor([0.6], dtype=torch.float64, requires_grad=True)]
    assert torch.autograd.gradcheck(f, inputs)
    bn32, act32 = _trained_eval_pair(AGLU, torch.float32)
    x = torch.randn(4, 6, 9, 5) * 3
    for mode in ('eager', 'auto'):  # inference (no grad): one pass, eager or compiled kernel
        with kernel_mode(mode), torch.no_grad():
            torch.testing.assert_close(batch_norm_act(bn32, act32, x), act32(bn32(x)),
                                       rtol=1e-6, atol=1e-6)
    with kernel_mode('auto'), torch.autocast('cpu', dtype=torch.bfloat16), torch.no_grad():
        y = batch_norm_act(bn32, act32, x.bfloat16())
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), act32(bn32(x.bfloat16().float())), rtol=2**-7,
                               atol=2**-7)


@pytest.mark.parametrize('act_cls', [AGLU, APA])
def test_compiled_fused_node_equals_unfused_within_1e6(act_cls, compiled_kernels):
    """The fused node as shipped (torch.compile'd kernels computing y = x·α + β on the fly,
    ATen's batch statistics) against the eager unfused modules, fp32, two input shapes."""
    bn, act = pair(act_cls, dtype=torch.float32)
    bn2, act2 = copy.deepcopy(bn), copy.deepcopy(act)
    for shape in [(4, 6, 5, 7), (3, 6, 9, 4)]:
        x = (torch.randn(*shape) * 3 + 1).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        g = torch.randn(*shape)
        y = batch_norm_act(bn, act, x)
        y.backward(g)
        with kernel_mode('eager'):
            y2 = act2(bn2(x2))
            y2.backward(g)
        torch.testing.assert_close(y, y2, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(x.grad, x2.grad, rtol=1e-6, atol=1e-6)
    assert norm_act.KERNELS.compiled and not norm_act.KERNELS.failed
    for a, b in [(bn.weight, bn2.weight), (bn.bias, bn2.bias), (act.kappa, act2.kappa),
                 (act.lambda_, act2.lambda_)]:
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(bn.running_mean, bn2.running_mean, rtol=0, atol=0)
    torch.testing.assert_close(bn.running_var, bn2.running_var, rtol=0, atol=0)


# ------------------------------------------------------------------ BatchNorm → IIEU-B
def iieu_unit(channels=6, c_in=4, momentum=0.1, dtype=torch.float64):
    from gated_mm.models.activations import IIEU
    torch.manual_seed(1)
    conv = nn.Conv2d(c_in, channels, 3, padding=1, bias=False).to(dtype)
    bn = nn.BatchNorm2d(channels, momentum=momentum).to(dtype)
    act = IIEU(channels).to(dtype)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        act.eta.uniform_(-0.5, 0.5)
        act.norm.weight.uniform_(0.5, 1.5)
    return conv, bn, act


def saved_storages(fn, *args):
    """``fn(*args)`` and {storage pointer: bytes} of what its graph saved for backward."""
    sizes = {}

    def pack(t):
        st = t.untyped_storage()
        sizes[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(*args)
    return out, sizes


@pytest.mark.parametrize('momentum', [0.1, None])
@pytest.mark.parametrize('train', [True, False], ids=['train', 'eval'])
def test_batch_norm_iieu_equals_the_modules_and_keeps_the_bn_input(momentum, train, device):
    """conv → BN → IIEU-B through batch_norm_iieu equals act(bn(conv(x)), x, conv): output,
    the gradients of x and of every parameter, BN's running statistics and batch count (two
    steps, float64); its graph keeps the BN input y, and the modules run one after the other
    keep the BN output x̃ (that it does not: the next test)."""
    from gated_mm.models.activations import fusion
    from gated_mm.models.activations.norm_act import batch_norm_iieu
    mods = [m.to(device) for m in iieu_unit(momentum=momentum)]
    ref = copy.deepcopy(mods)
    for ms in (mods, ref):
        for m in ms:
            m.train(train)
    x = (torch.randn(3, 4, 7, 6, dtype=torch.float64) * 2).to(device).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    g = torch.randn(3, 6, 7, 6, dtype=torch.float64).to(device)
    conv, bn, act = mods
    rconv, rbn, ract = ref
    for _ in range(2):
        y = conv(x)
        out, ptrs = saved_storages(batch_norm_iieu, bn, act, y, x, conv)
        assert y.untyped_storage().data_ptr() in ptrs
        out.backward(g)
        y2 = rconv(x2)
        with fusion(norm_act=False):
            xt2 = rbn(y2)
            out2, ptrs2 = saved_storages(ract, xt2, x2, rconv)
        assert xt2.untyped_storage().data_ptr() in ptrs2  # the unfused unit keeps x̃
        out2.backward(g)
        torch.testing.assert_close(out, out2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-10, atol=1e-12)
    for (name, p), p2 in zip([(n, p) for m in mods for n, p in m.named_parameters()],
                             [p for m in ref for p in m.parameters()]):
        torch.testing.assert_close(p.grad, p2.grad, rtol=1e-10, atol=1e-12, msg=name)
    torch.testing.assert_close(bn.running_mean, rbn.running_mean)
    torch.testing.assert_close(bn.running_var, rbn.running_var)
    assert bn.num_batches_tracked.item() == rbn.num_batches_tracked.item() == 2 * train


@pytest.mark.parametrize('train', [True, False], ids=['train', 'eval'])
def test_batch_norm_iieu_does_not_keep_the_bn_output(train):
    """The only full-size storages the unit's graph keeps are y (for BN and for the recompute)
    and x (the conv input, for ‖x‖ and the conv): x̃ is not among them."""
    from gated_mm.models.activations.norm_act import batch_norm_iieu
    conv, bn, act = iieu_unit(c_in=6)
    bn.train(train)
    x = torch.randn(2, 6, 8, 8, dtype=torch.float64, requires_grad=True)
    y = conv(x)
    _, sizes = saved_storages(batch_norm_iieu, bn, act, y, x, conv)
    full = {p for p, n in sizes.items() if n >= y.nbytes}
    assert full == {y.untyped_storage().data_ptr(), x.untyped_storage().data_ptr()}


def test_batch_norm_iieu_gradcheck():
    """The recompute path's gradients w.r.t. y, x_pre and the BN/IIEU parameters, against
    finite differences (float64, eval-mode BN: a fixed affine map; training mode is covered by
    the comparison with the modules above)."""
    from gated_mm.models.activations.norm_act import batch_norm_iieu
    conv, bn, act = iieu_unit(channels=3, c_in=2)
    bn.eval()
    y = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    xp = torch.randn(2, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: batch_norm_iieu(bn, act, a, b, conv), (y, xp))


def test_batch_norm_iieu_calls_other_units_as_they_are():
    """A unit that does not declare ``accepts_norm_affine`` (a user's or the public layout's
    IIEU) is called as act(norm(y), x_pre, conv)."""
    from gated_mm.models.activations.norm_act import batch_norm_iieu
    conv, bn, _ = iieu_unit()
    calls = []

    class Unit(nn.Module):
        needs_conv_input = True

        def forward(self, xt, x_pre, conv):
            calls.append(xt)
            return xt

    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    y = conv(x)
    ref = copy.deepcopy(bn)
    out = batch_norm_iieu(bn, Unit(), y, x, conv)
    assert len(calls) == 1 and out is calls[0]
    torch.testing.assert_close(out, ref(y))


def test_iieu_rejects_a_norm_affine_of_the_wrong_shape():
    conv, bn, act = iieu_unit()
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    y = conv(x)
    c = torch.ones(6, dtype=torch.float64)
    with pytest.raises(ValueError, match='norm_affine'):
        act(bn(y), x, conv, norm_affine=(y[:, :3], c, c))
    with pytest.raises(ValueError, match='norm_affine'):
        act(bn(y), x, conv, norm_affine=(y, c[:5], c))
