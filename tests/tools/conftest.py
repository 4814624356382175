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
