"""dump_resolved_configs.py: a base refactoring that keeps every resolved value compares equal;
a changed value, a tuple turned list and a removed key are each reported, with exit status 1."""
import json
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'dump_resolved_configs.py')

LEAF = ("model = dict(head=dict(num_classes=10, topk=(1, 5)), backbone=dict(depth=26))\n"
        "max_epochs = 4\n")


def run(*args):
    return subprocess.run([sys.executable, TOOL, *map(str, args)], capture_output=True,
                          text=True, cwd=REPO)


def write(folder, files):
    folder.mkdir()
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def dump(tmp_path, name, files):
    folder = write(tmp_path / name, files)
    out = run('dump', tmp_path / f'{name}.json', folder)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads((tmp_path / f'{name}.json').read_text())
    # keys are the paths given; make them relative to the folder to compare two folders
    return {k.split(f'{name}/', 1)[1]: v for k, v in data.items()}


def test_refactoring_into_a_base_compares_identical_and_drift_is_named(tmp_path):
    before = dump(tmp_path, 'before', {'leaf.py': LEAF})
    assert before['leaf.py']['model']['head']['topk'] == {'__tuple__': [1, 5]}
    same = dump(tmp_path, 'same', {
        '_base_/model.py': "model = dict(head=dict(num_classes=10, topk=(1, 5)))\n",
        'leaf.py': "_base_ = ['./_base_/model.py']\nmodel = dict(backbone=dict(depth=26))\n"
                   "max_epochs = 4\n"})
    drift = dump(tmp_path, 'drift', {
        'leaf.py': "model = dict(head=dict(num_classes=10, topk=[1, 5]),\n"
                   "             backbone=dict(depth=50))\n"})
    files = {}
    for name, data in (('before', before), ('same', same), ('drift', drift)):
        files[name] = tmp_path / f'{name}_rel.json'
        files[name].write_text(json.dumps(data))

    ok = run('compare', files['before'], files['same'])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().splitlines()[-1] == '1 configs in both, 1 identical'
    assert 'only in' in ok.stdout and '_base_/model.py' in ok.stdout  # the new base, listed

    bad = run('compare', files['before'], files['drift'])
    assert bad.returncode == 1
    line = next(ln for ln in bad.stdout.splitlines() if ln.startswith('DIFFERS leaf.py'))
    for key in ('max_epochs (only before)', 'model.backbone.depth', 'model.head.topk'):
        assert key in line, line
    assert bad.stdout.strip().splitlines()[-1] == '1 configs in both, 0 identical'


def test_moved_base_is_compared_under_its_old_name(tmp_path):
    before = tmp_path / 'b.json'
    after = tmp_path / 'a.json'
    before.write_text(json.dumps({'old/p.py': {'x': 1}}))
    after.write_text(json.dumps({'new/p.py': {'x': 1}}))
    out = run('compare', before, after, '--moved', 'old/p.py=new/p.py')
    assert out.returncode == 0 and out.stdout.strip() == '1 configs in both, 1 identical'
    out = run('compare', before, after, '--moved', 'old/p.py')
    assert out.returncode != 0 and 'give OLD=NEW' in out.stderr
