# ImageNet-LT, SE-ResNeXt-50 (32x4d) with the APA-gated SE and ReLU.
# Target: APA paper Table 2 "APA*" (SE-X50): many 68.9 / medium 55.4 / few 39.4 / average 58.4.
# Recipe: everything but the backbone gates is inherited from
# gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py (the paper's ImageNet-LT recipe,
# checked line by line in its header: 200 epochs, batch 256, SGD 0.2 / 0.9 / 1e-4, 3-epoch
# warm-up + cosine, mixup 0.2, AutoAugment, cosine classifier s = 16, IIF 'rel' at test).
_base_ = ['./gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(
    backbone=dict(
        groups=32, width_per_group=4,
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True)))
