# CIFAR-100-LT (Cui et al., CVPR 2019; Cao et al., NeurIPS 2019): the CIFAR-100 training set
# subsampled to n_i = 500 * rho^(-i/99) images for class i (rho = imbalance_ratio = 100:
# 500 ... 5 per class, 10,847 in all; gated_mm LongTailDataset, seeded), the balanced CIFAR-100
# test set (100 per class) for validation and test. data/cifar100/ (torchvision's
# cifar-100-python files).
# Pipelines of the APA paper's public CIFAR command (--auto-augment cifar10): RandomCrop 32
# with 4 px padding, flip, the CIFAR-10 AutoAugment policy (pipelines/autoaugment_cifar10.py),
# Cutout 16; test: the 32 x 32 image as is.
# Metric: ShotAccuracy with many > 100, medium 20-100, few < 20 training images (as ImageNet-LT).
_base_ = ['./pipelines/autoaugment_cifar10.py']

train_set = dict(
    type='LongTailDataset',
    imbalance_ratio=100,
    seed=0,
    dataset=dict(type='CIFAR100', data_root='data/cifar100', split='train'))

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
val_evaluator = dict(type='ShotAccuracy', train_dataset=train_set, many_thr=100, few_thr=20)
test_evaluator = val_evaluator
