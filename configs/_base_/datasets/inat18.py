# iNaturalist 2018 (Van Horn et al., CVPR 2018) with the lists of the decoupling paper (Kang et
# al., ICLR 2020): 437.5k training images of 8142 classes, 24.4k validation images (3 per
# class), used as the test set as in the literature.
#   train: iNaturalist18_train.txt    val and test: iNaturalist18_val.txt
# Lists hold "path label" lines, paths relative to data_root (data/inat18/).
# Pipelines of the APA paper's public iNat18 command (torchvision reference recipe):
# RandomResizedCrop 192, flip, RandAugment (2 ops, magnitude 9 of 30), random erasing p 0.1
# (fill = mean, i.e. 0 after normalisation, as torchvision's value 0); test: resize 232,
# centre crop 224; the repeated-augmentation sampler with 4 repeats (--ra-sampler --ra-reps 4).
# Metric: ShotAccuracy with many > 100, medium 20-100, few < 20 training images.
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs64_autoaug.py']

data_root = 'data/inat18'
train_ann = 'iNaturalist18_train.txt'
test_ann = 'iNaturalist18_val.txt'
train_ann_file = f'{data_root}/{train_ann}'
bgr_mean = [103.53, 116.28, 123.675]  # ImageNet mean, BGR (the base's data_preprocessor)

data_preprocessor = dict(num_classes=8142)  # merged into the base's (mean, std, to_rgb)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=30,
         magnitude_level=9, magnitude_std=0,
         hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bilinear')),
    dict(type='RandomErasing', erase_prob=0.1, mode='const', fill_color=bgr_mean,
         min_area_ratio=0.02, max_area_ratio=1 / 3, aspect_range=(0.3, 3.3)),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=232, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    sampler=dict(_delete_=True, type='RepeatAugSampler', num_repeats=4, shuffle=True),
    dataset=dict(
        _delete_=True,
        type='TxtListDataset',
        data_root=data_root,
        ann_file=train_ann,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(
        _delete_=True,
        type='TxtListDataset',
        data_root=data_root,
        ann_file=test_ann,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, type='ShotAccuracy', train_ann_file=train_ann_file, num_classes=8142,
    many_thr=100, few_thr=20)
test_evaluator = val_evaluator
