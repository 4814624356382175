"""The detection configs (configs/lvis, coco, v3det): each states its paper target, carries
the paper's hyper-parameters (APA paper, ECCV 2024, Table 5 and its V3Det table; GOL, ECCV
2022), and builds.

The models are built by tests/test_configs.py, which builds every shipped config; here the
LVIS configs' GOL/DropLoss class frequencies are checked against data built from
``$GATED_MM_DATA`` (default ``<repo>/../shared/data``; skipped, with the reason, without it)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import gated_mm  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
DET = sorted(p for d in ('lvis', 'coco', 'v3det') for p in (ROOT / 'configs' / d).glob('*.py'))
PAPER = [p for p in DET if 'mini-lvis' not in p.name]
QUICK = [p for p in DET if 'mini-lvis' in p.name]

# paper table numbers each config's header must state (APA paper tables)
TARGETS = {
    'mask-rcnn_gated-se-r50-sigmoid-relu_fpn_gol_8xb2-ms-2x_lvis-v1.py':
    ['28.2', '20.6', '28.9', '30.8', '28.1'],
    'mask-rcnn_gated-se-r50-apa-aglu_fpn_gol_8xb2-ms-2x_lvis-v1.py':
    ['29.1', '21.6', '29.6', '31.7', '29.0'],
    'mask-rcnn_gated-se-r101-sigmoid-relu_fpn_gol_8xb2-ms-2x_lvis-v1.py':
    ['29.7', '23.0', '29.9', '32.5', '30.0'],
    'mask-rcnn_gated-se-r101-apa-aglu_fpn_gol_8xb2-ms-2x_lvis-v1.py':
    ['30.7', '23.6', '31.3', '33.1', '31.1'],
    'mask-rcnn_gated-r50-relu_fpn_8xb2-2x_coco.py': ['39.2', '35.4'],
    'mask-rcnn_gated-se-r50-sigmoid-relu_fpn_8xb2-2x_coco.py': ['40.5', '36.9'],
    'mask-rcnn_gated-se-r50-apa-aglu_fpn_8xb2-2x_coco.py': ['41.2', '37.6'],
    'faster-rcnn_gated-se-r50-sigmoid-relu_fpn_wc_8xb4-2x_v3det.py': ['27.0'],
    'faster-rcnn_gated-se-r50-apa-aglu_fpn_wc_8xb4-2x_v3det.py': ['29.9'],
    'cascade-rcnn_gated-se-r50-sigmoid-relu_fpn_wc_8xb4-2x_v3det.py': ['33.3'],
    'cascade-rcnn_gated-se-r50-apa-aglu_fpn_wc_8xb4-2x_v3det.py': ['35.4'],
}


def name(p):
    return f'{p.parent.name}/{p.name}'


def header(p):
    lines = p.read_text().splitlines()
    return '\n'.join(line for line in lines[:next(i for i, line in enumerate(lines)
                                                    if not line.startswith('#'))])


def test_all_paper_configs_listed():
    assert sorted(p.name for p in PAPER) == sorted(TARGETS)
    assert len(QUICK) == 2


@pytest.mark.parametrize('path', PAPER, ids=name)
def test_header_states_table_and_numbers(path):
    text = header(path)
    assert re.search(r'[Tt]able', text) and 'APA paper' in text
    for number in TARGETS[path.name]:
        assert number in text, f'{path.name}: header lacks the target {number}'


@pytest.mark.parametrize('path', DET, ids=name)
def test_common_detection_settings(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['gated_mm'] and cfg.default_scope == 'mmdet'
    bb = cfg.model.backbone
    assert bb.type == 'GatedResNet' and tuple(bb.out_indices) == (0, 1, 2, 3)
    custom = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert custom['.kappa']['decay_mult'] == 0 and custom['.lambda_']['decay_mult'] == 0
    if path in PAPER:
        assert bb.depth in (50, 101) and bb.frozen_stages == 1 and bb.norm_eval
        assert bb.init_cfg['type'] == 'Pretrained'
    gated = 'apa-aglu' in path.name
    assert (bb.act_cfg['type'] == 'AGLU') == gated
    if gated:
        assert tuple(bb.act_cfg['kappa_init']) == (1.0, 1.3)  # detection AGLU init
        att = bb.attention_cfg
        assert att['gate_cfg']['type'] == 'APA' and att['layer_norm'] and att['dropout'] == 0.1
    elif 'se-' in path.name:
        assert bb.attention_cfg['gate_cfg']['type'] == 'Sigmoid' and bb.attention_cfg['ratio'] == 16


LVIS_PAPER = [p for p in PAPER if p.parent.name == 'lvis']


@pytest.mark.parametrize('path', LVIS_PAPER, ids=name)
def test_lvis_recipe_line_by_line(path):
    cfg = Config.fromfile(path)
    bbox, mask = cfg.model.roi_head.bbox_head, cfg.model.roi_head.mask_head
    assert bbox.type == 'Shared2FCBBoxHead' and bbox.num_classes == mask.num_classes == 1203
    loss = bbox.loss_cls
    assert loss.type == 'GumbelDropLoss' and loss.lambda_ == 0.0011 and loss.num_classes == 1203
    assert loss.freq_file.endswith('lvis_v1_train.json')
    const = [c for c in bbox.init_cfg if c['type'] == 'Constant'][0]
    assert const == dict(type='Constant', val=0.001, bias=-2.0, override=dict(name='fc_cls'))
    if '-r50-' in path.name:  # learnable temperature 4.5 (squared) + CARAFE
        assert mask.predictor_cfg == dict(type='CosineConv2d', temperature=4.5,
                                          learnable=True, squared=True)
        assert mask.upsample_cfg['type'] == 'carafe'
    else:  # R101: fixed temperature 20
        assert mask.predictor_cfg == dict(type='CosineConv2d', temperature=20.0)
        assert mask.upsample_cfg['type'] == 'deconv'
    rcnn = cfg.model.test_cfg.rcnn
    assert (rcnn.score_thr, rcnn.nms.iou_threshold, rcnn.max_per_img,
            rcnn.mask_thr_binary) == (0.0001, 0.3, 300, 0.4)
    train = cfg.train_dataloader
    assert train.batch_size == 2 and cfg.auto_scale_lr.base_batch_size == 16
    assert train.dataset.type == 'ClassBalancedDataset' and train.dataset.oversample_thr == 1e-3
    assert train.dataset.dataset.type == 'LVISV1Dataset'
    scales = [s for t in train.dataset.dataset.pipeline if t['type'] == 'RandomChoiceResize'
              for s in t['scales']]
    assert scales == [(1333, s) for s in range(640, 801, 32)]
    resize = [t for t in cfg.test_dataloader.dataset.pipeline if t['type'] == 'Resize'][0]
    assert resize['scale'] == (1333, 800)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 0.02, 0.9, 1e-4)
    assert cfg.train_cfg.max_epochs == 24
    warm, steps = cfg.param_scheduler
    assert (warm.type, warm.start_factor, warm.end, warm.by_epoch) == ('LinearLR', 0.001, 500,
                                                                       False)
    assert steps.milestones == [16, 22] and steps.end == 24
    assert cfg.test_evaluator.type == 'LVISMetric' and 'segm' in cfg.test_evaluator.metric


@pytest.mark.parametrize('path', [p for p in PAPER if p.parent.name == 'coco'], ids=name)
def test_coco_recipe(path):
    cfg = Config.fromfile(path)
    assert cfg.train_cfg.max_epochs == 24 and cfg.param_scheduler[1].milestones == [16, 22]
    assert cfg.optim_wrapper.optimizer.lr == 0.02 and cfg.train_dataloader.batch_size == 2
    assert cfg.model.roi_head.bbox_head.num_classes == 80


@pytest.mark.parametrize('path', [p for p in PAPER if p.parent.name == 'v3det'], ids=name)
def test_v3det_recipe(path):
    cfg = Config.fromfile(path)
    heads = cfg.model.roi_head.bbox_head
    heads = heads if isinstance(heads, list) else [heads]
    assert len(heads) == (3 if path.name.startswith('cascade') else 1)
    for head in heads:
        assert head.num_classes == 13204 and head.reg_class_agnostic
        assert head.cls_predictor_cfg == dict(type='WrappedCauchyLinear', scale=300.0,
                                              learnable_scale=False)
        assert head.loss_cls == dict(type='CrossEntropyLoss', use_sigmoid=False,
                                     loss_weight=1.0)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 1e-4, 0.1)
    assert cfg.optim_wrapper.clip_grad.max_norm == 35
    assert cfg.train_cfg.max_iters == 2 * 68760 and cfg.train_dataloader.batch_size == 4
    rcnn = cfg.model.test_cfg.rcnn
    assert (rcnn.score_thr, rcnn.max_per_img) == (0.0001, 300)


@pytest.mark.parametrize('path', QUICK, ids=name)
def test_quick_config_is_cpu_sized_and_reads_the_data_env(path, tmp_path, monkeypatch):
    cfg = Config.fromfile(path)
    rcnn = cfg.model.test_cfg.rcnn
    assert rcnn.score_thr >= 0.05 and rcnn.max_per_img <= 30
    assert (rcnn.nms.iou_threshold, rcnn.mask_thr_binary) == (0.3, 0.4)  # paper settings kept
    assert cfg.model.roi_head.mask_head.upsample_cfg['type'] != 'carafe'  # the quick config keeps deconv (README numbers)
    assert cfg.train_cfg.max_iters == 300 and cfg.val_cfg is None
    data_root = cfg.train_dataloader.dataset.dataset.data_root
    assert os.path.normpath(data_root) == os.path.normpath(
        ROOT.parent / 'shared' / 'data' / 'coco-mini')
    monkeypatch.setenv('GATED_MM_DATA', str(tmp_path))
    monkeypatch.setenv('GATED_MM_MINI_LVIS', str(tmp_path / 'a'))
    cfg = Config.fromfile(path)
    assert cfg.train_dataloader.dataset.dataset.data_root == f'{tmp_path}/coco-mini/'
    assert cfg.model.roi_head.bbox_head.loss_cls.freq_file == f'{tmp_path}/a/lvis_v1_train.json'
    assert cfg.test_evaluator.ann_file == f'{tmp_path}/a/lvis_v1_val.json'


DATA = Path(os.environ.get('GATED_MM_DATA', ROOT.parent / 'shared' / 'data'))
LVIS_V1_TRAIN_IMAGES = 100_170  # LVIS v1 train split (Gupta et al., CVPR 2019; lvisdataset.org)


def _build_loss(cfg):
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):  # leaves no scope behind
        return MODELS.build(cfg.model.roi_head.bbox_head.loss_cls)


def _tail_checks(loss, cfg, counts, num_images):
    """The loss's frequencies and tail mask equal image_count / N and f < λ, computed here."""
    freq = torch.tensor(counts, dtype=torch.float64) / num_images
    lam = cfg.model.roi_head.bbox_head.loss_cls.lambda_
    assert loss.num_classes == cfg.model.roi_head.bbox_head.num_classes == len(counts)
    torch.testing.assert_close(loss.class_frequency.double(), freq, rtol=1e-6, atol=0)
    assert loss.tail_mask.tolist() == (freq < lam).tolist()
    assert 0 < loss.num_tail_classes == int((freq < lam).sum()) < loss.num_classes
    return {i for i, t in enumerate(loss.tail_mask.tolist()) if t}


