"""The offline GPU check's pieces without the network or a GPU: which bundle wheels
``gpu_bundle.py select`` installs (torchvision matched to torch), the summary table read from
step logs and benchmark results, the training's top-1 floor, the argument handling of
``gpu_check.sh`` / ``make_gpu_bundle.sh`` (refused before anything is downloaded or run), and
that ``gpu_check.sh``'s test list holds every device-parametrised test module."""
import json
import os.path as osp
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / 'tools' / 'analysis_tools' / 'gpu_check.sh'
MAKE = REPO / 'tools' / 'analysis_tools' / 'make_gpu_bundle.sh'


@pytest.fixture(scope='module')
def gb(analysis_tool):
    return analysis_tool('gpu_bundle')


def fake_wheel(folder, filename, requires=()):
    name, version = filename.split('-')[:2]
    with zipfile.ZipFile(folder / filename, 'w') as z:
        z.writestr(f'{name}-{version}.dist-info/METADATA',
                   '\n'.join([f'Name: {name}', f'Version: {version}'] +
                             [f'Requires-Dist: {r}' for r in requires]) + '\n')


@pytest.fixture
def bundle(tmp_path):
    wheels = tmp_path / 'wheels'
    wheels.mkdir()
    fake_wheel(wheels, 'mmengine-0.10.7-py3-none-any.whl')
    fake_wheel(wheels, 'pygments-2.21.0-py3-none-any.whl')
    fake_wheel(wheels, 'setuptools-81.0.0-py3-none-any.whl')
    fake_wheel(wheels, 'markdown_it_py-4.3.0-py3-none-any.whl')
    fake_wheel(wheels, 'torchvision-0.26.0-cp312-cp312-manylinux_2_28_x86_64.whl',
               ['numpy', 'torch (==2.11.0)', 'pillow (!=8.3.*,>=5.3.0)'])
    fake_wheel(wheels, 'torchvision-0.29.2-py3-none-manylinux_2_28_x86_64.whl',
               ['numpy', 'torch (>=2.14.0)'])
    return tmp_path


def test_select_adds_what_is_missing_and_the_torchvision_of_this_torch(gb, bundle):
    have = {'pygments': '2.21.0', 'setuptools': '84.2.1', 'markdown-it-py': '3.0.0'}
    for torch, vision in (('2.11.0+cu130', '0.26.0'), ('2.14.1+cu130', '0.29.2'),
                          ('2.15.0', '0.29.2')):
        chosen, report = gb.select_wheels(bundle, dict(have, torch=torch).get)
        names = sorted(Path(w).name.split('-')[0] + '-' + Path(w).name.split('-')[1]
                       for w in chosen)
        # pygments is there at the bundle's version; setuptools 84 has no pkg_resources
        assert names == ['markdown_it_py-4.3.0', 'mmengine-0.10.7', 'setuptools-81.0.0',
                         f'torchvision-{vision}'], torch
        assert 'use   pygments 2.21.0 (already installed)' in report
        assert 'add   setuptools 81.0.0 (over the installed 84.2.1)' in report
        assert 'add   markdown-it-py 4.3.0 (over the installed 3.0.0)' in report


def test_select_keeps_an_installed_torchvision_and_names_a_missing_pair(gb, bundle):
    chosen, report = gb.select_wheels(bundle, {'torch': '2.11.0', 'torchvision': '0.26.0'}.get)
    assert not any('torchvision' in Path(w).name for w in chosen)
    assert 'use   torchvision 0.26.0 (already installed)' in report
    with pytest.raises(LookupError, match=r'no torchvision wheel for torch 2\.12\.0 '
                       r'\(torchvision 0\.26\.0: torch ==2\.11\.0; torchvision 0\.29\.2: '
                       r'torch >=2\.14\.0\); rebuild'):
        gb.select_wheels(bundle, {'torch': '2.12.0+cu130'}.get)
    with pytest.raises(FileNotFoundError, match='no wheels'):
        gb.select_wheels(bundle / 'wheels', {}.get)


