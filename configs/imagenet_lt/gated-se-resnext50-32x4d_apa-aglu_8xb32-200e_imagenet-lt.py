# ImageNet-LT, SE-ResNeXt-50 (32x4d) with the APA-gated SE and AGLU units.
# Target: APA paper Table 2 "APA* + AGLU" (SE-X50): many 69.8 / medium 55.7 / few 41.1 /
# average 59.1 (public checkpoint: 59.1 top-1).
# Recipe: everything but the backbone gates is inherited from
# gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py (the paper's ImageNet-LT recipe,
# checked line by line in its header: 200 epochs, batch 256, SGD 0.2 / 0.9 / 1e-4, 3-epoch
# warm-up + cosine, mixup 0.2, AutoAugment, cosine classifier s = 16, IIF 'rel' at test).
_base_ = ['./gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(backbone=dict(groups=32, width_per_group=4))
