"""APA / AGLU against an independent float64 reference of the paper's equations.

The reference below is written from Eq. (4)/(5) of the APA paper in its *direct* form
(λ·exp(−κz) + 1)^(−1/λ), differentiated by autograd, and evaluated in float64 at inputs where
the direct form is accurate. The module under test uses the log-space form and a hand-written
backward, so agreement checks both the algebra and the gradient code.
"""
import math

import mpmath
import pytest
import torch
from mmengine.registry import MODELS

import gated_mm  # noqa: F401  (registers the modules)
from gated_mm.models.activations import AGLU, APA, aglu, apa, apa_aglu, kernel_mode


def ref_eta(z, kappa, lambda_):
    return (lambda_ * torch.exp(-kappa * z) + 1) ** (-1 / lambda_)


def ref_grads(fn, z, kappa, lambda_, grad_out):
    z, kappa, lambda_ = (t.detach().double().requires_grad_() for t in (z, kappa, lambda_))
    out = fn(z, kappa, lambda_)
    grads = torch.autograd.grad(out, (z, kappa, lambda_), grad_out.double())
    return out.detach(), grads


def mp_reference(z, kappa, lambda_, grad_out):
    """Arbitrary-precision (50 digits, mpmath) values and gradients of Eq. (4)/(5), written from
    the direct form η = (λ·e^(−κz) + 1)^(−1/λ) with w = λ·e^(−κz), L = log(1 + w):

        ∂η/∂z = η·κ·e^(−κz)/(1 + w),   ∂η/∂κ = η·z·e^(−κz)/(1 + w),
        ∂η/∂λ = η·(L/λ² − e^(−κz)/(λ(1 + w))),   AGLU = z·η.

    ``kappa``, ``lambda_`` broadcast against ``z``; the float values are taken exactly.
    Returns ``{unit: (y, g·∂y/∂z, g·∂y/∂κ, g·∂y/∂λ)}`` for unit False (APA) and True (AGLU),
    float64 tensors of z's shape, each element the exact value rounded once."""
    zs, ks, ls, gs = (t.detach().double().cpu().expand_as(z).flatten().tolist()
                      for t in (z, kappa, lambda_, grad_out))
    out = {False: [], True: []}
    with mpmath.workdps(50):
        for z_, k_, l_, g_ in zip(zs, ks, ls, gs):
            z_, k_, l_, g_ = (mpmath.mpf(v) for v in (z_, k_, l_, g_))
            e = mpmath.exp(-k_ * z_)
            w = l_ * e
            log1pw = mpmath.log1p(w)
            eta = mpmath.exp(-log1pw / l_)
            d_z, d_k = eta * k_ * e / (1 + w), eta * z_ * e / (1 + w)
            d_l = eta * (log1pw / l_**2 - e / (l_ * (1 + w)))
            out[False].append((eta, g_ * d_z, g_ * d_k, g_ * d_l))
            out[True].append((z_ * eta, g_ * (eta + z_ * d_z), g_ * z_ * d_k, g_ * z_ * d_l))
    return {unit: tuple(torch.tensor([float(v[i]) for v in rows], dtype=torch.float64)
                        .view(z.shape).to(z.device) for i in range(4))
            for unit, rows in out.items()}