def test_version_clauses(gb):
    assert gb.satisfies('2.11.0+cu130', [('==', '2.11.0')])
    assert not gb.satisfies('2.11.1', [('==', '2.11.0')])
    assert gb.satisfies('2.14.1', [('>=', '2.14.0'), ('<', '2.15')])
    assert not gb.satisfies('2.15.0', [('>=', '2.14.0'), ('<', '2.15')])
    assert gb.satisfies('2.14.3', [('~=', '2.14.1')]) and not gb.satisfies('2.15.0',
                                                                           [('~=', '2.14.1')])
    assert not gb.satisfies('2.14.1', [])  # a torchvision without a torch pin is no match


def write_results(tmp_path):
    res = tmp_path / 'results'
    (res / 'bench-op').mkdir(parents=True)
    (res / 'bench-model').mkdir()
    op_rows = [dict(op=op, variant=v, median=m, saved_bytes=b) for op, v, m, b in (
        ('AGLU', 'native', 0.002, 100), ('AGLU', 'reference', 0.006, 400),
        ('AGLU', 'ours', 0.003, 100), ('APA', 'native', 0.001, 100),
        ('APA', 'ours', 0.0015, 125))]
    (res / 'bench-op' / 'benchmark_op.json').write_text(json.dumps(dict(rows=op_rows)))
    (res / 'bench-op' / 'benchmark_op.md').write_text('| op | variant |\n|---|---|\n')
    model_rows = [dict(model='plain SE (ReLU, Sigmoid)', step_median=0.10, saved_bytes=1000,
                       cuda_peak_bytes=2000),
                  dict(model='APA + AGLU (ours)', step_median=0.13, saved_bytes=1040,
                       cuda_peak_bytes=2400)]
    (res / 'bench-model' / 'benchmark_model.json').write_text(json.dumps(dict(rows=model_rows)))
    (res / 'tests-cuda.log').write_text(
        '....s\nSKIPPED [1] tests/x.py:3: mmdet not installed\n'
        '101 passed, 1 skipped, 293 deselected, 5 warnings in 80.12s (0:01:20)\n')
    (res / 'train-cuda.log').write_text(
        'Epoch(train) [2][110/117]  lr: 1e-1  time: 0.05  loss: 0.7123\n'
        'Epoch(val) [2][40/40]    shot/top1: 61.2300  shot/mean_class: 61.2300  '
        'shot/many: 88.1000  shot/medium: 50.5000  shot/few: 30.0100  time: 0.1\n')
    rows = [('tests-cuda', 'PASS', '95', 'pytest', res / 'tests-cuda.log'),
            ('bench-op', 'PASS', '20', 'bench-op', res / 'bench-op.log'),
            ('bench-model', 'FAIL (exit 1)', '40', 'bench-model', res / 'bench-model.log'),
            ('train-cuda', 'PASS', '70', 'train', res / 'train-cuda.log'),
            ('train-cpu', 'SKIP', '0', 'plain', 'a | reason')]
    (res / 'steps.tsv').write_text(''.join('\t'.join(map(str, r)) + '\n' for r in rows))
    return res


def test_summary_reads_each_step(gb, tmp_path, capsys):
    res = write_results(tmp_path)
    gb.main(['summary', str(res), '--header', 'gpu_check: GPU: NVIDIA H100'])
    text = capsys.readouterr().out
    assert text == (res / 'summary.md').read_text()
    rows = {line.split(' | ')[0][2:]: line for line in text.splitlines()
            if line.startswith('| ') and not line.startswith('| step')}
    assert text.startswith('gpu_check: GPU: NVIDIA H100\n')
    assert rows['tests-cuda'] == ('| tests-cuda | PASS | 95 | 101 passed, 1 skipped, 293 '
                                  'deselected, 5 warnings in 80.12s |')
    assert 'AGLU/SiLU time 1.50x saved 1.00x; APA/Sigmoid time 1.50x saved 1.25x' in \
        rows['bench-op']
    assert 'APA+AGLU/plain step 1.30x saved 1.04x peak 1.20x' in rows['bench-model']
    assert rows['train-cuda'].endswith(
        '[2][110/117] loss 0.7123; val top1 61.2 many 88.1 medium 50.5 few 30.0 |')
    assert rows['train-cpu'] == '| train-cpu | SKIP | 0 | a / reason |'  # no stray column
    assert '### bench-op: benchmark_op.md' in text


