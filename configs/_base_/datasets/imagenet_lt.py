# ImageNet-LT (Liu et al., "Large-Scale Long-Tailed Recognition in an Open World", CVPR 2019,
# arXiv:1904.05160): 115.8k training images of 1000 classes (1280 ... 5 per class), a balanced
# validation list of 20k images (20 per class, drawn from the ImageNet training set) and the
# balanced 50k test list (the ImageNet-1k validation set).
#   train: ImageNet_LT_train.txt    val: ImageNet_LT_val.txt    test: ImageNet_LT_test.txt
# Lists hold "relative/path.JPEG label" lines, relative to data_root (data/imagenet/ holding
# train/ and val/). Pipelines: mmpretrain's ImageNet AutoAugment set (RandomResizedCrop 224,
# flip, AutoAugment 'imagenet'; test: resize 256, centre crop 224).
# Metric: ShotAccuracy with many > 100, medium 20-100, few < 20 training images (Liu et al.).
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs64_autoaug.py']

data_root = 'data/imagenet'
train_ann = 'ImageNet_LT_train.txt'
val_ann = 'ImageNet_LT_val.txt'
test_ann = 'ImageNet_LT_test.txt'
train_ann_file = f'{data_root}/{train_ann}'

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    dataset=dict(
        _delete_=True,
        type='ImageNetLT',
        data_root=data_root,
        ann_file=train_ann,
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(
        _delete_=True,
        type='ImageNetLT',
        data_root=data_root,
        ann_file=val_ann,
        pipeline={{_base_.test_pipeline}}))
test_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(
        _delete_=True,
        type='ImageNetLT',
        data_root=data_root,
        ann_file=test_ann,
        pipeline={{_base_.test_pipeline}}))
val_evaluator = dict(
    _delete_=True, type='ShotAccuracy', train_ann_file=train_ann_file, many_thr=100,
    few_thr=20)
test_evaluator = val_evaluator
