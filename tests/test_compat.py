"""Tests of gated_mm.compat: each fix works, is needed (the same call fails with the
upstream object put back), is idempotent and stays narrow."""
import json
import os
import pickle
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import gated_mm  # noqa: F401  (applies the fixes)
from gated_mm import compat

TORCH_2_6 = compat._version_tuple(torch.__version__) >= (2, 6)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_apply_all_idempotent():
    status = dict(compat.STATUS)
    assert set(status) == {'mmengine_checkpoint_weights_only', 'lvis_np_float',
                           'mmpretrain_np_in1d', 'mmcv_adjust_hue', 'mmengine_amp_cpu',
                           'mmengine_config_package', 'mmdet_lvis_class_check'}
    for patch in (compat.patch_mmengine_checkpoint_loading, compat.patch_lvis_numpy,
                  compat.patch_mmpretrain_retrieval_numpy, compat.patch_mmcv_adjust_hue,
                  compat.patch_amp_optim_wrapper_cpu, compat.patch_mmengine_config_package,
                  compat.patch_mmdet_lvis_class_check):
        assert patch() is False, f'{patch.__name__} changed something on a second call'
    assert compat.apply_all() == status


def test_module_shim_forwards_and_overrides():
    shim = compat._ModuleShim(np, in1d='x')
    assert shim.in1d == 'x'
    assert shim.ndarray is np.ndarray and shim.float64 is np.float64
    assert not hasattr(np, 'in1d') or np.in1d != 'x'