def test_val_top1_floor(gb, tmp_path, capsys):
    res = write_results(tmp_path)
    gb.main(['val-top1', str(res / 'train-cuda.log'), '--min', '30'])
    assert 'validation top-1 61.23 >= 30' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        gb.main(['val-top1', str(res / 'train-cuda.log'), '--min', '70'])
    assert exc.value.code == 1
    with pytest.raises(SystemExit) as exc:  # a folder without a training log
        gb.main(['val-top1', str(res / 'bench-op'), '--min', '30'])
    assert exc.value.code == 2


def run(*cmd, cwd=None):
    return subprocess.run(['bash', *map(str, cmd)], capture_output=True, text=True, timeout=60,
                          cwd=cwd)


@pytest.mark.parametrize('args, message', [
    (['--bogus'], 'unknown option --bogus'),
    (['--bundle', '/nonexistent/bundle'], '--bundle /nonexistent/bundle: no wheels/ folder'),
    (['--budget-s', 'soon'], '--budget-s soon: expected whole seconds'),
    (['a', 'b'], 'one RESULTS_DIR only (got a and b)'),
])
def test_gpu_check_refuses_bad_arguments_in_one_line(args, message):
    out = run(CHECK, *args)
    assert out.returncode == 2 and out.stdout == ''
    assert out.stderr.startswith(f'gpu_check.sh: error: {message}')
    assert out.stderr.count('\n') == 1


@pytest.mark.parametrize('args, message', [
    (['--python', '312'], '--python 312: expected X.Y'),
    (['--torch', '2.11'], '--torch 2.11: expected T=V[,T=V]'),
    (['--fashion-mnist', '/nonexistent'], '--fashion-mnist /nonexistent: no such folder'),
    (['--max-mib', '1e3'], '--max-mib 1e3: expected a whole number'),
])
def test_make_gpu_bundle_refuses_bad_arguments_before_downloading(args, message, tmp_path):
    out = run(MAKE, *args, tmp_path / 'b')
    assert out.returncode == 2 and out.stderr.startswith(f'make_gpu_bundle.sh: error: {message}')
    assert not (tmp_path / 'b').exists()


def test_make_gpu_bundle_never_replaces_a_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / 'mine.txt').write_text('keep me')
    out = run(MAKE, tmp_path)
    assert out.returncode == 2 and 'is not a bundle' in out.stderr
    assert (tmp_path / 'mine.txt').read_text() == 'keep me'


def test_help_lists_the_options():
    assert '--bundle DIR' in run(CHECK, '--help').stdout
    assert '--torch T=V' in run(MAKE, '--help').stdout


def test_the_check_runs_every_device_parametrised_test_module():
    """A module with a ``device`` test argument, a local cpu+cuda device list or
    ``@pytest.mark.cuda`` must be in gpu_check.sh's TESTS, and TESTS holds no other."""
    text = CHECK.read_text()
    listed = set(re.search(r'^TESTS=\(([^)]*)\)', text, re.M).group(1).split())
    pattern = re.compile(r"def test_\w+\([^)]*\bdevice\b|mark\.cuda|DEVICE_PARAMS|"
                         r"\[\s*'cpu'\s*\]\s*\+")
    found = {osp.relpath(p, REPO) for p in (REPO / 'tests').rglob('test_*.py')
             if p.name != Path(__file__).name and pattern.search(p.read_text())}
    assert found and listed == found
