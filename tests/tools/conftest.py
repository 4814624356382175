"""Fixtures of the tool tests: ``analysis_tool(name)`` loads ``tools/analysis_tools/<name>.py``
as a module (the tools are scripts, not a package)."""
import importlib.util
import os.path as osp
import sys

import pytest

TOOLS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
                 'analysis_tools')


def load_analysis_tool(name):
    """The module of ``tools/analysis_tools/<name>.py``; the folder goes on ``sys.path`` so that
    the tools' imports of each other (``from benchmark import ...``) resolve.

    The module is loaded once and kept in ``sys.modules`` under its name, so a test and a tool
    that imports it (``benchmark_family`` imports ``public_layouts``) see the same classes; a
    second copy would register classes that are not the ones the test holds."""
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    path = osp.join(TOOLS, f'{name}.py')
    mod = sys.modules.get(name)
    if mod is not None and osp.abspath(getattr(mod, '__file__', '') or '') == path:
        return mod
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


@pytest.fixture(scope='session')
def analysis_tool():
    return load_analysis_tool


class TimerSpy:
    """Stands in for a benchmark tool's ``interleaved(fns, repeats, warmup, device)``: runs the
    real one on counting wrappers of the timed callables, and keeps, per call, how often each
    callable ran and the medians returned, so a test can check the tool's table against what
    was timed (a benchmark that times nothing, or reports another number, fails)."""

    def __init__(self, real):
        self.real, self.calls = real, []

    def __call__(self, fns, repeats, warmup, device):
        counts = dict.fromkeys(fns, 0)

        def counted(key, fn):
            def run():
                counts[key] += 1
                return fn()
            return run

        times = self.real({k: counted(k, fn) for k, fn in fns.items()}, repeats, warmup, device)
        self.calls.append(dict(counts=counts, times=times, runs=repeats + warmup))
        return times


@pytest.fixture
def timer_spy(monkeypatch):
    """``timer_spy(module)`` replaces ``module.interleaved`` by a :class:`TimerSpy`."""
    def install(module):
        spy = TimerSpy(module.interleaved)
        monkeypatch.setattr(module, 'interleaved', spy)
        return spy
    return install
