# ImageNet-1k, SE-ResNet-50 with APA-gated SE blocks and AGLU activations.
# Target: APA paper (Alexandridis et al., ECCV 2024) / public README, ImageNet-1k SE-R50:
#   77.5 top-1 (Sigmoid SE, ReLU) -> 78.7 (APA + AGLU). Parameters: 28.1 M with the fc.
# Recipe: the public README's ImageNet pre-training command (torchvision reference script;
# given there for SE-R152, the README lists no separate R50 command), line by line:
#   4 GPUs x 64 = 256 images ............. train_dataloader.batch_size, auto_scale_lr
#   100 epochs, SGD lr 0.256, momentum 0.875, wd 6.103515625e-05 ... optim_wrapper, train_cfg
#   3-epoch linear warm-up (x0.01), then cosine ... schedules/imagenet_bs256_warmup-coslr-100e.py
#   mixup 0.2 ............................ model.train_cfg.augments
#   AutoAugment (imagenet policy) ........ mmpretrain imagenet_bs64_autoaug pipeline
#   train crop 192, val resize 232 / crop 224 ... datasets/imagenet_bs32_autoaug-192px.py
#   lambda, kappa without weight decay ... paramwise_cfg of the model base
# Bases: the data and schedule bases of configs/imagenet1k_apa/ (the same public recipe, 8 x 32
# images); kept as this config had them before the bases (so they differ from imagenet1k_apa/):
# 4 x 64 images with mmpretrain's 5 loader workers, bicubic AutoAugment, CosineAnnealingLR
# without an explicit eta_min (its default, 0), validation every epoch, the runtime's
# checkpoint policy.
_base_ = [
    '../_base_/models/gated-se-resnet50_apa-aglu.py',
    '../_base_/datasets/imagenet_bs32_autoaug-192px.py',
    '../_base_/schedules/imagenet_bs256_warmup-coslr-100e.py',
    '../_base_/default_runtime.py',
]

model = dict(train_cfg=dict(augments=dict(type='Mixup', alpha=0.2)))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.256, momentum=0.875, weight_decay=6.103515625e-05))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='AutoAugment', policies='imagenet',
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, num_workers=5, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=5)
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=97, by_epoch=True, begin=3, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(val_interval=1)