# ---------------------------------------------------------------- (a) checkpoints
def _save_runner_style_checkpoint(path, model):
    """What Runner.save_checkpoint writes: meta, weights, optimizer, message hub."""
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('gated_mm_test_compat_ckpt')
    hub.update_scalar('train/loss', 0.25)
    hub.update_info('iter', 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    torch.save({
        'meta': {'epoch': 0, 'iter': 3, 'seed': np.int64(0), 'dataset_meta': {}},
        'state_dict': model.state_dict(),
        'optimizer': optimizer.state_dict(),
        'message_hub': hub.state_dict(),
    }, path)


@pytest.mark.skipif(not TORCH_2_6, reason='weights_only default changed in torch 2.6')
def test_mmengine_checkpoint_loading(tmp_path, monkeypatch):
    from mmengine.logging import HistoryBuffer
    from mmengine.runner import checkpoint as ckpt_module
    path = str(tmp_path / 'iter_3.pth')
    src = nn.Linear(2, 2)
    _save_runner_style_checkpoint(path, src)

    # mmengine's loaders read it ...
    ckpt = ckpt_module._load_checkpoint(path, map_location='cpu')
    assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    dst = nn.Linear(2, 2)
    ckpt_module.load_checkpoint(dst, path, map_location='cpu')
    assert torch.equal(dst.weight, src.weight) and torch.equal(dst.bias, src.bias)

    # ... global torch.load keeps torch's safe default (narrow fix) ...
    with pytest.raises(pickle.UnpicklingError, match='Unsupported global'):
        torch.load(path)
    # ... an explicit weights_only from a caller wins ...
    with pytest.raises(pickle.UnpicklingError):
        ckpt_module.torch.load(path, weights_only=True)
    # ... and without the fix mmengine fails.
    monkeypatch.setattr(ckpt_module, 'torch', torch)
    with pytest.raises(pickle.UnpicklingError, match='Unsupported global'):
        ckpt_module._load_checkpoint(path, map_location='cpu')


# ---------------------------------------------------------------- (e) LVIS class names
def _lvis_subset_file(tmp_path, num_categories=3):
    """A converted LVIS v1-format subset with ``num_categories`` categories, 1 image."""
    cats = [dict(id=i + 1, name=f'thing_{i}', frequency='f', image_count=1, synset=f's.n.{i}')
            for i in range(num_categories)]
    gt = dict(
        images=[dict(id=1, width=100, height=80, neg_category_ids=[], coco_url=(
            'http://images.cocodataset.org/train2017/000001.jpg'),
            not_exhaustive_category_ids=[])],
        categories=cats,
        annotations=[dict(id=1, image_id=1, category_id=2, bbox=[10, 10, 40, 40], area=1600,
                          segmentation=[[10, 10, 50, 10, 50, 50, 10, 50]])])
    path = tmp_path / 'lvis_v1_train.json'
    path.write_text(json.dumps(gt))
    return str(path)


def test_lvis_v1_dataset_refuses_other_categories(tmp_path, monkeypatch):
    """mmdet's LVISV1Dataset labels a 3-category file with LVIS v1's first 3 of 1,203 names
    (silently, without the fix); with it, one line names the file, both counts and
    LVISSubsetDataset, also through the RFS wrapper; LVISSubsetDataset reads the file."""
    from mmdet.datasets import lvis as mmdet_lvis
    from mmdet.registry import DATASETS
    from mmengine.registry import DefaultScope

    from gated_mm.engine import ClassCountMismatchError
    path = _lvis_subset_file(tmp_path)
    ds_cfg = dict(type='LVISV1Dataset', ann_file=path, data_prefix=dict(img=''),
                  pipeline=[], test_mode=True)
    with DefaultScope.overwrite_default_scope('mmdet'):
        for cfg in (ds_cfg, dict(type='ClassBalancedDataset', oversample_thr=1e-3,
                                 dataset=dict(ds_cfg, test_mode=False))):
            with pytest.raises(ClassCountMismatchError) as err:
                DATASETS.build(cfg)
            msg = str(err.value)
            assert len(msg.splitlines()) == 1
            assert (f'{path} has 3 categories but LVISV1Dataset labels them with '
                    f"LVISV1Dataset's 1203 built-in class names" in msg)
            assert "type='LVISSubsetDataset'" in msg
        with pytest.raises(ClassCountMismatchError, match='the 2 class names of its metainfo'):
            DATASETS.build(dict(ds_cfg, metainfo=dict(classes=('a', 'b'))))
        subset = DATASETS.build(dict(ds_cfg, type='LVISSubsetDataset'))
        assert subset.metainfo['classes'] == ('thing_0', 'thing_1', 'thing_2')
        assert subset[0]['instances'][0]['bbox_label'] == 1
        # the 1,203-category file of the real label space passes
        full = _lvis_subset_file(tmp_path, 1203)
        assert len(DATASETS.build(dict(ds_cfg, ann_file=full))) == 1
        # without the fix the 3-category file loads with LVIS's names
        monkeypatch.setattr(mmdet_lvis.LVISV1Dataset, 'load_data_list',
                            mmdet_lvis.LVISV1Dataset.load_data_list.__wrapped__)
        ds = DATASETS.build(ds_cfg)
        assert len(ds.metainfo['classes']) == 1203
        assert ds.metainfo['classes'][1] == 'air_conditioner'


# ---------------------------------------------------------------- (b) NumPy aliases
def _tiny_lvis(tmp_path):
    """2 images, 2 categories; category 1 annotated in both images, 2 in image 1."""
    gt = {
        'images': [
            {'id': 1, 'width': 100, 'height': 100, 'neg_category_ids': [],
             'not_exhaustive_category_ids': []},
            {'id': 2, 'width': 100, 'height': 100, 'neg_category_ids': [2],
             'not_exhaustive_category_ids': []}],
        'categories': [
            {'id': 1, 'name': 'common_thing', 'frequency': 'f', 'image_count': 2,
             'instance_count': 2},
            {'id': 2, 'name': 'rare_thing', 'frequency': 'r', 'image_count': 1,
             'instance_count': 1}],
        'annotations': [
            {'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [10, 10, 40, 40],
             'area': 1600, 'segmentation': [[10, 10, 50, 10, 50, 50, 10, 50]]},
            {'id': 2, 'image_id': 2, 'category_id': 1, 'bbox': [20, 20, 50, 50],
             'area': 2500, 'segmentation': [[20, 20, 70, 20, 70, 70, 20, 70]]},
            {'id': 3, 'image_id': 1, 'category_id': 2, 'bbox': [60, 60, 30, 30],
             'area': 900, 'segmentation': [[60, 60, 90, 60, 90, 90, 60, 90]]}],
    }
    path = tmp_path / 'lvis_tiny.json'
    path.write_text(json.dumps(gt))
    # category 1 found in image 1 only (recall 0.5); category 2 found exactly
    dets = [{'image_id': 1, 'category_id': 1, 'bbox': [10, 10, 40, 40], 'score': 0.9},
            {'image_id': 1, 'category_id': 2, 'bbox': [60, 60, 30, 30], 'score': 0.8}]
    return str(path), dets


def test_lvis_eval_accumulate(tmp_path, monkeypatch):
    lvis = pytest.importorskip('lvis')
    import lvis.eval as lvis_eval
    gt_path, dets = _tiny_lvis(tmp_path)
    ev = lvis.LVISEval(lvis.LVIS(gt_path), list(dets), iou_type='bbox')
    ev.run()
    res = ev.get_results()
    # 101-point interpolated AP: category 1 has precision 1 up to recall 0.5 -> 51/101
    assert res['AP'] == pytest.approx((51 / 101 + 1.0) / 2)
    assert res['APr'] == pytest.approx(1.0)
    assert res['APf'] == pytest.approx(51 / 101)
    assert not hasattr(np, 'float')  # global NumPy untouched

    monkeypatch.setattr(lvis_eval, 'np', np)  # upstream module without the fix
    ev = lvis.LVISEval(lvis.LVIS(gt_path), list(dets), iou_type='bbox')
    ev.evaluate()
    with pytest.raises(AttributeError, match='float'):
        ev.accumulate()


def test_in1d_semantics():
    a = np.array([[1, 5], [3, 7]])
    np.testing.assert_array_equal(compat._in1d(a, [3, 5]), [False, True, True, False])
    np.testing.assert_array_equal(compat._in1d(a, [3, 5], invert=True),
                                  [True, False, False, True])


def test_mmpretrain_retrieval_metrics(monkeypatch):
    from mmpretrain.evaluation.metrics import retrieval
    from mmpretrain.evaluation.metrics import (RetrievalAveragePrecision,
                                               RetrievalRecall)
    # sample 0 ranks items [0, 2, 3, 1], relevant {2}; sample 1 ranks [1, 2, 3, 0], {1}
    pred = torch.tensor([[0.9, 0.1, 0.5, 0.2], [0.1, 0.8, 0.3, 0.2]])
    target = torch.tensor([[0, 0, 1, 0], [0, 1, 0, 0]])
    recall = RetrievalRecall.calculate(pred, target, topk=(1, 2))
    assert [float(r) for r in recall] == [50.0, 100.0]
    ap = RetrievalAveragePrecision.calculate(pred, target, topk=4)
    assert float(ap) == pytest.approx(75.0)  # mean(1/2, 1/1) in percent

    if not hasattr(np, 'in1d'):
        monkeypatch.setattr(retrieval, 'np', np)
        with pytest.raises(AttributeError, match='in1d'):
            RetrievalRecall.calculate(pred, target, topk=1)


# ---------------------------------------------------------------- (c) adjust_hue
def _hue_reference(img_bgr, hue_factor):
    """Float HSV rotation of the hue by hue_factor turns."""
    import cv2
    hsv = cv2.cvtColor(img_bgr.astype(np.float32) / 255, cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0] + hue_factor * 360) % 360
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR) * 255


