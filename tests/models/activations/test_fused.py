"""FusedKernels: eager/compiled switch shared by APA/AGLU and IIEU."""
import pytest
import torch

from gated_mm.models.activations.fused import FusedKernels, compile_options


def _square_plus(x, c: float):
    return x * x + c


def _broken(x, c: float):
    raise RuntimeError('no compiler here')


def test_eager_when_off_under_grad_and_compiled_otherwise():
    k = FusedKernels('test', {'f': _square_plus})
    x = torch.randn(3, 4)
    k.mode = '0'
    torch.testing.assert_close(k.run('f', x, 1.5), x * x + 1.5)
    assert not k.compiled
    k.mode = 'auto'
    with torch.enable_grad():  # grad mode (double backward): eager, nothing compiled
        k.run('f', x, 1.5)
    assert not k.compiled
    with torch.no_grad():
        torch.testing.assert_close(k.run('f', x, 1.5), x * x + 1.5)
    assert k.compiled and not k.failed


def test_compiler_failure_warns_once_then_eager_and_strict_raises(monkeypatch):
    calls = []

    def fake_compile(fn, **kwargs):
        calls.append(kwargs)
        return _broken

    monkeypatch.setattr(torch, 'compile', fake_compile)
    x = torch.ones(2)
    k = FusedKernels('TestOp', {'f': _square_plus})
    k.mode = 'auto'  # (the tests run with GATED_MM_COMPILE=0)
    with torch.no_grad():
        with pytest.warns(UserWarning, match='torch.compile of the TestOp kernels failed '
                          r'\(RuntimeError: no compiler here\)'):
            assert k.run('f', x, 1.0).tolist() == [2.0, 2.0]
        assert k.failed
        assert k.run('f', x, 2.0).tolist() == [3.0, 3.0]  # eager from now on, no new warning
        assert calls and calls[0]['dynamic'] is True and calls[0]['options'] == compile_options()
        strict = FusedKernels('TestOp', {'f': _square_plus})
        strict.mode = '1'
        with pytest.raises(RuntimeError, match='no compiler here'):
            strict.run('f', x, 1.0)


def test_compile_options_contract_fma_when_inductor_has_the_flag():
    from torch._inductor import config
    opts = compile_options()
    if hasattr(config.cpp, 'enable_floating_point_contract_flag'):
        assert opts == {'cpp.enable_floating_point_contract_flag': 'fast'}
    else:
        assert opts == {}


# ----------------------------------------------------------------------------- the seam
def test_kernel_mode_overrides_every_op_nests_and_restores():
    from gated_mm.models.activations import apa_aglu, iieu, kernel_mode, norm_act, residual_act
    ops = (apa_aglu.KERNELS, norm_act.KERNELS, residual_act.KERNELS, iieu.KERNELS)
    own = FusedKernels('test', {'f': _square_plus})
    own.mode = '1'  # a GATED_MM_COMPILE spelling
    assert own.mode == 'compiled' and own.active_mode() == 'compiled'
    with kernel_mode('eager'):
        assert all(k.active_mode() == 'eager' for k in ops + (own, ))
        with kernel_mode('auto'):
            assert all(k.active_mode() == 'auto' for k in ops)
        assert own.active_mode() == 'eager'
        with torch.no_grad():  # eager even where compiling would apply
            torch.testing.assert_close(own.run('f', torch.ones(2), 1.0), torch.full((2, ), 2.0))
        assert not own.compiled
    assert own.active_mode() == 'compiled'
    assert all(k.active_mode() == k.mode for k in ops)
    with pytest.raises(ValueError, match=r"mode must be one of \('eager', 'auto', 'compiled'\)"):
        with kernel_mode('0'):
            pass


def test_reduce_to_is_the_adjoint_of_broadcasting():
    from gated_mm.models.activations.fused import reduce_to
    g = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    for shape in [(1, ), (1, 3, 1, 1), (2, 1, 4, 1), (5, ), (3, 1, 1), (2, 3, 4, 5)]:
        got = reduce_to(g, torch.Size(shape))
        assert got.shape == shape
        torch.testing.assert_close(got, g.sum_to_size(shape), rtol=0, atol=0)
    assert reduce_to(g, g.shape) is g  # nothing to sum: no copy


