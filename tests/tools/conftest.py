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
    the tools' imports of each other (``from benchmark import ...``) resolve."""
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    spec = importlib.util.spec_from_file_location(name, osp.join(TOOLS, f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='session')
def analysis_tool():
    return load_analysis_tool