def test_mp_reference_derivatives_are_the_derivatives():
    """The closed-form derivatives of :func:`mp_reference` against mpmath's own numerical
    differentiation (and the public-code λ-gradient value below)."""
    with mpmath.workdps(50):
        for z, k, l in [(-1.0, 1.1, 0.6), (3.0, -0.7, 2.5), (0.5, 1.0, 1e-4)]:
            ref = mp_reference(*(torch.tensor([v], dtype=torch.float64) for v in (z, k, l, 1.0)))

            def f(z_, k_, l_):
                return z_ * (l_ * mpmath.exp(-k_ * z_) + 1)**(-1 / l_)

            num = [mpmath.diff(f, (z, k, l), n) for n in ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
            for got, want in zip(ref[True][1:], num):
                assert float(got) == pytest.approx(float(want), rel=1e-12, abs=1e-300)


def module_grads(module, z, grad_out):
    z = z.detach().clone().requires_grad_()
    out = module(z)
    out.backward(grad_out)
    return out.detach(), (z.grad, module.kappa.grad, module.lambda_.grad)


CASES = [  # (kappa, lambda) pairs covering λ < 1, λ = 1, λ > 1 and negative κ
    (1.1, 0.6), (1.0, 1.0), (-0.7, 0.3), (0.9, 2.5), (1.2, 0.05)]


@pytest.mark.parametrize('kappa,lambda_', CASES)
@pytest.mark.parametrize('unit', [False, True])
def test_forward_and_all_gradients_match_float64_reference(kappa, lambda_, unit, device):
    torch.manual_seed(0)
    z = (torch.randn(4, 3, 5, 5, dtype=torch.float64) * 3).to(device)
    grad_out = torch.randn_like(z)
    cls = AGLU if unit else APA
    m = cls(kappa_init=kappa, lambda_init=lambda_).double().to(device)
    fn = (lambda z, k, l: z * ref_eta(z, k, l)) if unit else ref_eta
    ref_out, ref_g = ref_grads(fn, z, m.kappa, m.lambda_, grad_out)
    out, g = module_grads(m, z, grad_out)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    for got, want, name in zip(g, ref_g, ('z', 'kappa', 'lambda')):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10, msg=name)


def test_public_code_lambda_gradient_bug_is_not_reproduced():
    # At λ=0.6, κ=1.1, z=−1 the true ∂AGLU/∂λ is −0.193; the hand-written AGLU backward of the
    # public APA code (github.com/kostas1515/AGLU) drops the s/λ² term and gives +0.321.
    m = AGLU(kappa_init=1.1, lambda_init=0.6).double()
    m(torch.tensor([-1.0], dtype=torch.float64)).sum().backward()
    assert m.lambda_.grad.item() == pytest.approx(-0.193, abs=1e-3)


