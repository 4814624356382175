"""tools/setup_env.sh gives each clone its own environment: after two clones ran it, each
clone's python imports its own gated_mm, over one shared dependency layer (the cached mmcv
build included), and the shared layer is left without any clone in it."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _shared_layer():
    import mmcv
    venv = Path(mmcv.__file__).resolve().parents[4]  # <venv>/lib/pythonX.Y/site-packages/mmcv
    if not (venv / '.gated_mm_ready').exists():
        pytest.skip(f'mmcv is not from a tools/setup_env.sh environment ({venv})')
    return venv


def _clone(dst: Path):
    for part in ('gated_mm', 'requirements', 'tools'):
        shutil.copytree(ROOT / part, dst / part,
                        ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    return dst


def test_two_clones_each_import_their_own_code(tmp_path):
    shared = _shared_layer()
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    env.update(GATED_MM_CACHE=str(tmp_path / 'cache'), GATED_MM_VENV=str(shared))
    clones = [_clone(tmp_path / name) for name in ('clone_a', 'clone_b')]
    pythons = []
    for clone in clones:  # clone_b runs last
        proc = subprocess.run(['bash', str(clone / 'tools/setup_env.sh')], capture_output=True,
                              text=True, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        pythons.append(proc.stdout.strip().splitlines()[-1])
        assert pythons[-1] == str(clone / '.venv/bin/python')
    code = 'import gated_mm, mmcv.ops; print(gated_mm.__file__); print(mmcv.__file__)'
    for clone, py in zip(clones, pythons):
        out = subprocess.run([py, '-c', code], capture_output=True, text=True, env=env,
                             cwd=tmp_path, check=True).stdout.split()
        assert Path(out[0]).resolve() == (clone / 'gated_mm/__init__.py').resolve()
        assert Path(out[1]).resolve().is_relative_to(shared.resolve())
    # nothing of either clone went into the shared layer
    shared_site = subprocess.run(
        [str(shared / 'bin/python'), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        capture_output=True, text=True, check=True).stdout.strip()
    for f in Path(shared_site).glob('*.pth'):
        text = f.read_text()
        assert str(tmp_path) not in text, f
