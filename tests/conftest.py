"""Test-wide settings.

The APA/AGLU kernels are checked against the float64 references in their eager form
(``GATED_MM_COMPILE=0``), which compiles nothing; ``tests/models/activations/test_apa_aglu.py`` compares the
compiled kernels with the eager ones separately. Subprocesses (tools/*.py) inherit this.

Devices: the one mechanism for CPU + CUDA cases is the ``device`` fixture: it runs a test once
per entry of ``DEVICE_PARAMS`` (the CUDA case is skipped with the reason on a machine without a
GPU, so a CPU-only run shows what it left out); ``@pytest.mark.cuda`` marks a CUDA-only test.
``@pytest.mark.slow``: tests that take a minute or more on 2 CPU cores (e.g. torch.compile);
they run by default (CI included); ``-m "not slow"`` skips them locally.
"""
import os

import pytest
import torch

os.environ.setdefault('GATED_MM_COMPILE', '0')

CUDA = torch.cuda.is_available()
_NO_CUDA = 'no CUDA device (torch.cuda.is_available() is False): GPU case not run'
DEVICE_PARAMS = ['cpu', pytest.param('cuda', marks=pytest.mark.skipif(not CUDA, reason=_NO_CUDA))]


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes a minute or more on 2 CPU cores (runs in '
                            'CI; deselect with -m "not slow")')
    config.addinivalue_line('markers', 'cuda: needs a CUDA device (skipped without one)')


@pytest.fixture(params=DEVICE_PARAMS)
def device(request):
    """'cpu', then 'cuda' (skipped without a GPU)."""
    return torch.device(request.param)


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.cuda`` tests are skipped (with the reason) without a GPU."""
    if CUDA:
        return
    skip = pytest.mark.skip(reason=_NO_CUDA)
    for item in items:
        if 'cuda' in item.keywords:
            item.add_marker(skip)