def test_special_cases_sigmoid_silu_gumbel():
    z = torch.linspace(-8, 8, 101, dtype=torch.float64)
    one = torch.ones(1, dtype=torch.float64)
    torch.testing.assert_close(apa(z, one, one), torch.sigmoid(z))
    torch.testing.assert_close(aglu(z, one, one), torch.nn.functional.silu(z))
    # λ → 0⁺ with κ = 1 is the Gumbel gate exp(−exp(−z)).
    lam = torch.full((1, ), 1e-7, dtype=torch.float64)
    torch.testing.assert_close(apa(z, one, lam, lambda_min=1e-8), torch.exp(-torch.exp(-z)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('unit', [False, True])
@pytest.mark.parametrize('per_channel', [False, True])
def test_gradcheck_and_gradgradcheck(unit, per_channel):
    torch.manual_seed(1)
    cls = AGLU if unit else APA
    m = cls(num_channels=3 if per_channel else None).double()
    with torch.no_grad():  # away from the λ floor where the clamp has a kink
        m.lambda_.uniform_(0.3, 1.5)
    z = (torch.randn(2, 3, 4, 4, dtype=torch.float64) * 2).requires_grad_()
    fn = aglu if unit else apa

    def f(z, k, l):
        view = (1, 3, 1, 1) if per_channel else (1, )
        return fn(z, k.view(view), l.view(view))

    inputs = (z, m.kappa.detach().clone().requires_grad_(),
              m.lambda_.detach().clone().requires_grad_())
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


@pytest.mark.parametrize('unit', [False, True])
@pytest.mark.parametrize('lambda_', [1e-4, 2e-4, 1.0, 5.0])
@pytest.mark.parametrize('kappa', [-1.3, 1e-3, 1.2])
def test_finite_at_extreme_inputs(unit, lambda_, kappa, device):
    z = torch.tensor([-1e4, -1e3, -80.0, -1.0, 0.0, 1.0, 80.0, 1e3, 1e4],
                     device=device).requires_grad_()
    m = (AGLU if unit else APA)(kappa_init=kappa, lambda_init=lambda_).to(device)
    out = m(z)
    out.sum().backward()
    for t in (out, z.grad, m.kappa.grad, m.lambda_.grad):
        assert torch.isfinite(t).all(), (t, lambda_, kappa)
    gate = out.detach() if not unit else out.detach() / torch.where(z == 0, 1.0, z.detach())
    assert ((gate >= 0) & (gate <= 1)).all()
    if abs(kappa) >= 1:  # far from the transition the gate saturates at 0 and 1
        on, off = (gate[-1], gate[0]) if kappa > 0 else (gate[0], gate[-1])
        assert on.item() == pytest.approx(1.0) and off.item() == pytest.approx(0.0, abs=1e-30)


def test_lambda_floor_clamps_and_stops_gradient():
    m = APA(kappa_init=1.0, lambda_init=0.5, lambda_min=1e-3)
    with torch.no_grad():  # λ driven below the floor by training (an init there is refused)
        m.lambda_.fill_(-0.5)
    z = torch.randn(10)
    out = m(z)
    torch.testing.assert_close(out, ref_eta(z.double(), 1.0, 1e-3).float())
    out.sum().backward()
    assert m.lambda_.grad.item() == 0.0


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_autocast_computes_in_float32(dtype):
    torch.manual_seed(2)
    m = AGLU(kappa_init=1.1, lambda_init=0.4)
    x = torch.randn(2, 8, 6, 6)
    conv = torch.nn.Conv2d(8, 8, 1)
    with torch.autocast('cpu', dtype=dtype):
        h = conv(x)
        assert h.dtype == dtype
        y = m(h)
    assert y.dtype == dtype
    want = h.double() * ref_eta(h.double(), 1.1, 0.4)
    eps = torch.finfo(dtype).eps  # the fp32 result rounded once to the low precision
    torch.testing.assert_close(y.double(), want, rtol=eps, atol=eps)
    y.float().sum().backward()
    assert m.kappa.grad.dtype == torch.float32 and torch.isfinite(m.kappa.grad).all()


def test_per_channel_parameters_broadcast_on_dim1():
    m = AGLU(num_channels=3, kappa_init=1.0, lambda_init=1.0).double()
    with torch.no_grad():
        m.kappa.copy_(torch.tensor([0.5, 1.0, 2.0]))
        m.lambda_.copy_(torch.tensor([0.2, 1.0, 3.0]))
    z = torch.randn(2, 3, 4, dtype=torch.float64)
    out = m(z)
    for c in range(3):
        want = z[:, c] * ref_eta(z[:, c], m.kappa[c].item(), m.lambda_[c].item())
        torch.testing.assert_close(out[:, c], want)
    with pytest.raises(ValueError, match=r'expected input \(N, 3, \.\.\.\)'):
        m(torch.randn(2, 4, 4))


def test_saved_tensors_are_only_the_input_and_parameters():
    m = AGLU()
    z = torch.randn(4, 16, 8, 8, requires_grad=True)
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        m(z)
    big = [t for t in saved if t.numel() > 1]
    assert len(big) == 1 and big[0].numel() == z.numel()


def test_init_ranges_and_registry():
    torch.manual_seed(3)
    a = MODELS.build(dict(type='AGLU', inplace=True))  # ConvModule injects inplace
    assert 0.8 <= a.kappa.item() <= 1.2 and 0.0 <= a.lambda_.item() <= 1.0
    g = MODELS.build(dict(type='APA', kappa_init=(-2.0, -1.5), lambda_init=0.7))
    assert -2.0 <= g.kappa.item() <= -1.5 and g.lambda_.item() == pytest.approx(0.7)
    with pytest.raises(ValueError, match='low <= high'):
        APA(kappa_init=(1.0, 0.0))
    with pytest.raises(ValueError, match='lambda_min must be > 0'):
        AGLU(lambda_min=0)


def test_usable_as_act_cfg_in_conv_module():
    from mmcv.cnn import ConvModule
    conv = ConvModule(3, 4, 3, padding=1, norm_cfg=dict(type='BN'), act_cfg=dict(type='AGLU'))
    assert isinstance(conv.activate, AGLU)
    y = conv(torch.randn(2, 3, 7, 9))
    assert y.shape == (2, 4, 7, 9) and math.isfinite(y.sum().item())


def test_compiled_kernels_equal_eager_within_1e6():
    """The fused torch.compile kernels (default outside the tests) give the eager results."""
    torch.manual_seed(4)
    m = AGLU(kappa_init=1.1, lambda_init=0.6)
    results = []
    for mode in ('eager', 'auto'):
        with kernel_mode(mode):
            m.zero_grad()
            outs = []
            for shape in [(2, 8, 5, 7), (3, 8, 9, 4)]:  # a new shape must not break (dynamic)
                z = (torch.randn(*shape, generator=torch.Generator().manual_seed(5)) * 4)
                z.requires_grad_()
                y = m(z)
                y.backward(torch.ones_like(y))
                outs += [y.detach(), z.grad]
            results.append(outs + [m.kappa.grad.clone(), m.lambda_.grad.clone()])
    assert apa_aglu.KERNELS.compiled, 'the compiled kernels were never used'
    assert not apa_aglu.KERNELS.failed, 'compilation failed and fell back to eager'
    for eager, compiled in zip(*results):
        torch.testing.assert_close(compiled, eager, rtol=1e-6, atol=1e-6)


def test_new_input_shapes_do_not_recompile(compiled_kernels):
    """Detection batches change size every step: the fused kernels are compiled with dynamic
    shapes. Dynamo specialises a bounded number of cases (batch 1, H == W "duck sizing", and
    the reduction-size threshold of the backward); after those, new shapes compile nothing."""
    from torch._dynamo.utils import counters
    m = AGLU()

    def step(shape):
        z = torch.randn(*shape, requires_grad=True)
        m(z).sum().backward()

    start = counters['stats']['unique_graphs']
    # the special cases, each crossed: batch 1 or not, H == W or not, small or large
    special = [(b, 4, h, w) for b in (1, 2) for h, w in ((8, 8), (9, 5), (40, 40), (40, 33))]
    for shape in special:
        step(shape)
    warm = counters['stats']['unique_graphs']
    assert warm - start <= len(special)  # fewer graphs than shapes: shapes are symbolic
    for shape in [(5, 4, 26, 11), (3, 4, 13, 60), (6, 4, 17, 23), (9, 4, 12, 50), (4, 4, 3, 7),
                  (7, 4, 19, 19), (1, 4, 61, 2), (2, 4, 5, 5)]:
        step(shape)
    assert counters['stats']['unique_graphs'] == warm
    assert not apa_aglu.KERNELS.failed


def test_log1p_polynomial_matches_float64_log1p():
    """The fused kernels' log1p on [0, 1] (a polynomial) is as accurate as torch.log1p in
    float32, including tiny arguments (relative error) and the end point 1."""
    e = torch.cat([torch.rand(200_000, generator=torch.Generator().manual_seed(0)),
                   torch.logspace(-37, 0, 20_000), torch.tensor([0.0, 1.0])])
    ref = torch.log1p(e.double())
    got = apa_aglu._log1p_poly(e)
    assert got.dtype == torch.float32
    rel = ((got.double() - ref).abs() / ref.clamp_min(1e-300)).max().item()
    rel_torch = ((torch.log1p(e).double() - ref).abs() / ref.clamp_min(1e-300)).max().item()
    assert rel < 3e-7, rel
    assert rel < 2 * rel_torch + 1e-7
    assert got[-2] == 0.0


def test_compiled_kernels_match_float64_at_extreme_inputs(compiled_kernels, device):
    """The compiled kernels (polynomial log1p, FMA contraction) against an arbitrary-precision
    reference (mpmath, :func:`mp_reference`) at extreme z (±80) and small/large λ (1e-4 ...
    7.5), where η underflows or saturates. Bound per element: a few float32 roundings of u and
    s, amplified by the conditioning of η = exp(−s/λ), cond = 1 + (|u|·σ + s)/λ, and for the
    gradients also of σ = sigmoid(u) (+|u|). Eager float32 meets the same bounds with the same
    margins (so a log1p off by more than ~1e-7 relative fails)."""
    z = torch.cat([torch.linspace(-80, 80, 4000), torch.randn(4000)]).reshape(2, 4, -1)
    g = torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
    z, g = z.to(device), g.to(device)
    for kappa, lambda_ in [(1.0, 1e-4), (1.3, 0.05), (0.8, 1.0), (-0.7, 3.0), (2.0, 7.5)]:
        k, lam = torch.tensor([kappa], device=device), torch.tensor([lambda_], device=device)
        ref = mp_reference(z, k, lam, g)
        for unit in (True, False):
            assert_kernels_within_conditioning(z, k, lam, g, unit, ref, 1e-30)
    assert apa_aglu.KERNELS.compiled and not apa_aglu.KERNELS.failed


def assert_kernels_within_conditioning(z, kappa, lambda_, g, unit, ref, tiny):
    """The APA/AGLU forward and backward kernels at (z, κ, λ, g) against ``ref``
    (:func:`mp_reference`), per element within 8 roundings (of z's dtype) amplified by the
    conditioning (see test_compiled_kernels_match_float64_at_extreme_inputs); κ, λ gradients
    (summed over the elements sharing a κ, λ) within 8 roundings of Σ cond·|term| (for λ, of
    the two parts of the term, which cancel where η saturates)."""
    eps = torch.finfo(z.dtype).eps
    with torch.no_grad():
        y = apa_aglu.KERNELS.run('forward', z, kappa, lambda_, unit)
        grads = apa_aglu.KERNELS.run('backward', z, kappa, lambda_, g, unit, True, True)
    z64, g64 = z.double(), g.double()
    k64, l64 = kappa.double().expand_as(z64), lambda_.double().expand_as(z64)
    u = torch.log(l64) - k64 * z64
    sigma = torch.sigmoid(u)
    cond = 1 + (u.abs() * sigma + torch.nn.functional.softplus(u)) / l64
    cond_g = cond + u.abs()
    # exact per-element terms: y, g·∂y/∂z, and g·∂y/∂κ, g·∂y/∂λ before the sum
    (y64, *terms), eta = ref[unit], ref[False][0]
    assert ((y.double() - y64).abs() <= tiny + 8 * eps * cond * y64.abs()).all(), unit
    gate = sigma * k64.abs() / l64
    scale = g64.abs() * eta * ((1 + z64.abs() * gate) if unit else gate)
    assert ((grads[0].double() - terms[0]).abs() <= tiny + 8 * eps * cond_g * scale).all(), unit
    # ∂η/∂λ = η·(s − σ)/λ² (s = log(1 + w), σ = w/(1 + w)): s and σ cancel where η saturates
    # (both ≈ w): the λ terms are bounded by roundings of the two parts, |g|·η·(s + σ)/λ²
    parts = g64.abs() * eta * (torch.nn.functional.softplus(u) + sigma) / l64**2
    parts = parts * z64.abs() if unit else parts
    for got, term, size in zip(grads[1:], terms[1:], (terms[1].abs(), parts)):
        dims = [d for d in range(z.dim()) if got.dim() != z.dim() or got.shape[d] == 1]
        want = term.sum(dims).reshape(got.shape)
        bound = tiny + 8 * eps * (cond_g * size).sum(dims).reshape(got.shape)
        assert ((got.double() - want).abs() <= bound).all(), (unit, got, want)


@pytest.mark.parametrize('name', ['forward', 'backward', 'affine_forward', 'affine_backward',
                                  'scale_add_forward', 'scale_add_backward'])
def test_every_compiled_kernel_is_float64_exact(compiled_kernels, name, device):
    """float64 means float64: each compiled APA/AGLU kernel in float64 equals the closed form
    (exact torch.log1p / softplus, evaluated eagerly in float64) to 1e-12, and the APA/AGLU
    kernels equal an arbitrary-precision reference (mpmath) at z = ±80, λ = 1e-4 ... 3 within
    float64 roundings amplified by the conditioning. With the float32 polynomial log1p inside
    the compiled kernels the error is ~1e-9 and this fails."""
    from gated_mm.models.activations import norm_act, residual_act
    # test name → (the op's kernels, its kernel): APA/AGLU, BN → act, scale + add → act
    kernels, kernel = {'forward': (apa_aglu.KERNELS, 'forward'),
                       'backward': (apa_aglu.KERNELS, 'backward'),
                       'affine_forward': (norm_act.KERNELS, 'forward'),
                       'affine_backward': (norm_act.KERNELS, 'backward'),
                       'scale_add_forward': (residual_act.KERNELS, 'forward'),
                       'scale_add_backward': (residual_act.KERNELS, 'backward')}[name]
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 40, 50, generator=gen, dtype=torch.float64) * 4
    g = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    kappa = torch.tensor([1.3, 0.7, -0.4], dtype=torch.float64).view(1, 3, 1, 1)
    lam = torch.tensor([0.05, 1.0, 2.5], dtype=torch.float64).view(1, 3, 1, 1)
    alpha = torch.tensor([0.9, 1.2, 0.5], dtype=torch.float64).view(1, 3, 1, 1)
    beta = torch.tensor([0.1, -0.3, 0.2], dtype=torch.float64).view(1, 3, 1, 1)
    se = torch.rand(2, 3, 1, 1, generator=gen, dtype=torch.float64)
    res = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    x, g, kappa, lam, alpha, beta, se, res = (t.to(device) for t in (x, g, kappa, lam, alpha,
                                                                     beta, se, res))
    head = {'forward': (x,), 'backward': (x,), 'affine_forward': (x, alpha, beta),
            'affine_backward': (x, alpha, beta), 'scale_add_forward': (x, se, res),
            'scale_add_backward': (x, se, res)}[name]
    for unit in (True,):  # (unit=False is the same maths without the final product)
        tail = ((g, unit, True, True) if name.endswith('backward') else (unit,))
        args = head + (kappa, lam) + tail
        with torch.no_grad():
            got = kernels.run(kernel, *args)
        # closed form: the same equations evaluated eagerly (torch.log1p, F.softplus)
        ref = kernels.maths[kernel](*args)
        got, ref = (got, ref) if isinstance(got, tuple) else ((got,), (ref,))
        for a, b in zip(got, ref):
            assert a.dtype == torch.float64
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        if name == 'forward':  # and the direct form of Eq. (4)/(5) where it is accurate
            z = x.clamp(-5, 5)
            with torch.no_grad():
                y = kernels.run(kernel, z, kappa, lam, unit)
            direct = ref_eta(z, kappa, lam) * (z if unit else 1)
            torch.testing.assert_close(y, direct, rtol=1e-12, atol=1e-12)
    if kernels is apa_aglu.KERNELS:  # an arbitrary-precision reference at extreme inputs
        z = torch.linspace(-80, 80, 2 * 3 * 161, dtype=torch.float64).view(2, 3, 161, 1)
        z = z.to(device)
        g = torch.randn(z.shape, generator=gen, dtype=torch.float64).to(device)
        k = torch.tensor([1.0, 1.3, -0.7], dtype=torch.float64, device=device).view(1, 3, 1, 1)
        lam = torch.tensor([1e-4, 0.05, 3.0], dtype=torch.float64, device=device)
        lam = lam.view(1, 3, 1, 1)
        ref = mp_reference(z, k, lam, g)
        for unit in (True, False):
            assert_kernels_within_conditioning(z, k, lam, g, unit, ref, 1e-300)
    assert kernels.compiled and not kernels.failed


@pytest.mark.parametrize('cls', [APA, AGLU])
@pytest.mark.parametrize('kwargs,match', [
    (dict(lambda_init=-0.5), r'lambda_init must be >= 0.0001'),
    (dict(lambda_init=0.0), r'lambda_init must be >= 0.0001'),
    (dict(lambda_init=(-1.0, 1.0)), r'lambda_init range must lie in \[0.0, inf\)'),
    (dict(lambda_init=(0.0, 1e-5)), r'lambda_init range .* end above 0.0001'),
    (dict(kappa_init=float('nan')), r'kappa_init must be a finite constant'),
    (dict(kappa_init=(0.0, float('inf'))), r'kappa_init must be a finite constant'),
    (dict(lambda_init=float('nan')), r'lambda_init must be a finite constant')])
def test_invalid_initial_values_are_refused(cls, kwargs, match):
    """λ below the floor would get zero gradient forever; NaN/Inf would train NaN."""
    with pytest.raises(ValueError, match=f'^{cls.__name__}: {match}'):
        cls(**kwargs)


def test_valid_initial_values_are_accepted():
    assert APA(lambda_init=1e-4).lambda_.item() == pytest.approx(1e-4)
    assert AGLU(lambda_init=(0.0, 1.0), kappa_init=-3.0).kappa.item() == -3.0
