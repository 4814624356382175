# Fashion-MNIST-LT (gated_mm FashionMNISTLT): real Fashion-MNIST (28 x 28 grey, 10 classes), the
# training split made long-tailed with n_i = floor(6000 * rho^(-i/9)) (rho = imbalance_ratio =
# 100: 6000 ... 60 images per class, 14,886 in all), the balanced test split (10,000) for
# validation and test. data_root=None: the files are found (or fetched) as README "Data" says.
# Pipelines: RandomCrop 28 with 2 px padding and flip; test: ToGrayscale (a no-op on the data
# set's grey images; makes image files, read as 3 channels by mmpretrain's
# ImageClassificationInferencer, fit a 1-channel model).
# Metric: ShotAccuracy scaled to this data set: many > 1000, medium 200-1000, few < 200
# training images (ImageNet-LT uses 100 / 20).
train_set = dict(type='FashionMNISTLT', split='train', imbalance_ratio=100, data_root=None)
train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='ToGrayscale'), dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(train_set, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='FashionMNISTLT', split='test', data_root=None, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ShotAccuracy', train_dataset=train_set, many_thr=1000, few_thr=200)
test_evaluator = val_evaluator
