"""Fixtures of the model tests: kernel selection through the public seam."""
import pytest

from gated_mm.models.activations import kernel_mode


@pytest.fixture
def compiled_kernels():
    """The fused kernels as shipped (``kernel_mode('auto')``: compiled, eager with a warning
    if compilation fails, which the tests then assert did not happen); the tests otherwise
    run eager (``GATED_MM_COMPILE=0``, tests/conftest.py)."""
    with kernel_mode('auto'):
        yield
