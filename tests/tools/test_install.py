"""Installing gated_mm into an existing OpenMMLab environment, as a user would, outside this
clone: the wheel of ``pip wheel --no-deps .`` installed into a throwaway environment that sees the
test environment's packages (mmengine, mmcv, mmdet, mmpretrain, ...) but not this clone; there, a
user config in a temp folder inherits ``gated_mm::<config>``, trains a few iterations with the
installed ``gated_mm/.mim/tools/train.py`` (Fashion-MNIST-format files written here), and mmdet's
own ``analyze_logs.py`` (from the installed mmdet's ``.mim/tools``) reads the gated training log.
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
QUICK = 'fashion_mnist_lt/gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py'

USER_CFG = """# a user's config, outside the gated_mm clone
_base_ = 'gated_mm::{quick}'
train_set = dict(type='FashionMNISTLT', split='train', imbalance_ratio=2, data_root='{data}')
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(train_set, data_root='{data}', imbalance_ratio=2))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
"""


def _write_idx(path, arr):
    header = bytes([0, 0, 8, arr.ndim]) + b''.join(int(d).to_bytes(4, 'big') for d in arr.shape)
    with open(path, 'wb') as f:
        f.write(header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes())


def _fashion_mnist_files(folder, per_class=4):
    """Fashion-MNIST-format IDX files (28x28 grey, 10 classes); class = mean brightness."""
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    for split in ('train', 't10k'):
        labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
        images = (rng.integers(0, 40, (labels.size, 28, 28)) + 20 * labels[:, None, None])
        _write_idx(osp.join(folder, f'{split}-images-idx3-ubyte'), images.astype(np.uint8))
        _write_idx(osp.join(folder, f'{split}-labels-idx1-ubyte'), labels)


def _run(args, cwd, env, timeout=600):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f'{args} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}'
                    f'\n--- stderr\n{proc.stderr[-6000:]}')
    return proc


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(python, env, user dir, installed package dir, wheel) of a throwaway environment with
    the gated_mm wheel installed and the test environment's packages visible."""
    import mmengine
    tmp = tmp_path_factory.mktemp('install')
    # build from a copy of the source (setuptools writes build/ and *.egg-info next to it)
    src = tmp / 'src'
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        '.git', '.venv', 'work_dirs', 'data', 'build', 'dist', '*.egg-info', '__pycache__',
        '.pytest_cache'))
    env = dict(os.environ, OMP_NUM_THREADS='1', PIP_NO_INDEX='1',
               PIP_DISABLE_PIP_VERSION_CHECK='1')
    env.pop('PYTHONPATH', None)
    _run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
          str(src), '-w', str(tmp / 'dist')], cwd=str(tmp), env=env)
    wheel = next((tmp / 'dist').glob('gated_mm-*.whl'))
    # a fresh venv whose site-packages get the wheel, then (a .pth, as tools/setup_env.sh does)
    # the test environment's packages; this clone is nowhere on its sys.path
    venv = tmp / 'venv'
    _run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], cwd=str(tmp), env=env)
    python = str(venv / 'bin' / 'python')
    site = _run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                cwd=str(tmp), env=env).stdout.strip()
    _run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--target', site,
          str(wheel)], cwd=str(tmp), env=env)
    shared = osp.dirname(osp.dirname(osp.abspath(mmengine.__file__)))
    with open(osp.join(site, 'zz-shared-environment.pth'), 'w') as f:
        f.write(f'import site; site.addsitedir({shared!r})\n')
    user = tmp / 'user'
    _fashion_mnist_files(str(user / 'fmnist'))
    (user / 'my_config.py').write_text(USER_CFG.format(quick=QUICK, data=user / 'fmnist'))
    return python, env, str(user), osp.join(site, 'gated_mm'), wheel


@pytest.mark.slow
def test_wheel_ships_configs_tools_and_declares_the_tested_versions(installed):
    python, env, user, pkg, wheel = installed
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith('.dist-info/METADATA'))).decode()
    assert f'gated_mm/.mim/configs/{QUICK}' in names
    assert 'gated_mm/.mim/configs/_base_/default_runtime.py' in names
    assert {'gated_mm/.mim/tools/train.py', 'gated_mm/.mim/tools/test.py',
            'gated_mm/.mim/tools/dist_train.sh'} <= names
    assert not any(n.startswith(('tests/', 'configs/', 'tools/')) for n in names)
    requires = [line.split(': ', 1)[1] for line in meta.splitlines()
                if line.startswith('Requires-Dist: ')]
    for pin in ('mmengine==0.10.7', 'mmdet==3.3.0', 'mmpretrain==1.2.0', 'lvis==0.5.3',
                'pycocotools>=2.0.8', 'tensorboard', 'setuptools<82'):
        assert pin in requires, (pin, requires)
    assert not any(r.startswith(('mmcv', 'opencv-python-headless')) for r in requires)
    assert 'seaborn; extra == "analysis"' in requires
    # what the throwaway environment imports: the installed wheel, not this clone
    out = _run([python, '-c', 'import gated_mm; print(gated_mm.__file__)'], cwd=user,
               env=env).stdout.strip()
    assert osp.realpath(out) == osp.realpath(osp.join(pkg, '__init__.py'))


@pytest.fixture(scope='module')
def user_run(installed):
    """The user config (inheriting gated_mm::...) trained by the installed tools/train.py."""
    python, env, user, pkg, _ = installed
    work = osp.join(user, 'work')
    proc = _run([python, osp.join(pkg, '.mim', 'tools', 'train.py'), 'my_config.py',
                 '--work-dir', work], cwd=user, env=env)
    return work, proc.stdout + proc.stderr


@pytest.mark.slow
def test_user_config_inherits_and_trains_outside_the_clone(installed, user_run):
    python, env, user, pkg, _ = installed
    work, log = user_run
    dumped = open(osp.join(work, 'my_config.py')).read()  # the resolved config
    assert "type='GatedResNet'" in dumped and "type='AGLU'" in dumped
    assert 'TensorboardVisBackend' in dumped  # the shipped runtime base came along
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    assert 'paramwise options of ' in log and 'paramwise_options -- ' not in log
    assert REPO not in log  # nothing was read from this clone


@pytest.mark.slow
def test_mmdet_analyze_logs_reads_a_gated_training_log(installed, user_run):
    """mmdet's tools/analysis_tools/analyze_logs.py (needs seaborn: the 'analysis' extra)."""
    python, env, user, pkg, _ = installed
    pytest.importorskip('seaborn', reason='seaborn not installed: pip install '
                        "'gated_mm[analysis]' (tools/run_tests.sh installs it)")
    import mmdet
    tool = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'analysis_tools',
                    'analyze_logs.py')
    work, _ = user_run
    logs = [osp.join(work, d, 'vis_data', 'scalars.json') for d in sorted(os.listdir(work))
            if osp.isfile(osp.join(work, d, 'vis_data', 'scalars.json'))]
    assert len(logs) == 1
    entries = [json.loads(line) for line in open(logs[0])]
    assert len(entries) >= 3 and all('loss' in e and 'time' in e for e in entries)
    out = _run([python, tool, 'cal_train_time', logs[0]], cwd=user, env=env).stdout
    assert 'average iter time:' in out
    curve = osp.join(user, 'loss.png')
    out = _run([python, tool, 'plot_curve', logs[0], '--keys', 'loss', '--backend', 'Agg',
                '--out', curve], cwd=user, env=env).stdout
    assert 'plot curve of' in out and osp.getsize(curve) > 1000