def test_function_inputs_name_the_slots_once():
    from gated_mm.models.activations.fused import FunctionInputs

    class Scale(torch.autograd.Function):

        @staticmethod
        def forward(ctx, x, factor: float, weight):
            ctx.save_for_backward(x, weight)
            ctx.factor = factor
            return x * weight * factor

        @staticmethod
        def backward(ctx, grad):
            x, weight = ctx.saved_tensors
            need_x, need_w = inputs.needs(ctx, 'x', 'weight')
            return inputs.grads(x=grad * weight * ctx.factor if need_x else None,
                                weight=(grad * x * ctx.factor).sum() if need_w else None)

    inputs = FunctionInputs(Scale.forward)
    assert inputs.names == ('x', 'factor', 'weight')
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    assert inputs.args(weight=w, x=x, factor=2.0) == (x, 2.0, w)
    assert torch.autograd.gradcheck(lambda x, w: Scale.apply(*inputs.args(x=x, factor=2.0,
                                                                          weight=w)), (x, w))
    with pytest.raises(TypeError, match=r"missing input\(s\) \['factor'\]"):
        inputs.args(x=x, weight=w)
    with pytest.raises(TypeError, match=r"unknown input\(s\) \['bias'\]"):
        inputs.grads(bias=None)


def test_no_exported_name_shadows_a_submodule():
    """``import gated_mm.models.activations.X as m`` gives the module X for every file X."""
    import importlib
    import pkgutil

    import gated_mm.models.activations as pkg
    modules = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
    assert {'apa_aglu', 'norm_act', 'residual_act', 'fused', 'fusion_policy'} <= modules
    assert not modules & set(pkg.__all__)
    for name in modules:
        assert getattr(pkg, name) is importlib.import_module(f'{pkg.__name__}.{name}')


def test_fusion_switches_the_nodes_off_nests_and_restores():
    from torch import nn

    from gated_mm.models.activations import AGLU, fusion, norm_act_fusion, residual_fusable
    bn, act = nn.BatchNorm2d(4), AGLU()

    def state():
        return norm_act_fusion(bn, act), residual_fusable(act, bn)

    assert state() == ('train', True)
    with fusion(False):
        assert state() == (None, False)
        with fusion(norm_act=True):
            assert state() == ('train', False)
        assert state() == (None, False)
    with fusion(residual_act=False):  # only the block ends
        assert state() == ('train', False)
    assert state() == ('train', True)
    bn.eval()
    with fusion(False):
        assert norm_act_fusion(bn, act) is None
    assert norm_act_fusion(bn, act) == 'eval'


@pytest.mark.slow
def test_more_input_classes_than_dynamo_default_stay_compiled(caplog):
    """Ten input classes of one kernel (dimension counts, size-1 dims, dtypes, APA vs AGLU):
    more than torch._dynamo's default recompile limit of 8, after which it would run the
    kernel eagerly without failing; the first compile raises the limit (fused.RECOMPILE_LIMIT)."""
    import logging

    import torch._dynamo.config as dynamo_config

    from gated_mm.models.activations import AGLU, APA, kernel_mode
    from gated_mm.models.activations.fused import RECOMPILE_LIMIT
    shapes = [(2, 3, 4, 5), (2, 3, 1, 1), (2, 1, 4, 5), (2, 3), (2, 3, 4), (1, 3, 4, 5)]
    caplog.set_level(logging.WARNING)
    with torch.no_grad():
        for cls in (APA, AGLU):
            for dtype in (torch.float32, torch.float64):
                for shape in shapes[:3] if dtype == torch.float64 else shapes:
                    act = cls(kappa_init=1.1, lambda_init=0.7).to(dtype)
                    z = torch.randn(shape, dtype=dtype)
                    with kernel_mode('eager'):
                        want = act(z)
                    with kernel_mode('compiled'):
                        torch.testing.assert_close(act(z), want)
    assert dynamo_config.recompile_limit >= RECOMPILE_LIMIT
    assert not [r for r in caplog.records if 'recompile_limit' in r.getMessage()]