@pytest.fixture
def color_image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('hue', [-0.5, -0.3, -0.1, 0.2])
def test_adjust_hue_matches_float_reference(color_image, backend, hue):
    import mmcv
    out = mmcv.adjust_hue(color_image, hue, backend=backend)
    assert out.shape == color_image.shape and out.dtype == np.uint8
    err = np.abs(out.astype(np.float32) - _hue_reference(color_image, hue))
    # uint8 HSV quantises hue to 1/256 turn: small errors; a wrong shift is off by ~50+
    assert err.mean() < 3.0, err.mean()
    assert np.percentile(err, 99) < 16


def test_adjust_hue_needs_fix_and_keeps_positive_path(color_image, monkeypatch):
    import mmcv
    original = mmcv.adjust_hue.__wrapped__
    np.testing.assert_array_equal(mmcv.adjust_hue(color_image, 0.2, backend='cv2'),
                                  original(color_image, 0.2, backend='cv2'))
    with pytest.raises(ValueError):
        mmcv.adjust_hue(color_image, -0.7)
    if np.lib.NumpyVersion(np.__version__) >= '2.0.0':
        with pytest.raises(OverflowError):
            original(color_image, -0.1, backend='cv2')


def test_color_jitter_with_hue(color_image):
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import TRANSFORMS
    # another test may have left a different default scope (e.g. mmdet) behind
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        jitter = TRANSFORMS.build(dict(type='ColorJitter', hue=0.4))
    drawn = []
    for seed in range(8):
        # the draw of mmpretrain's ColorJitter.get_params: the order of the four adjustments,
        # then hue ~ U(-0.4, 0.4) (brightness, contrast, saturation are off: not drawn)
        np.random.seed(seed)
        np.random.permutation(4)
        hue = np.random.uniform(-0.4, 0.4)
        np.random.seed(seed)
        out = jitter.transform({'img': color_image.copy()})['img']
        assert out.shape == color_image.shape and out.dtype == np.uint8
        err = np.abs(out.astype(np.float32) - _hue_reference(color_image, hue))
        assert err.mean() < 3.0 and np.percentile(err, 99) < 16, (hue, err.mean())
        drawn.append(hue)
    # negative hues were drawn, and shifts large enough that an unchanged image fails
    assert min(drawn) < -0.1 and sum(abs(h) > 0.1 for h in drawn) >= 4, drawn


