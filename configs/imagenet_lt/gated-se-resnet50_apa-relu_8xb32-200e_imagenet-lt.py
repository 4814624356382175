# ImageNet-LT, SE-ResNet-50 with the APA-gated SE (LayerNorm, Dropout 0.1, APA gate) and ReLU.
# Target: APA paper Table 2 "APA*" (SE-R50): many 67.5 / medium 54.3 / few 39.3 / average 57.4;
# also the "ReLU" row (57.4) of the activation ablation (APA SE, unit varied).
# Recipe: everything but the backbone gates is inherited from
# gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py (the paper's ImageNet-LT recipe,
# checked line by line in its header: 200 epochs, batch 256, SGD 0.2 / 0.9 / 1e-4, 3-epoch
# warm-up + cosine, mixup 0.2, AutoAugment, cosine classifier s = 16, IIF 'rel' at test).
_base_ = ['./gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(backbone=dict(act_cfg=dict(_delete_=True, type='ReLU', inplace=True)))
