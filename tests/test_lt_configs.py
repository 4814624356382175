"""The long-tailed recipes (configs/imagenet_lt, cifar100_lt, places_lt, inat18, imagenet1k_apa)
hold the hyper-parameters of the APA paper's public commands, line by line (read from the
configs, no model is built: tests/test_configs.py builds every config); one real train step of
the ImageNet-LT model with mixup through the cosine head, and the IIF test-time path."""
import copy
import functools
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import gated_mm  # noqa: F401

ROOT = Path(__file__).resolve().parents[1] / 'configs'
ILT = sorted((ROOT / 'imagenet_lt').glob('*.py'))
ILT_TRAIN = [p for p in ILT if 'public-ckpt' not in p.name]


@functools.lru_cache(maxsize=None)
def load(path):
    """The parsed config (cached: parsing the mmpretrain:: bases is the slow part; tests must
    not modify it)."""
    return Config.fromfile(path)


def sched(cfg):
    warm, cos = cfg.param_scheduler
    return warm, cos


@pytest.mark.parametrize('path', ILT_TRAIN, ids=lambda p: p.name)
def test_imagenet_lt_recipe(path):
    cfg = load(path)
    # batch 256 = 8 x 32, SGD 0.2 / 0.9 / 1e-4, 200 epochs, 3-epoch warm-up from 0.01, cosine
    assert cfg.train_dataloader.batch_size * 8 == 256 == cfg.auto_scale_lr.base_batch_size
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.2, momentum=0.9,
                                               weight_decay=1e-4)
    assert cfg.train_cfg.max_epochs == 200
    warm, cos = sched(cfg)
    assert (warm.type, warm.start_factor, warm.begin, warm.end) == ('LinearLR', 0.01, 0, 3)
    assert (cos.type, cos.T_max, cos.begin, cos.end, cos.eta_min) == (
        'CosineAnnealingLR', 197, 3, 200, 0.)
    custom = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert custom['.kappa'] == dict(decay_mult=0.0) and custom['.lambda_'] == dict(decay_mult=0.)
    # mixup 0.2, AutoAugment 'imagenet' after RandomResizedCrop 224 + flip; test 256 / 224
    assert cfg.model.train_cfg.augments == dict(type='Mixup', alpha=0.2)
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert types == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'AutoAugment',
                     'PackInputs']
    assert cfg.train_dataloader.dataset.pipeline[3].policies == 'imagenet'
    test = cfg.test_dataloader.dataset.pipeline
    assert test[1].scale == 256 and test[2].crop_size == 224
    # cosine classifier s = 16 with the squash, plain CE, IIF 'rel' added at test
    head = cfg.model.head
    assert (head.type, head.scale, head.squash, head.get('learnable_scale', False)) == (
        'CosineClsHead', 16., True, False)
    assert head.loss.type == 'CrossEntropyLoss'
    assert head.logit_adjust == dict(type='IIF', variant='rel', mode='add',
                                     train_ann_file='data/imagenet/ImageNet_LT_train.txt')
    # ImageNet-LT lists, shot groups 100 / 20 from the training list
    assert cfg.train_dataloader.dataset.ann_file == 'ImageNet_LT_train.txt'
    assert cfg.test_dataloader.dataset.ann_file == 'ImageNet_LT_test.txt'
    assert (cfg.test_evaluator.type, cfg.test_evaluator.many_thr, cfg.test_evaluator.few_thr) \
        == ('ShotAccuracy', 100, 20)
    assert 'Target: APA paper' in path.read_text()


GATES = {
    # name part: (activation type at the ReLU positions, attention type, gate type)
    'gated-se-resnet50_sigmoid-relu': ('ReLU', 'GatedSE', 'Sigmoid'),
    'gated-se-resnet50_apa-relu': ('ReLU', 'GatedSE', 'APA'),
    'gated-se-resnet50_apa-aglu': ('AGLU', 'GatedSE', 'APA'),
    'gated-se-resnet50_apa-gelu': ('GELU', 'GatedSE', 'APA'),
    'gated-se-resnet50_apa-silu': ('SiLU', 'GatedSE', 'APA'),
    'gated-se-resnet50_apa-mish': ('torch.nn.Mish', 'GatedSE', 'APA'),
    'gated-se-resnet50_apa-prelu': ('PReLU', 'GatedSE', 'APA'),
    'gated-se-resnet50_apa-elu': ('ELU', 'GatedSE', 'APA'),
    'gated-se-resnext50-32x4d_sigmoid-relu': ('ReLU', 'GatedSE', 'Sigmoid'),
    'gated-se-resnext50-32x4d_apa-relu': ('ReLU', 'GatedSE', 'APA'),
    'gated-se-resnext50-32x4d_apa-aglu': ('AGLU', 'GatedSE', 'APA'),
    'gated-spatial-resnet50_sigmoid-relu': ('ReLU', 'CBAM', 'Sigmoid'),
    'gated-spatial-resnet50_apa-relu': ('ReLU', 'CBAM', 'APA'),
    'gated-spatial-resnet50_apa-aglu': ('AGLU', 'CBAM', 'APA'),
    'gated-cbam-resnet50_sigmoid-relu': ('ReLU', 'CBAM', 'Sigmoid'),
    'gated-cbam-resnet50_apa-relu': ('ReLU', 'CBAM', 'APA'),
    'gated-cbam-resnet50_apa-aglu': ('AGLU', 'CBAM', 'APA'),
}


