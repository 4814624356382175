# Quick-start: an APA + AGLU gated SE-ResNet on Fashion-MNIST-LT (rho = 100), on a laptop CPU.
#
# Model: the APA paper's SE-ResNet (AGLU at every ReLU position, APA-gated SE with LayerNorm
# and Dropout after bn3), made small for 28x28 grey images: depth 26 (2-2-2-2 bottlenecks),
# base width 16 (a quarter of ResNet-50's), CIFAR-style 3x3 stem without max-pool, stage
# strides 2-2-2-1 (stages at 14, 7, 4, 4 px; ~0.35 s per batch of 128 on 2 CPU cores).
# Data: real Fashion-MNIST; the training split made long-tailed with
# n_i = floor(6000 * 100^(-i/9)) (6000 ... 60 images per class, 14,886 in all), the test split
# balanced (10,000). Shot groups are scaled to this data set: many > 1000, medium 200-1000,
# few < 200 training images (ImageNet-LT uses 100 / 20).
# Not a paper number: a smoke-scale demonstration of the whole pipeline.
# Bases: data _base_/datasets/fashion_mnist_lt.py, schedule (1 warm-up epoch, cosine, 10 epochs)
# _base_/schedules/fashion-mnist-lt_bs128_warmup-coslr-10e.py.
_base_ = [
    '../_base_/models/gated-se-resnet50_apa-aglu.py',
    '../_base_/datasets/fashion_mnist_lt.py',
    '../_base_/schedules/fashion-mnist-lt_bs128_warmup-coslr-10e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    data_preprocessor=dict(num_classes=10, mean=[72.94], std=[90.02], to_rgb=False),
    backbone=dict(depth=26, in_channels=1, stem_channels=16, base_channels=16,
                  stem_type='cifar', strides=(2, 2, 2, 1)),
    head=dict(num_classes=10, in_channels=512, topk=(1, )))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2, save_last=True))
randomness = dict(seed=0, deterministic=False)