# ---------------------------------------------------------------- AMP on CPU
@pytest.mark.skipif(compat.accelerator_available(), reason='CPU-only behaviour')
def test_amp_optim_wrapper_bf16_on_cpu(monkeypatch):
    from mmengine.optim import AmpOptimWrapper
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                              dtype='bfloat16')
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).sum())
    assert not torch.equal(before, model.weight)
    assert 'loss_scaler' in wrapper.state_dict()
    wrapper.load_state_dict(wrapper.state_dict())

    with pytest.raises(AssertionError):  # fp16 on CPU: still mmengine's refusal
        AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    monkeypatch.setattr(AmpOptimWrapper, '__init__', AmpOptimWrapper.__init__.__wrapped__)
    with pytest.raises(AssertionError):  # upstream refuses bf16 on CPU too
        AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                        dtype='bfloat16')


# ---------------------------------------------------------------- (d) CPU DDP
def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(compat.accelerator_available(), reason='CPU-only behaviour')
def test_setup_cpu_distributed(monkeypatch):
    import torch.distributed as dist
    from mmengine.config import Config
    from mmengine.model import MMDistributedDataParallel

    from mmengine.dist import init_dist

    cfg = Config(dict(model_wrapper_cfg=dict(find_unused_parameters=True)))
    assert compat.setup_cpu_distributed(cfg, 'none') is False
    assert 'env_cfg' not in cfg and 'device_ids' not in cfg.model_wrapper_cfg
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match='RANK.*torchrun'):
        compat.setup_cpu_distributed(cfg, 'pytorch')

    env = dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(_free_port()))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # keep mmengine's set_multi_processing from changing this process's settings for good
    for key in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        monkeypatch.setenv(key, os.environ.get(key, str(torch.get_num_threads())))
    monkeypatch.setattr(torch.multiprocessing, 'set_start_method', lambda *a, **k: None)
    exit_handlers = []
    monkeypatch.setattr(compat.atexit, 'register', exit_handlers.append)
    # mmengine alone: init_dist selects a GPU first, even for gloo
    with pytest.raises(RuntimeError):
        init_dist('pytorch', backend='gloo')
    assert not dist.is_initialized()
    try:
        assert compat.setup_cpu_distributed(cfg, 'pytorch') is True
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg.to_dict() == dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=True)
        model = MMDistributedDataParallel(module=nn.Linear(2, 2),
                                          **{k: v for k, v in cfg.model_wrapper_cfg.items()
                                             if k != 'type'})
        assert model.device_ids is None
        # what mmengine's Runner.wrap_model passes by default fails on CPU
        with pytest.raises(ValueError, match='device_ids'):
            MMDistributedDataParallel(module=nn.Linear(2, 2), device_ids=[0])
        # the group it created is torn down at exit, before interpreter finalisation
        assert len(exit_handlers) == 1
        exit_handlers[0]()
        assert not dist.is_initialized()
        exit_handlers[0]()  # a no-op once destroyed
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