def test_imagenet_lt_variants_are_all_there_and_differ_only_in_the_backbone():
    names = {p.name.split('_8xb32')[0] for p in ILT_TRAIN}
    assert names == set(GATES)
    root = load(ROOT / 'imagenet_lt' / 'gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py')
    for path in ILT_TRAIN:
        cfg = load(path)
        act, att, gate = GATES[path.name.split('_8xb32')[0]]
        bb = cfg.model.backbone
        assert bb.act_cfg.type == act and bb.attention_cfg.type == att
        # the block the config resolves to (style='apa' fills the layout from the class)
        from mmengine.registry import MODELS
        block = MODELS.build(dict(bb.attention_cfg, channels=64))
        gates = [getattr(block, n) for n in ('gate', 'channel_gate', 'spatial_gate')
                 if hasattr(block, n)]
        assert gates and all(type(g).__name__ == gate for g in gates)
        if gate == 'APA':
            lo, hi = ((-1., 0.) if att == 'GatedSE' else (0., 1.))
            assert all(lo <= g.kappa.item() <= hi and 0 <= g.lambda_.item() <= 1 for g in gates)
        if gate == 'APA' and att == 'GatedSE':
            assert isinstance(block.norm, torch.nn.LayerNorm) and block.dropout.p == 0.1
        if att == 'CBAM':  # public APA code CBAM layout, also for the Sigmoid baseline
            assert block.mode == ('spatial' if 'spatial' in path.name else 'both')
            assert block.spatial_norm.weight.item() == 1.0
            if block.mode == 'both':
                assert isinstance(block.norm, torch.nn.LayerNorm) and block.dropout.p == 0.1
        if 'resnext50-32x4d' in path.name:
            assert (bb.groups, bb.width_per_group) == (32, 4)
        for key in ('head', 'train_cfg', 'neck'):
            assert cfg.model[key] == root.model[key]
        assert cfg.data_preprocessor == root.data_preprocessor
        assert cfg.optim_wrapper == root.optim_wrapper
        assert cfg.param_scheduler == root.param_scheduler


@pytest.mark.parametrize('name', ['gated-se-resnet50_apa-aglu_public-ckpt_imagenet-lt.py',
                                  'gated-se-resnext50-32x4d_apa-aglu_public-ckpt_imagenet-lt.py'])
def test_public_checkpoint_configs_reindex_labels_and_counts(name):
    cfg = load(ROOT / 'imagenet_lt' / name)
    ds = cfg.test_dataloader.dataset
    assert (ds.frequency_ann_file, ds.tie_break) == ('ImageNet_LT_train.txt', 'numpy')
    for counts_src in (cfg.model.head.logit_adjust.train_dataset,
                       cfg.test_evaluator.train_dataset):
        assert counts_src.frequency_ann_file == 'ImageNet_LT_train.txt'
        assert counts_src.ann_file == 'ImageNet_LT_train.txt'
    assert cfg.model.head.logit_adjust.variant == 'rel'


def test_cifar100_lt_recipe():
    cfg = load(ROOT / 'cifar100_lt' / 'gated-se-resnet32_apa-aglu_1xb512-500e_cifar100-lt-r100.py')
    assert cfg.train_dataloader.batch_size == 512
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.2, momentum=0.9,
                                               weight_decay=1e-3)
    warm, cos = sched(cfg)
    assert (warm.end, warm.start_factor, cos.T_max, cos.end) == (3, 0.01, 497, 500)
    assert cfg.train_cfg.max_epochs == 500
    assert cfg.train_dataloader.dataset.imbalance_ratio == 100
    assert cfg.train_dataloader.dataset.dataset.type == 'CIFAR100'
    bb = cfg.model.backbone
    assert (bb.depth, bb.attention_cfg.ratio, bb.attention_cfg.style,
            bb.act_cfg.type) == (32, 4, 'apa', 'AGLU')
    types = [t['type'] for t in cfg.train_dataloader.dataset.dataset.pipeline]
    assert types == ['RandomCrop', 'RandomFlip', 'AutoAugment', 'Cutout', 'PackInputs']
    policy = cfg.train_dataloader.dataset.dataset.pipeline[2].policies
    assert len(policy) == 25 and all(len(sub) == 2 for sub in policy)
    assert cfg.model.head.type == 'CosineClsHead' and cfg.model.head.scale == 16.
    assert cfg.model.head.logit_adjust.variant == 'rel'
    assert cfg.model.train_cfg.augments == dict(type='Mixup', alpha=0.2)


