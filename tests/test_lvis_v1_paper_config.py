"""The APA paper's LVIS v1 R50 configs (the Sigmoid-SE + ReLU baseline and the paper's APA +
AGLU model; GOL + DropLoss, CARAFE mask head, 1,203 classes), unchanged, end to end on a CPU on
real photos in the real LVIS v1 label space:
``tools/dist_train.sh CONFIG 2`` (gloo), kill -9 after the epoch-1 checkpoint, ``--resume``,
then (the baseline) ``tools/dist_test.sh CONFIG CKPT 2`` with the config's ``LVISMetric``.

Given on the command line only: data paths (COCO-mini converted with ``coco_to_lvis.py
--lvis-categories``), the backbone checkpoint (a public-layout SE-ResNet-50 with random weights,
with or without APA-gated SE and AGLU, converted by ``convert_apa_checkpoint.py
--backbone-only``, as a user converts the real one), the schedule (2 epochs of 4 images:
1 iteration each on 2 processes × 2 images; no validation inside the run), the seed (so that an
uninterrupted run can be compared), and for CI a smaller input (320 × 192 instead of 1333 ×
640-800), 2 test images, 100 RPN proposals per test image (1000), no loader workers.
Paper-resolution timings: docs/detection_benchmark.md.

Checked: the 1,203-class bbox and mask heads and CARAFE upsampler in the checkpoint; the
converted backbone's frozen stem and stage 1 unchanged, its stage 4 trained (with APA + AGLU:
the gates' kappa and lambda, which have no weight decay, moved by their gradients); the
resumed run's epoch-2 parameters, buffers and SGD momenta equal the uninterrupted run's bit for
bit; the baseline's federated 1,203-class evaluation reports finite AP / APf (APr and APc are lvis-api's
−1, "no category of the group evaluated": COCO's 79 LVIS categories are all LVIS-frequent),
and the group table, chart and per-category table are written."""
import argparse
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('GATED_MM_DATA', ROOT.parent / 'shared' / 'data'))
COCO_MINI = DATA / 'coco-mini'
VOCAB = DATA / 'lvis-v1-meta' / 'lvis_v1_categories.json'
CONFIGS = ROOT / 'configs/lvis'
# the R50 paper configs: the Sigmoid-SE + ReLU baseline and the paper's APA + AGLU model. The
# APA + AGLU config trains, is killed and resumes; its dist_test (the same heads, test pipeline
# and LVISMetric as the baseline's, checked there) is left out to keep the CI budget: with it
# this case took 565 s, without it 457 s, on the loaded 2-core machine
# (docs/detection_benchmark.md)
VARIANTS = {'sigmoid-relu': dict(apa=False, aglu=False, evaluate=True),
            'apa-aglu': dict(apa=True, aglu=True, evaluate=False)}

needs_data = pytest.mark.skipif(
    not ((COCO_MINI / 'annotations').is_dir() and VOCAB.is_file()),
    reason=f'COCO-mini or the LVIS v1 category list not found under {DATA} (set GATED_MM_DATA)')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def _env():
    return dict(os.environ, PYTHON=sys.executable, PORT=_free_port(), OMP_NUM_THREADS='1')


def _run(args, **kwargs):
    proc = subprocess.run([str(a) for a in args], cwd=ROOT, capture_output=True, text=True,
                          **kwargs)
    if proc.returncode != 0:
        pytest.fail(f'{args[:3]}: exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n'
                    f'--- stderr\n{proc.stderr[-6000:]}')
    return proc


