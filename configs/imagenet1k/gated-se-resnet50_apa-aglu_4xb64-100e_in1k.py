# ImageNet-1k, SE-ResNet-50 with APA-gated SE blocks and AGLU activations.
# Target: APA paper (Alexandridis et al., ECCV 2024) / public README, ImageNet-1k SE-R50:
#   77.5 top-1 (Sigmoid SE, ReLU) -> 78.7 (APA + AGLU). Parameters: 28.1 M with the fc.
# Recipe: the public README's ImageNet pre-training command (torchvision reference script;
# given there for SE-R152, the README lists no separate R50 command), line by line:
#   4 GPUs x 64 = 256 images ............. train_dataloader.batch_size, auto_scale_lr
#   100 epochs, SGD lr 0.256, momentum 0.875, wd 6.103515625e-05 ... optim_wrapper, train_cfg
#   3-epoch linear warm-up (x0.01), then cosine ... param_scheduler
#   mixup 0.2 ............................ model.train_cfg.augments
#   AutoAugment (imagenet policy) ........ mmpretrain imagenet_bs64_autoaug pipeline
#   train crop 192, val resize 232 / crop 224 ... train_pipeline / test_pipeline below
#   lambda, kappa without weight decay ... paramwise_cfg of the model base
_base_ = [
    '../_base_/models/gated-se-resnet50_apa-aglu.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_autoaug.py',
    '../_base_/default_runtime.py',
]

model = dict(train_cfg=dict(augments=dict(type='Mixup', alpha=0.2)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='AutoAugment', policies='imagenet',
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=232, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.256, momentum=0.875, weight_decay=6.103515625e-05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=97, by_epoch=True, begin=3, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
