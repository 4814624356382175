# Places-LT (Liu et al., "Large-Scale Long-Tailed Recognition in an Open World", CVPR 2019,
# arXiv:1904.05160): 62.5k training images of 365 classes (4980 ... 5 per class) and the
# balanced 36.5k test list (100 per class), which is also the validation set here.
#   train: Places_LT_train.txt    val and test: Places_LT_test.txt
# Lists hold "path label" lines, paths relative to data_root (data/places365_standard/).
# Pipelines: mmpretrain's ImageNet AutoAugment set (RandomResizedCrop 224, flip, AutoAugment
# 'imagenet'; test: resize 256, centre crop 224).
# Metric: ShotAccuracy with many > 100, medium 20-100, few < 20 training images (Liu et al.).
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs64_autoaug.py']

data_root = 'data/places365_standard'
train_ann = 'Places_LT_train.txt'
test_ann = 'Places_LT_test.txt'
train_ann_file = f'{data_root}/{train_ann}'

data_preprocessor = dict(num_classes=365)  # merged into the base's (mean, std, to_rgb)
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    dataset=dict(
        _delete_=True,
        type='TxtListDataset',
        data_root=data_root,
        ann_file=train_ann,
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(
        _delete_=True,
        type='TxtListDataset',
        data_root=data_root,
        ann_file=test_ann,
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, type='ShotAccuracy', train_ann_file=train_ann_file, num_classes=365,
    many_thr=100, few_thr=20)
test_evaluator = val_evaluator