@pytest.fixture(scope='module')
def mini_lvis(tmp_path_factory):
    """mini-LVIS made as the quick configs' header says (coco_to_lvis.py on coco-mini)."""
    coco = DATA / 'coco-mini'
    if not coco.is_dir():
        pytest.skip(f'coco-mini not found at {coco} (set GATED_MM_DATA): the mini-LVIS '
                    f'annotation files are made from it')
    out = tmp_path_factory.mktemp('mini-lvis')
    proc = subprocess.run([sys.executable, str(ROOT / 'tools/dataset_converters/coco_to_lvis.py'),
                           str(coco), str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.mark.parametrize('path', QUICK, ids=name)
def test_mini_lvis_class_frequencies(path, mini_lvis, monkeypatch):
    """The quick configs' GOL/DropLoss reads mini-LVIS's training counts: f_c = images of
    class c / images with annotations, counted here from the COCO file, and λ = 0.05 makes
    the tail exactly the rare + common groups (<= 3 images), as the config header says. (The
    models themselves are built by tests/test_configs.py.)"""
    monkeypatch.setenv('GATED_MM_DATA', str(DATA))
    monkeypatch.setenv('GATED_MM_MINI_LVIS', str(mini_lvis))
    cfg = Config.fromfile(path)
    loss = _build_loss(cfg)
    assert loss.freq_file == f'{mini_lvis}/lvis_v1_train.json'
    coco = json.loads((DATA / 'coco-mini/annotations/instances_train2017.json').read_text())
    anns = [a for a in coco['annotations'] if not a.get('iscrowd', 0)]
    images = {c['id']: set() for c in coco['categories']}
    for a in anns:
        images[a['category_id']].add(a['image_id'])
    counts = [len(images[c]) for c in sorted(images)]
    tail = _tail_checks(loss, cfg, counts, len({a['image_id'] for a in anns}))
    assert tail == {i for i, n in enumerate(counts) if n <= 3}


@pytest.mark.parametrize('path', LVIS_PAPER, ids=name)
def test_lvis_class_frequencies(path, tmp_path):
    """The paper configs' GOL/DropLoss on the real LVIS v1 vocabulary (1,203 categories with
    their training image counts; N = 100,170 training images): λ = 0.0011 puts every rare and
    common class (<= 100 images, 798) in the tail, and no class above λ·N images."""
    meta = DATA / 'lvis-v1-meta/lvis_v1_categories.json'
    if not meta.is_file():
        pytest.skip(f'LVIS v1 category file not found at {meta} (set GATED_MM_DATA)')
    cats = json.loads(meta.read_text())['categories']
    freq_file = tmp_path / 'lvis_v1_categories.json'
    freq_file.write_text(json.dumps(dict(categories=cats, num_images=LVIS_V1_TRAIN_IMAGES)))
    cfg = Config.fromfile(path)
    assert cfg.model.roi_head.bbox_head.loss_cls.freq_file.endswith('lvis_v1_train.json')
    cfg.model.roi_head.bbox_head.loss_cls.freq_file = str(freq_file)
    loss = _build_loss(cfg)
    tail = _tail_checks(loss, cfg, [c['image_count'] for c in cats], LVIS_V1_TRAIN_IMAGES)
    rare_common = {i for i, c in enumerate(cats) if c['frequency'] in 'rc'}
    assert len(rare_common) == 798 and rare_common <= tail
    assert all(cats[i]['image_count'] <= 0.0011 * LVIS_V1_TRAIN_IMAGES for i in tail)


def test_lvis_table_configs_use_the_apa_repository_gol_and_say_so():
    """Every config targeting the APA paper's LVIS table uses GOL as the APA repository
    computes it (preset 'apa': q clamped to [-10, 10], no loss clamp) and states it."""
    for path in [p for p in PAPER if p.name.endswith('lvis-v1.py')]:
        loss = Config.fromfile(str(path)).model.roi_head.bbox_head.loss_cls
        assert loss.type == 'GumbelDropLoss' and loss.get('preset') == 'apa', path.name
        assert 'logit_clamp' not in loss and 'loss_clamp' not in loss, path.name
        header = path.read_text().split('_base_ =')[0]
        assert "preset 'apa'" in header and 'kostas1515/AGLU' in header, path.name
    quick = sorted((ROOT / 'configs' / 'lvis_synth').glob('*gol*.py'))
    assert quick and all(
        Config.fromfile(str(p)).model.roi_head.bbox_head.loss_cls.preset == 'apa'
        for p in quick)
