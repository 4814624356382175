# Demonstration scale (tools/analysis_tools/compare_gates.py): the quick-start APA + AGLU
# SE-ResNet-26 at 1/8 width (stem and base width 8) with the APA paper's ImageNet-LT head
# (cosine classifier, scale 16, squashed input; IIF 'rel' added to the logits at test time,
# docs/methods.md), on a smaller Fashion-MNIST-LT: n_i = floor(1000 * 100^(-i/9)) =
# 1000 599 359 215 129 77 46 27 16 10 training images (2,478), 500 test images per class
# (5,000, balanced). Shot groups scaled to it: many > 300 (3 classes), medium 50-300 (3),
# few < 50 (4). 10 epochs, ~200 iterations: a few minutes per run on 2 CPU cores.
# Not a paper number: small enough to repeat over 3 seeds x 3 gate variants on a laptop.
_base_ = ['./gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py']

train_set = dict(type='FashionMNISTLT', split='train', imbalance_ratio=100, max_per_class=1000,
                 data_root=None)

model = dict(
    backbone=dict(stem_channels=8, base_channels=8),
    head=dict(
        _delete_=True,
        type='CosineClsHead',
        num_classes=10,
        in_channels=256,
        scale=16.,
        logit_adjust=dict(type='IIF', variant='rel', train_dataset=train_set),
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))

train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(imbalance_ratio=100, max_per_class=1000))
test_dataloader = dict(
    batch_size=250, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='FashionMNISTLT', split='test', max_per_class=500, data_root=None,
                 pipeline={{_base_.test_pipeline}}))
test_evaluator = dict(type='ShotAccuracy', train_dataset=train_set, many_thr=300, few_thr=50)
test_cfg = dict()
# no validation during training (compare_gates.py evaluates the last checkpoint once)
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=10)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1, save_last=True))
# visualizer: the shared runtime's (JSON scalars and TensorBoard events), inherited