def public_backbone(dst: Path, apa: bool, aglu: bool) -> Path:
    """A public-layout SE-ResNet-50 (module names of kostas1515/AGLU classification/, random
    weights; APA-gated SE and AGLU as given) saved as the public code saves it, converted with
    --backbone-only."""
    spec = importlib.util.spec_from_file_location(
        'gm_public_layout', ROOT / 'tests/tools/test_convert_apa_checkpoint.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(0)
    net = mod.randomize_bn(mod.RefNet(layers=(3, 4, 6, 3), apa=apa, aglu=aglu, num_classes=1000))
    src = dst.parent / 'public_se_resnet50.pth'
    torch.save({'model': net.state_dict(), 'args': argparse.Namespace(model='se_resnet50')}, src)
    _run([sys.executable, ROOT / 'tools/dataset_converters/convert_apa_checkpoint.py', src, dst,
          '--backbone-only'])
    return dst


def data_options(ann_dir: Path, backbone: Path):
    root, train, val = f'{COCO_MINI}/', ann_dir / 'lvis_v1_train.json', ann_dir / 'lvis_v1_val.json'
    return [f'train_dataloader.dataset.dataset.data_root={root}',
            f'train_dataloader.dataset.dataset.ann_file={train}',
            f'val_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.ann_file={val}',
            f'test_dataloader.dataset.data_root={root}', f'test_dataloader.dataset.ann_file={val}',
            f'val_evaluator.ann_file={val}', f'test_evaluator.ann_file={val}',
            f'model.roi_head.bbox_head.loss_cls.freq_file={train}',
            f'model.backbone.init_cfg.checkpoint={backbone}']


CI_TRAIN = ['train_cfg.max_epochs=2', 'randomness.seed=0', 'val_dataloader=None', 'val_cfg=None',
            'val_evaluator=None', 'train_dataloader.dataset.dataset.indices=4',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'train_dataloader.dataset.dataset.pipeline.2.scales=[(320,192)]']
CI_TEST = ['test_dataloader.dataset.indices=2', 'test_dataloader.num_workers=0',
           'test_dataloader.persistent_workers=False', 'model.test_cfg.rpn.max_per_img=100',
           'test_dataloader.dataset.pipeline.1.scale=(320,192)']


def _train_cmd(config, work_dir, options, *extra):
    return ['bash', ROOT / 'tools/dist_train.sh', config, '2', '--work-dir', work_dir, *extra,
            '--cfg-options', *options]


def _descendants(pid: int):
    out = []
    for task in Path(f'/proc/{pid}/task').glob('*'):
        try:
            children = (task / 'children').read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            out += [child, *_descendants(child)]
    return out


def _kill_tree(pid: int):
    """kill -9 the launcher and every process under it: torchrun starts each rank in a session
    of its own (with its loader workers), so killing the launcher's group leaves the ranks
    training."""
    groups = set()
    for p in [pid, *_descendants(pid)]:
        try:
            groups.add(os.getpgid(p))
        except ProcessLookupError:
            pass
    for g in groups:
        try:
            os.killpg(g, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_after_epoch_1(cmd, work_dir: Path, timeout=900):
    """Start ``cmd``; kill -9 torchrun and its ranks once epoch_1.pth is recorded."""
    proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    start, marker = time.time(), work_dir / 'last_checkpoint'
    while not (marker.is_file() and marker.read_text().strip().endswith('epoch_1.pth')):
        if proc.poll() is not None:
            pytest.fail(f'training ended (exit {proc.returncode}) before epoch 1:\n'
                        f'{proc.stderr.read()[-4000:]}')
        if time.time() - start > timeout:
            _kill_tree(proc.pid)
            pytest.fail('no epoch-1 checkpoint in time')
        time.sleep(0.2)
    _kill_tree(proc.pid)
    proc.wait()
    return not (work_dir / 'epoch_2.pth').exists()


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize('variant', list(VARIANTS))
def test_paper_config_dist_train_kill_resume_and_test(tmp_path, variant):
    config = CONFIGS / f'mask-rcnn_gated-se-r50-{variant}_fpn_gol_8xb2-ms-2x_lvis-v1.py'
    ann_dir = tmp_path / 'lvis_v1_coco_mini'
    _run([sys.executable, ROOT / 'tools/dataset_converters/coco_to_lvis.py', COCO_MINI, ann_dir,
          '--lvis-categories', VOCAB])
    apa, aglu, evaluate = (VARIANTS[variant][k] for k in ('apa', 'aglu', 'evaluate'))
    backbone = public_backbone(tmp_path / f'gated-se-resnet50_{variant}_in1k_backbone.pth',
                               apa, aglu)
    options = data_options(ann_dir, backbone)

    ref, killed = tmp_path / 'uninterrupted', tmp_path / 'killed'
    _run(_train_cmd(config, ref, options + CI_TRAIN), env=_env(), timeout=1200)
    killed_mid_epoch_2 = _kill_after_epoch_1(_train_cmd(config, killed, options + CI_TRAIN),
                                             killed)
    proc = _run(_train_cmd(config, killed, options + CI_TRAIN, '--resume'), env=_env(),
                timeout=1200)
    assert 'resumed epoch: 1' in proc.stdout + proc.stderr

    a = torch.load(ref / 'epoch_2.pth', map_location='cpu', weights_only=False)
    b = torch.load(killed / 'epoch_2.pth', map_location='cpu', weights_only=False)
    sd = a['state_dict']
    # the paper heads: 1,203 classes (GOL's sigmoid-style scores: no background column),
    # CARAFE upsampling, GOL buffers
    assert sd['roi_head.bbox_head.fc_cls.weight'].shape == (1203, 1024)
    assert sd['roi_head.mask_head.conv_logits.weight'].shape[0] == 1203
    assert 'roi_head.mask_head.upsample.content_encoder.weight' in sd
    assert int(sd['roi_head.bbox_head.loss_cls.tail_mask'].sum()) == 815
    assert len(a['meta']['dataset_meta']['classes']) == 1203
    # the converted ImageNet backbone: stem + stage 1 frozen (APA / AGLU kappa, lambda included),
    # stage 4 trained; AGLU / APA kappa, lambda (no weight decay) move only by their gradients
    imagenet = torch.load(backbone, map_location='cpu', weights_only=False)['state_dict']
    frozen = [k for k in imagenet if k.startswith(('stem.', 'conv1.', 'bn1.', 'layer1.'))]
    assert frozen and all(torch.equal(imagenet[k], sd[f'backbone.{k}']) for k in frozen)
    gates = [k for k in imagenet if k.startswith('layer4.') and k.endswith(('.kappa', '.lambda_'))]
    assert bool(gates) == aglu
    trained = gates or [k for k in imagenet if k.startswith('layer4.') and k.endswith('.weight')]
    assert any(not torch.equal(imagenet[k], sd[f'backbone.{k}']) for k in trained)
    # exact resume: every tensor and every momentum buffer bit-identical
    assert sd.keys() == b['state_dict'].keys()
    unequal = [k for k in sd if not torch.equal(sd[k], b['state_dict'][k])]
    assert not unequal, f'{len(unequal)} tensors differ after resume, e.g. {unequal[:3]}'
    ma, mb = a['optimizer']['state'], b['optimizer']['state']
    assert ma.keys() == mb.keys() and len(ma) > 100
    assert all(torch.equal(ma[k]['momentum_buffer'], mb[k]['momentum_buffer']) for k in ma)
    assert killed_mid_epoch_2 or pytest.fail('the run ended before the kill')
    if not evaluate:
        return

    work = tmp_path / 'test'
    proc = _run(['bash', ROOT / 'tools/dist_test.sh', config, killed / 'epoch_2.pth', '2',
                 '--work-dir', work, '--cfg-options', *options, *CI_TEST], env=_env(),
                timeout=1200)
    out = proc.stdout + proc.stderr
    metrics = json.loads((work / 'test_metrics.json').read_text())
    for t in ('bbox', 'segm'):
        for g in ('AP', 'APf'):
            assert 0.0 <= metrics[f'lvis/{t}_{g}'] <= 1.0, (t, g, metrics)
        # no rare / common category in COCO's 79: lvis-api's "not evaluated"
        assert metrics[f'lvis/{t}_APr'] == -1 and metrics[f'lvis/{t}_APc'] == -1
    assert 'LVIS AP by frequency group' in out
    assert (work / 'lvis_group_ap.png').stat().st_size > 1000
    rows = (work / 'lvis_per_category_ap.csv').read_text().strip().splitlines()
    assert len(rows) == 1 + 1203
