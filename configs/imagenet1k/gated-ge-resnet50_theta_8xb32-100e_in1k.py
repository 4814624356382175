# ImageNet-1k, GE-theta ResNet-50 (Hu et al., NeurIPS 2018): global depthwise gather + BN,
# sigmoid excite after bn3. Paper table (ResNet-50, ImageNet val, 224 crop): top-1 error
# baseline 23.30, SE 22.12, GE-theta- 22.14, GE-theta 22.00, GE-theta+ 21.88; parameters
# 25.6 / 28.1 / 25.6 / 31.2 / 33.7 M (here: 31.1 M for GE-theta, 33.6 M for GE-theta+).
# Recipe: the standard ResNet ImageNet schedule the GE paper trains with (mmpretrain's
# resnet50_8xb32_in1k: SGD lr 0.1 per 256, momentum 0.9, wd 1e-4, 100 epochs, lr x0.1 at 30,
# 60, 90; random-resized crop 224 + flip).
_base_ = [
    '../_base_/models/gated-ge-resnet50_theta.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        '.kappa': dict(decay_mult=0.0),
        '.lambda_': dict(decay_mult=0.0)
    }))
