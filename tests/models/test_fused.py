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
    assert k._compiled is None
    k.mode = 'auto'
    with torch.enable_grad():  # grad mode (double backward): eager, nothing compiled
        k.run('f', x, 1.5)
    assert k._compiled is None
    with torch.no_grad():
        torch.testing.assert_close(k.run('f', x, 1.5), x * x + 1.5)
    assert k._compiled is not None and not k._failed


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
        assert k._failed
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