# ---------------------------------------------------------------- (e) gated_mm:: bases
QUICK = 'fashion_mnist_lt/gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py'
USER_CFG = f"""_base_ = 'gated_mm::{QUICK}'
model = dict(backbone=dict(depth=50), head=dict(num_classes=7))
"""


def test_gated_mm_prefix_inherits_a_shipped_config(tmp_path, monkeypatch):
    """A config outside the clone inherits a gated_mm config by package reference and builds
    in the base's own scope (no `_scope_='gated_mm'`); without the fix mmengine refuses."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    user = tmp_path / 'my_config.py'
    user.write_text(USER_CFG)
    cfg = Config.fromfile(str(user))
    assert cfg.default_scope == 'mmpretrain' and '_scope_' not in cfg.model
    assert cfg.model.backbone.type == 'GatedResNet' and cfg.model.backbone.depth == 50
    assert cfg.model.backbone.in_channels == 1 and cfg.model.head.num_classes == 7
    assert cfg.model.backbone.act_cfg.type == 'AGLU'
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'GatedResNet'
    path = compat.config_path('gated_mm::' + QUICK)
    assert path.endswith(QUICK) and os.path.isfile(path)
    assert os.path.samefile(path, os.path.join(ROOT, 'configs', QUICK))
    bad = tmp_path / 'bad.py'
    bad.write_text("_base_ = 'gated_mm::nope/x.py'")
    with pytest.raises(FileNotFoundError, match=r'^gated_mm::nope/x\.py: no such config in '):
        Config.fromfile(str(bad))
    original = Config.__dict__['_get_cfg_path'].__func__.__wrapped__
    monkeypatch.setattr(Config, '_get_cfg_path', staticmethod(original))
    with pytest.raises(AssertionError, match='does not support to load gated_mm config'):
        Config.fromfile(str(user))


# ---------------------------------------------------------------- (f) mmcv prerequisite
@pytest.mark.slow  # two subprocesses: 25 s on a busy 2-core machine
def test_import_without_mmcv_is_one_line_with_the_command():
    """`import gated_mm` without mmcv (a prerequisite, not an install requirement): one
    ImportError line with the command; tools/train.py prints it and exits 1."""
    code = ("import sys; sys.modules['mmcv'] = None\n"
            "try:\n    import gated_mm\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120).stdout.strip().splitlines()
    assert len(out) == 1, out
    assert out[0].startswith('gated_mm needs mmcv (>=2.0.0rc4,<2.2.0; tested 2.1.0), which does '
                             'not import')
    assert "MMCV_WITH_OPS=1 pip install --no-build-isolation 'mmcv==2.1.0'" in out[0]
    config = os.path.join(ROOT, 'tests', 'data', 'configs', 'tiny_cls.py')
    code = ("import runpy, sys; sys.modules['mmcv'] = None\n"
            f"sys.argv = ['train.py', {config!r}]\n"
            f"runpy.run_path({os.path.join(ROOT, 'tools', 'train.py')!r}, run_name='__main__')\n")
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == f'train.py: error: {out[0]}'


def test_missing_mmcv_ops_is_one_line(monkeypatch):
    compat.require_mmcv(ops=True)  # the test environment has them
    monkeypatch.setitem(sys.modules, 'mmcv._ext', None)
    with pytest.raises(ImportError) as e:
        compat.require_mmcv(ops=True)
    msg = str(e.value)
    assert '\n' not in msg and msg.startswith('mmdet configs need the compiled ops of mmcv, '
                                                'which mmcv 2.1.0 at ')
    assert 'mmcv-lite has none' in msg and 'MMCV_WITH_OPS=1' in msg
    compat.require_mmcv()  # the Python part is enough for the core
