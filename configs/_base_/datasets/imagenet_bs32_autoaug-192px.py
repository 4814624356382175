# ImageNet-1k with the pipelines of the public APA code's ImageNet pre-training command
# (kostas1515/AGLU classification/README: "--auto-augment imagenet --train-crop-size 192
# --val-resize-size 232"): RandomResizedCrop 192, flip, AutoAugment 'imagenet' (bilinear, fill
# = the mean); test: resize 232, centre crop 224. Batch 32 per GPU (8 GPUs = the public 4 x 64).
# Data, lists and metric: mmpretrain's ImageNet base (data/imagenet/, top-1 / top-5 accuracy).
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs64_autoaug.py']

bgr_mean = [103.53, 116.28, 123.675]  # ImageNet mean, BGR (the base's data_preprocessor)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='AutoAugment', policies='imagenet',
         hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bilinear')),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=232, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=32, num_workers=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, num_workers=8, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
