"""End-to-end tests of tools/ (train.py, test.py, dist_train.sh, slurm_test.sh) on tiny
configs (tests/data/configs/) and tiny datasets written to a temp dir. Each run is a real
subprocess, the way users start them."""
import json
import os
import os.path as osp
import pickle
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'tests', 'data', 'configs')
CLS_CONFIG = osp.join(CONFIGS, 'tiny_cls.py')
DET_CONFIG = osp.join(CONFIGS, 'tiny_det.py')
AMP_LOSS_RTOL = 2**-7  # one bfloat16 rounding; measured: 3.6e-5 at iteration 1 (1.10003 vs 1.10007)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _env(**extra):
    env = dict(os.environ)
    # the shell scripts run $PYTHON: the interpreter running the tests
    env.update(PYTHON=sys.executable, PYTHONPATH=REPO, OMP_NUM_THREADS='1',
               PORT=str(_free_port()))
    env.update(extra)
    return env


def run(args, cwd=REPO, env=None, expect_ok=True, timeout=300):
    """Run a tool; on an unexpected exit code fail with its output."""
    proc = subprocess.run(args, cwd=cwd, env=env or _env(), capture_output=True,
                          text=True, timeout=timeout)
    if expect_ok and proc.returncode != 0:
        pytest.fail(f'{args} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}'
                    f'\n--- stderr\n{proc.stderr[-6000:]}')
    return proc


def python_tool(name, *args, **kwargs):
    return run([sys.executable, osp.join(REPO, 'tools', name), *args], **kwargs)


# ---------------------------------------------------------------- tiny data sets
@pytest.fixture(scope='module')
def cls_data(tmp_path_factory):
    """3 classes x 4 PNG images (32x32), class = dominant colour channel + noise."""
    from PIL import Image
    root = tmp_path_factory.mktemp('tiny_cls')
    rng = np.random.default_rng(0)
    for c, name in enumerate(['c0', 'c1', 'c2']):
        os.makedirs(root / name)
        for i in range(4):
            img = rng.integers(0, 80, (32, 32, 3), dtype=np.uint8)
            img[..., c] += 150
            Image.fromarray(img).save(root / name / f'{i}.png')
    return str(root)


def cls_options(data_root, **extra):
    opts = [f'{split}_dataloader.dataset.data_root={data_root}'
            for split in ('train', 'val', 'test')]
    opts += [f'{k}={v}' for k, v in extra.items()]
    return ['--cfg-options', *opts]


@pytest.fixture(scope='module')
def det_data(tmp_path_factory):
    """Two 64x64 images in COCO format, one box each (classes a, b)."""
    from PIL import Image
    root = tmp_path_factory.mktemp('tiny_det')
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i, (box, cat) in enumerate([([8, 8, 24, 24], 1), ([30, 20, 28, 36], 2)], 1):
        img = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
        x, y, w, h = box
        img[y:y + h, x:x + w] = 200
        Image.fromarray(img).save(root / f'{i}.png')
        images.append(dict(id=i, file_name=f'{i}.png', width=64, height=64))
        anns.append(dict(id=i, image_id=i, category_id=cat, bbox=box, area=w * h,
                         iscrowd=0))
    (root / 'ann.json').write_text(json.dumps(dict(
        images=images, annotations=anns,
        categories=[dict(id=1, name='a'), dict(id=2, name='b')])))
    return str(root) + '/'


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f'{k} differs'


# ---------------------------------------------------------------- argument errors
def test_missing_config_is_a_one_line_error(tmp_path):
    proc = python_tool('train.py', str(tmp_path / 'nope.py'), expect_ok=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f'train.py: error: config file not found: {tmp_path / "nope.py"}']
    proc = python_tool('train.py', CLS_CONFIG, '--resume', str(tmp_path / 'x.pth'),
                       expect_ok=False)
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
    assert 'checkpoint to resume from not found' in proc.stderr


