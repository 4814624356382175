# ImageNet-1k, IIEU-B ResNet-50 (Cai, ICCV 2023). Paper claim: IIEU ResNet-26 matches the
# ReLU ResNet-101; +79,680 parameters over ResNet-50.
# Recipe: the public README's ResNet command (timm 0.4.12 train_dist_resnet.py), line by line:
#   4 GPUs x 64 = 256 images, lr 0.1 ........ batch_size, optim_wrapper (lr = 0.1 * 256 / 256)
#   SGD momentum 0.9, wd 1e-4; no decay on biases and 1-D params (LayerNorm) ... paramwise_cfg
#     (the threshold eta is 4-D in the public code, so it does get weight decay there)
#   120 epochs, 5-epoch warm-up, cosine ....... param_scheduler, train_cfg
#   label smoothing 0.1 ....................... head loss
#   RandAugment rand-m7-mstd0.5-inc1 .......... mmpretrain imagenet_bs256_rsb_a12 pipeline
#   random erasing 0.4 (pixel mode) ........... RandomErasing in train_pipeline
#   bicubic, crop_pct 0.875 at test ........... test_pipeline (resize 256, crop 224)
#   --amp (optional) .......................... add optim_wrapper.type='AmpOptimWrapper'
_base_ = [
    '../_base_/models/gated-resnet50_iieu-b.py',
    'mmpretrain::_base_/datasets/imagenet_bs256_rsb_a12.py',
    'mmpretrain::_base_/schedules/imagenet_bs256_coslr.py',
    '../_base_/default_runtime.py',
]

model = dict(
    head=dict(loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=7, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.4, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.kappa': dict(decay_mult=0.0),
            '.lambda_': dict(decay_mult=0.0)
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=115, by_epoch=True, begin=5, end=120,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=1)
auto_scale_lr = dict(base_batch_size=256)
