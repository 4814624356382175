# CIFAR-100-LT (rho = 100), SE-ResNet-32 with APA-gated SE (r = 4) and AGLU units.
# Target: APA paper, CIFAR-100-LT (rho = 100) table, SE-R32 APA + AGLU (the number is in the
# paper's CIFAR table, arXiv:2407.08567; not copied here yet: fill it in when checked).
# Recipe (public code kostas1515/AGLU, classification/README: "torchrun --nproc_per_node=1
# train.py --model se_resnet32 --batch-size 512 --lr 0.2 --lr-warmup-epochs 3
# --lr-warmup-method linear --auto-augment cifar10 --epochs 500 --weight-decay 0.001
# --mixup-alpha 0.2 --dset_name=cifar100 --classif_norm cosine --lr-scheduler
# cosineannealinglr --imb_factor 0.01 --use_gumbel_se --criterion iif"), line by line:
#   ResNet-32 (3 stages x 5 basic blocks, 16-32-64 channels, option-A shortcuts), SE after bn2
#     with LayerNorm, Dropout 0.1, APA gate, r = 4; AGLU at the stem, after bn1, after the add
#     ................................... backbone GatedCifarResNet (basic blocks)
#   CIFAR-100, n_i = 500 * 100^(-i/99) . LongTailDataset(CIFAR100, imbalance_ratio=100)
#   batch 512 on 1 GPU ................... train_dataloader.batch_size=512
#   SGD lr 0.2, momentum 0.9, wd 1e-3 .... optim_wrapper.optimizer
#   lambda, kappa without weight decay ... paramwise_cfg
#   3-epoch linear warm-up (0.01 lr), cosine to 0, 500 epochs .. param_scheduler, train_cfg
#   RandomCrop 32 pad 4, flip, AutoAugment cifar10, Cutout 16 .. train_pipeline
#   mixup alpha 0.2 ...................... model.train_cfg.augments
#   cosine classifier, s = 16 ............ head CosineClsHead
#   IIF 'rel' added at test .............. head.logit_adjust
# Deviations: the public LT subset is drawn with np.random.seed(0) shuffles (ours: a private
# seeded generator, same counts, other images); warm-up/cosine stepped per iteration.
# Backbone: GatedCifarResNet is GatedResNet with the basic block (GatedBasicBlock), three
# stages of (depth - 2) / 6 blocks, the 3x3 CIFAR stem and option-A shortcuts; with ReLU and no
# attention it is the plain 0.46 M ResNet-32 (0.478 M with these SE / APA / AGLU units).
_base_ = [
    './_base_/autoaugment_cifar10_policy.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['gated_mm'], allow_failed_imports=False)

train_set = dict(
    type='LongTailDataset',
    imbalance_ratio=100,
    seed=0,
    dataset=dict(type='CIFAR100', data_root='data/cifar100', split='train'))

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        num_classes=100,
        # public code: Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)) x 255
        mean=[125.307, 122.961, 113.8575],
        std=[51.5865, 50.847, 51.255],
        to_rgb=False),
    backbone=dict(
        type='GatedCifarResNet',
        depth=32,
        stem_channels=16,
        base_channels=16,
        shortcut='A',
        act_cfg=dict(type='AGLU', kappa_init=(0.8, 1.2), lambda_init=(0.0, 1.0)),
        # style='apa': LayerNorm, no-bias MLP, Dropout(0.1), APA gate kappa ~ U(-1, 0),
        # lambda ~ U(0, 1), defined once in GatedSE.STYLES['apa']
        attention_cfg=dict(type='GatedSE', ratio=4, style='apa')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='CosineClsHead',
        num_classes=100,
        in_channels=64,
        scale=16.,
        logit_adjust=dict(type='IIF', variant='rel', mode='add', train_dataset=train_set),
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
    train_cfg=dict(augments=dict(type='Mixup', alpha=0.2)))

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='AutoAugment', policies={{_base_.policy_cifar10}},
         hparams=dict(pad_val=0, interpolation='bilinear')),
    dict(type='Cutout', shape=16, pad_val=0, prob=1.0),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=512,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(train_set, dataset=dict(train_set['dataset'], pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=500,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CIFAR100', data_root='data/cifar100', split='test',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
# many > 100, medium 20-100, few < 20 training images (as ImageNet-LT)
val_evaluator = dict(type='ShotAccuracy', train_dataset=train_set, many_thr=100, few_thr=20)
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-3),
    paramwise_cfg=dict(custom_keys={
        '.kappa': dict(decay_mult=0.0),
        '.lambda_': dict(decay_mult=0.0)
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=497, eta_min=0., by_epoch=True, begin=3, end=500,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=500, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=512)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3,
                                     save_best='shot/top1', rule='greater'))