def test_missing_checkpoint_is_a_one_line_error(tmp_path):
    proc = python_tool('test.py', CLS_CONFIG, str(tmp_path / 'x.pth'), expect_ok=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f'test.py: error: checkpoint not found: {tmp_path / "x.pth"}']
    proc = python_tool('test.py', str(tmp_path / 'nope.py'), CLS_CONFIG, expect_ok=False)
    assert proc.stderr.strip().splitlines() == [
        f'test.py: error: config file not found: {tmp_path / "nope.py"}']


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only check')
def test_launcher_without_torchrun_env_is_a_one_line_error(tmp_path, cls_data):
    env = _env()
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        env.pop(key, None)
    proc = python_tool('train.py', CLS_CONFIG, '--launcher', 'pytorch', '--work-dir',
                       str(tmp_path), *cls_options(cls_data), env=env, expect_ok=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith(
        'train.py: error: --launcher pytorch needs environment variables RANK')


# ---------------------------------------------------------------- train / test / resume
@pytest.fixture(scope='module')
def full_run(tmp_path_factory, cls_data):
    """Uninterrupted 6-iteration run of tools/train.py (from the repo root)."""
    work = tmp_path_factory.mktemp('full')
    python_tool('train.py', CLS_CONFIG, '--work-dir', str(work), *cls_options(cls_data))
    return str(work)


def test_train_writes_checkpoints_and_validates(full_run):
    assert open(osp.join(full_run, 'last_checkpoint')).read().strip().endswith('iter_6.pth')
    ckpt = torch.load(osp.join(full_run, 'iter_6.pth'), map_location='cpu',
                      weights_only=False)
    assert ckpt['meta']['iter'] == 6
    assert ckpt['meta']['dataset_meta']['classes'] == ('c0', 'c1', 'c2')
    logs = [json.loads(line) for d in os.listdir(full_run)
            if osp.isdir(osp.join(full_run, d))
            for f in [osp.join(full_run, d, 'vis_data', 'scalars.json')] if osp.exists(f)
            for line in open(f)]
    assert any('accuracy/top1' in entry for entry in logs)


def test_default_work_dir_is_work_dirs_config_name(tmp_path, cls_data):
    python_tool('train.py', CLS_CONFIG, *cls_options(cls_data, **{'train_cfg.max_iters': 1,
                                                                   'train_cfg.val_interval': 5}),
                cwd=str(tmp_path))
    assert osp.isfile(tmp_path / 'work_dirs' / 'tiny_cls' / 'iter_1.pth')


def test_test_py_evaluates_and_dumps(full_run, cls_data, tmp_path):
    out = tmp_path / 'preds.pkl'
    proc = python_tool('test.py', CLS_CONFIG, osp.join(full_run, 'iter_6.pth'), '--work-dir',
                       str(tmp_path), '--out', str(out), '--show-dir', 'shown',
                       *cls_options(cls_data))
    assert 'accuracy/top1' in proc.stdout + proc.stderr
    preds = pickle.load(open(out, 'rb'))
    assert len(preds) == 12 and 'pred_score' in preds[0]
    shown = [f for root, _, files in os.walk(tmp_path) if root.endswith('shown')
             for f in files]
    assert shown and all(f.endswith('.png') for f in shown)


def test_test_py_fuse_conv_bn_gives_the_same_predictions(full_run, cls_data, tmp_path):
    preds = []
    for extra in ([], ['--fuse-conv-bn']):
        out = tmp_path / f'preds{len(extra)}.pkl'
        proc = python_tool('test.py', CLS_CONFIG, osp.join(full_run, 'iter_6.pth'),
                           '--work-dir', str(tmp_path / str(len(extra))), '--out', str(out),
                           *extra, *cls_options(cls_data))
        preds.append(pickle.load(open(out, 'rb')))
    assert re.search(r'FoldBatchNormHook: folded [1-9]\d* BatchNorms', proc.stdout + proc.stderr)
    assert len(preds[0]) == len(preds[1]) == 12
    for a, b in zip(*preds):
        torch.testing.assert_close(b['pred_score'], a['pred_score'], rtol=1e-4, atol=1e-5)
        assert int(a['pred_label']) == int(b['pred_label'])


def test_test_py_refuses_a_checkpoint_that_does_not_fill_the_model(full_run, cls_data,
                                                                    tmp_path):
    """A checkpoint with a tensor missing and one of another shape (as from another
    architecture): one line, exit 1, no metrics; --allow-partial-checkpoint tests anyway."""
    ckpt = torch.load(osp.join(full_run, 'iter_6.pth'), map_location='cpu', weights_only=False)
    sd = ckpt['state_dict']
    fc = next(k for k in sd if k.endswith('fc.weight'))
    sd[fc] = torch.zeros(sd[fc].shape[0] + 1, sd[fc].shape[1])
    del sd[next(k for k in sd if k.endswith('conv1.weight'))]
    bad = str(tmp_path / 'other_arch.pth')
    torch.save(ckpt, bad)
    proc = python_tool('test.py', CLS_CONFIG, bad, '--work-dir', str(tmp_path / 'a'),
                       *cls_options(cls_data), expect_ok=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'test.py: error: {bad} does not match the model: 1 of ')
    assert f'{fc}: checkpoint' in last and '--allow-partial-checkpoint' in last
    assert not osp.exists(tmp_path / 'a' / 'test_metrics.json')
    python_tool('test.py', CLS_CONFIG, bad, '--work-dir', str(tmp_path / 'b'),
                '--allow-partial-checkpoint', *cls_options(cls_data))
    assert osp.isfile(tmp_path / 'b' / 'test_metrics.json')


def test_nan_loss_stops_training_in_one_line(cls_data, tmp_path):
    """Before: NaN losses trained to the end with exit 0."""
    proc = python_tool('train.py', CLS_CONFIG, '--work-dir', str(tmp_path),
                       *cls_options(cls_data, **{'optim_wrapper.optimizer.lr': 1e38}),
                       expect_ok=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('train.py: error: loss is ') and ' at iteration ' in last
    assert 'first non-finite: ' in last


def test_resume_matches_uninterrupted_run(full_run, cls_data, tmp_path):
    work = str(tmp_path)
    # first half (stop at 3), then --resume (latest in work dir) up to 6
    python_tool('train.py', CLS_CONFIG, '--work-dir', work,
                *cls_options(cls_data, **{'train_cfg.max_iters': 3}))
    assert osp.isfile(osp.join(work, 'iter_3.pth'))
    proc = python_tool('train.py', CLS_CONFIG, '--work-dir', work, '--resume',
                       *cls_options(cls_data))
    assert 'resumed epoch: 0, iter: 3' in proc.stdout + proc.stderr
    _assert_same_weights(_weights(osp.join(work, 'iter_6.pth')),
                         _weights(osp.join(full_run, 'iter_6.pth')))
    # the first half alone differs (the test can fail)
    with pytest.raises(AssertionError):
        _assert_same_weights(_weights(osp.join(work, 'iter_3.pth')),
                             _weights(osp.join(full_run, 'iter_6.pth')))


def _logged(work, key):
    """{iteration: value} of ``key`` in the run's vis_data/scalars.json."""
    return {entry['step']: entry[key]
            for d in sorted(os.listdir(work)) if osp.isdir(osp.join(work, d))
            for f in [osp.join(work, d, 'vis_data', 'scalars.json')] if osp.exists(f)
            for entry in map(json.loads, open(f)) if key in entry}


def test_amp(full_run, cls_data, tmp_path):
    """--amp trains under autocast: the first loss (same weights, same batch as the float32
    run) differs from the float32 one by low-precision rounding, not more, and the steps move
    the weights."""
    python_tool('train.py', CLS_CONFIG, '--amp', '--work-dir', str(tmp_path),
                *cls_options(cls_data, **{'train_cfg.max_iters': 2,
                                          'train_cfg.val_interval': 5,
                                          'default_hooks.checkpoint.interval': 1}))
    dumped = open(tmp_path / 'tiny_cls.py').read()
    assert "type='AmpOptimWrapper'" in dumped
    if not torch.cuda.is_available():
        assert "dtype='bfloat16'" in dumped
    ckpt = torch.load(tmp_path / 'iter_2.pth', map_location='cpu', weights_only=False)
    assert 'loss_scaler' in ckpt['optimizer']
    amp, fp32 = _logged(str(tmp_path), 'loss')[1], _logged(full_run, 'loss')[1]
    assert amp != fp32, 'the --amp loss is the float32 loss bit for bit: autocast did not run'
    assert abs(amp - fp32) <= AMP_LOSS_RTOL * abs(fp32), (amp, fp32)
    first = _weights(tmp_path / 'iter_1.pth')
    moved = [k for k, v in ckpt['state_dict'].items()
             if v.is_floating_point() and not torch.equal(v, first[k])]
    assert any(k.endswith('conv1.weight') for k in moved) and 'head.fc.weight' in moved


# ---------------------------------------------------------------- distributed
def test_dist_train_two_processes(cls_data, tmp_path):
    """bash tools/dist_train.sh CONFIG 2 (gloo on a machine without GPU)."""
    proc = run(['bash', osp.join(REPO, 'tools', 'dist_train.sh'), CLS_CONFIG, '2',
                '--work-dir', str(tmp_path),
                *cls_options(cls_data, **{'train_cfg.max_iters': 2,
                                          'train_cfg.val_interval': 2})])
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert osp.isfile(tmp_path / 'iter_2.pth')
    assert 'accuracy/top1' in log
    # and bash tools/dist_test.sh CONFIG CHECKPOINT 2 on what it wrote
    out = tmp_path / 'preds.pkl'
    proc = run(['bash', osp.join(REPO, 'tools', 'dist_test.sh'), CLS_CONFIG,
                str(tmp_path / 'iter_2.pth'), '2', '--work-dir', str(tmp_path / 'test'),
                '--out', str(out), *cls_options(cls_data)])
    assert 'accuracy/top1' in proc.stdout + proc.stderr
    assert len(pickle.load(open(out, 'rb'))) == 12  # gathered from both ranks


def test_slurm_test_script(full_run, cls_data, tmp_path):
    """tools/slurm_test.sh through a stand-in `srun` that runs one task locally."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    calls = tmp_path / 'srun_args'
    srun = bin_dir / 'srun'
    srun.write_text('#!/usr/bin/env bash\n'
                    f'echo "$@" > {calls}\n'
                    'while [[ $1 == -* ]]; do\n'  # drop srun's options
                    '  if [[ $1 == -p ]]; then shift; fi; shift\n'
                    'done\n'
                    'SLURM_PROCID=0 SLURM_NTASKS=1 SLURM_LOCALID=0 '
                    'SLURM_NODELIST=localhost exec "$@"\n')
    srun.chmod(0o755)
    env = _env(GPUS='1', GPUS_PER_NODE='1', GRES='', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(_free_port()),
               PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
    proc = run(['bash', osp.join(REPO, 'tools', 'slurm_test.sh'), 'cpu', 'tiny',
                CLS_CONFIG, osp.join(full_run, 'iter_6.pth'), '--work-dir', str(tmp_path),
                *cls_options(cls_data)], env=env)
    assert 'accuracy/top1' in proc.stdout + proc.stderr
    args = calls.read_text()
    assert args.startswith('-p cpu --job-name=tiny --ntasks=1 --ntasks-per-node=1')
    assert '--launcher=slurm' in args and '--gres' not in args


# ---------------------------------------------------------------- an mmdet config
def test_mmdet_config_train_and_test(det_data, tmp_path):
    opts = ['--cfg-options', f'train_dataloader.dataset.data_root={det_data}',
            f'val_dataloader.dataset.data_root={det_data}',
            f'test_dataloader.dataset.data_root={det_data}',
            f'val_evaluator.ann_file={det_data}ann.json',
            f'test_evaluator.ann_file={det_data}ann.json']
    python_tool('train.py', DET_CONFIG, '--work-dir', str(tmp_path), *opts)
    ckpt = osp.join(tmp_path, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = tmp_path / 'dets.pkl'
    proc = python_tool('test.py', DET_CONFIG, ckpt, '--work-dir', str(tmp_path), '--out',
                       str(out), '--show-dir', 'shown', *opts)
    assert 'coco/bbox_mAP' in proc.stdout + proc.stderr
    dets = pickle.load(open(out, 'rb'))
    assert len(dets) == 2 and 'bboxes' in dets[0]['pred_instances']
    shown = [f for root, _, files in os.walk(tmp_path) if 'shown' in root for f in files]
    assert len(shown) == 2


def test_slurm_train_script_arguments(tmp_path):
    """tools/slurm_train.sh hands srun the OpenMMLab arguments (stand-in srun records)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    calls = tmp_path / 'srun_args'
    (bin_dir / 'srun').write_text(f'#!/usr/bin/env bash\necho "$@" > {calls}\n')
    (bin_dir / 'srun').chmod(0o755)
    env = _env(PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', SRUN_ARGS='--quotatype=x')
    run(['bash', osp.join(REPO, 'tools', 'slurm_train.sh'), 'gpu', 'job', 'a.py', 'wd',
         '--amp'], env=env)
    assert calls.read_text().split() == [
        '-p', 'gpu', '--job-name=job', '--gres=gpu:8', '--ntasks=8', '--ntasks-per-node=8',
        '--cpus-per-task=5', '--kill-on-bad-exit=1', '--quotatype=x', sys.executable, '-u',
        osp.join(REPO, 'tools', 'train.py'), 'a.py', '--work-dir=wd', '--launcher=slurm',
        '--amp']


def test_shell_scripts_print_usage_without_arguments():
    for script in ('dist_train.sh', 'dist_test.sh', 'slurm_train.sh', 'slurm_test.sh'):
        proc = run(['bash', osp.join(REPO, 'tools', script)], expect_ok=False)
        assert proc.returncode == 2 and proc.stderr.startswith('usage:'), script


# ---------------------------------------------------------------- the errors users hit first
def _one_line_error(proc, tool):
    """The tool's last stderr line (its one-line error); exit status 1, no traceback."""
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'{tool}: error: '), proc.stderr[-3000:]
    return last[len(f'{tool}: error: '):]


def _det_options(root):
    return ['--cfg-options', *(f'{k}_dataloader.dataset.data_root={root}'
                               for k in ('train', 'val', 'test')),
            f'val_evaluator.ann_file={root}ann.json', f'test_evaluator.ann_file={root}ann.json']


@pytest.mark.slow  # tool subprocesses: 25-70 s on a busy 2-core machine
def test_bad_annotation_files_are_one_line(det_data, tmp_path):
    """0-byte annotation file (tools/test.py; upstream 'Expecting value: line 1 column 1 (char
    0)' without the file) and valid JSON with no images (tools/train.py; upstream 16 frames
    ending 'need at least one array to concatenate')."""
    import shutil
    root = str(tmp_path / 'data') + '/'
    shutil.copytree(det_data, root)
    ckpt = tmp_path / 'any.pth'
    torch.save({'state_dict': {}}, ckpt)
    (tmp_path / 'data' / 'ann.json').write_text('')
    msg = _one_line_error(python_tool('test.py', DET_CONFIG, str(ckpt), '--work-dir',
                                      str(tmp_path / 'w'), *_det_options(root),
                                      expect_ok=False), 'test.py')
    assert msg.startswith(f'{root}ann.json (test_dataloader.dataset.ann_file) is empty (0 '
                          'bytes): expected a COCO/LVIS-format JSON annotation file'), msg
    (tmp_path / 'data' / 'ann.json').write_text(json.dumps(dict(
        images=[], annotations=[], categories=[dict(id=1, name='a'), dict(id=2, name='b')])))
    msg = _one_line_error(python_tool('train.py', DET_CONFIG, '--work-dir', str(tmp_path / 'w'),
                                      *_det_options(root), expect_ok=False), 'train.py')
    assert msg.startswith(f'{root}ann.json (train_dataloader.dataset.ann_file) has no images'), msg


@pytest.mark.slow  # tool subprocesses: 25-70 s on a busy 2-core machine
def test_truncated_checkpoints_are_one_line(full_run, cls_data, tmp_path):
    """tools/test.py CHECKPOINT, tools/train.py --resume CKPT and load_from=CKPT with a file
    cut short (upstream: 8-12 frames ending in PytorchStreamReader's 'failed finding central
    directory')."""
    data = open(osp.join(full_run, 'iter_3.pth'), 'rb').read()
    cut = tmp_path / 'iter_3.pth'
    cut.write_bytes(data[:len(data) // 3])
    tail = (f'{cut}: not a readable checkpoint (RuntimeError: PytorchStreamReader failed reading '
            f'zip archive: failed finding central directory; {len(data) // 3} bytes): the file '
            'is truncated or not a checkpoint; copy or download it again, or use an earlier one')
    msg = _one_line_error(python_tool('test.py', CLS_CONFIG, str(cut), '--work-dir',
                                      str(tmp_path / 'a'), *cls_options(cls_data),
                                      expect_ok=False), 'test.py')
    assert msg == f'checkpoint {tail}', msg
    msg = _one_line_error(python_tool('train.py', CLS_CONFIG, '--work-dir', str(tmp_path / 'b'),
                                      '--resume', str(cut), *cls_options(cls_data),
                                      expect_ok=False), 'train.py')
    assert msg == f'--resume {tail}', msg
    msg = _one_line_error(python_tool('train.py', CLS_CONFIG, '--work-dir', str(tmp_path / 'c'),
                                      *cls_options(cls_data, load_from=str(cut)),
                                      expect_ok=False), 'train.py')
    assert msg == f'load_from {tail}', msg


@pytest.mark.slow  # tool subprocesses: 25-70 s on a busy 2-core machine
def test_classification_backbone_under_fpn_is_one_line(det_data, tmp_path):
    """out_indices=(3, ) (the README's classification backbone) under the detector's FPN:
    upstream a bare AssertionError from FPN.forward at the first iteration."""
    opts = _det_options(det_data)
    opts.append('model.backbone.out_indices=(3,)')
    msg = _one_line_error(python_tool('train.py', DET_CONFIG, '--work-dir', str(tmp_path),
                                      *opts, expect_ok=False), 'train.py')
    assert msg.startswith('model.backbone.out_indices=(3,) gives 1 feature map(s) but '
                          'model.neck (FPN) expects 3 (in_channels=[16, 32, 64]): set '
                          'model.backbone.out_indices=(0, 1, 2)'), msg
