"""Fixtures of the Gated tests."""
import pytest
import torch


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """Small tensors: one intra-op thread (on a loaded 2-core machine, OpenMP's two threads
    made these convolutions ~50x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
