# Long-tailed baselines on Fashion-MNIST-LT, reduced setting for the multi-seed table of
# docs/lt_baselines.md (tools/analysis_tools/compare_lt.py): first stage, plain softmax
# cross-entropy with instance-balanced sampling.
# Reduced so that 12 method x gate rows x 5 seeds run in under an hour on 2 shared CPU
# cores: the quick-start SE-ResNet-26 at 1/16 width (stem and base width 4), a linear
# classifier, n_i = floor(200 * 100^(-i/9)) = 200 119 71 43 25 15 9 5 3 2 training images
# (492), 100 test images per class (1,000, balanced), 4 epochs (32 iterations of 64).
# Shot groups scaled to it: many > 60 (3 classes), medium 10-60 (3), few < 10 (4).
# Not a paper number, and far from converged: a like-for-like comparison at toy scale.
_base_ = ['../gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py']

train_set = dict(type='FashionMNISTLT', split='train', imbalance_ratio=100, max_per_class=200,
                 data_root=None)
test_set = dict(type='FashionMNISTLT', split='test', max_per_class=100, data_root=None,
                pipeline={{_base_.test_pipeline}})

model = dict(
    backbone=dict(stem_channels=4, base_channels=4),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=128,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )))

train_dataloader = dict(
    batch_size=64, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(train_set, pipeline={{_base_.train_pipeline}}))
test_dataloader = dict(
    batch_size=250, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False), dataset=test_set)
test_evaluator = [
    dict(type='ShotAccuracy', train_dataset=train_set, many_thr=60, few_thr=10),
    dict(type='CalibrationError', n_bins=15, train_dataset=train_set, many_thr=60, few_thr=10),
]
test_cfg = dict()
# no validation during training (compare_lt.py evaluates the last checkpoint once)
val_dataloader = None
val_evaluator = None
val_cfg = None
max_epochs = 4
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=4),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1,
                    save_last=True))