def test_places_lt_recipe():
    cfg = load(ROOT / 'places_lt' / 'gated-se-resnet152_apa-aglu_8xb32-40e_places-lt-ft.py')
    bb = cfg.model.backbone
    assert (bb.depth, bb.frozen_stages, bb.init_cfg.type) == (152, 3, 'Pretrained')
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.1, momentum=0.9,
                                               weight_decay=5e-5)
    assert cfg.train_cfg.max_epochs == 40 and sched(cfg)[1].T_max == 37
    head = cfg.model.head
    assert (head.num_classes, head.scale, head.loss.type, head.loss.label_smooth_val) == (
        365, 25., 'LabelSmoothLoss', 0.1)
    assert cfg.model.train_cfg.augments == [dict(type='Mixup', alpha=0.2),
                                            dict(type='CutMix', alpha=1.0)]
    assert head.logit_adjust.variant == 'rel'
    assert cfg.data_preprocessor.num_classes == 365 and cfg.data_preprocessor.mean is not None


def test_inat18_recipe():
    cfg = load(ROOT / 'inat18' / 'gated-se-resnet50_apa-aglu_8xb128-500e_inat18.py')
    assert cfg.train_dataloader.batch_size * 8 == 1024 == cfg.auto_scale_lr.base_batch_size
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.5, momentum=0.9,
                                               weight_decay=1e-4)
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0.0
    warm, cos = sched(cfg)
    assert (warm.end, cos.T_max, cfg.train_cfg.max_epochs) == (5, 495, 500)
    assert cfg.train_dataloader.sampler == dict(type='RepeatAugSampler', num_repeats=4,
                                                shuffle=True)
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert types == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'RandAugment',
                     'RandomErasing', 'PackInputs']
    assert cfg.train_dataloader.dataset.pipeline[1].scale == 192
    assert cfg.train_dataloader.dataset.pipeline[4].erase_prob == 0.1
    assert cfg.model.head.num_classes == 8142 and 'logit_adjust' not in cfg.model.head
    assert cfg.data_preprocessor.num_classes == 8142 and cfg.data_preprocessor.std is not None


@pytest.mark.parametrize('depth', [50, 101, 152])
def test_imagenet1k_recipe(depth):
    cfg = load(ROOT / 'imagenet1k_apa' / f'gated-se-resnet{depth}_apa-aglu_8xb32-100e_in1k.py')
    assert cfg.model.backbone.depth == depth
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.256, momentum=0.875,
                                               weight_decay=6.103515625e-05)
    assert cfg.train_cfg.max_epochs == 100 and sched(cfg)[1].T_max == 97
    assert cfg.train_dataloader.dataset.pipeline[1].scale == 192
    assert cfg.test_dataloader.dataset.pipeline[1].scale == 232


def test_imagenet_lt_model_trains_a_step_with_mixup_and_predicts_with_iif():
    """The real SE-R50 APA + AGLU ImageNet-LT model (at 64 px): a mixup train step through the
    cosine head, then predict() adds the IIF weights of the configured counts."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    cfg = copy.deepcopy(load(ROOT / 'imagenet_lt' /
                             'gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py'))
    counts = [1280 - i for i in range(1000)]
    cfg.model.head.logit_adjust = dict(type='IIF', variant='rel', class_counts=counts)
    init_default_scope('mmpretrain')
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))  # as Runner
    torch.manual_seed(0)
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8) for _ in range(2)],
                data_samples=[DataSample().set_gt_label(i) for i in (3, 999)])
    data = model.data_preprocessor(data, True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    assert model.head.weight.grad is not None
    assert model.backbone.layer4[2].attention.gate.kappa.grad is not None
    model.eval()
    with torch.no_grad():
        raw = model(data['inputs'], mode='tensor')
        pred = model(data['inputs'], data['data_samples'], mode='predict')
    n = torch.tensor(counts, dtype=torch.float64)
    w = torch.log((n.sum() - n) / n).float()
    torch.testing.assert_close(pred[0].pred_score, torch.softmax(raw[0] + w, dim=0))
