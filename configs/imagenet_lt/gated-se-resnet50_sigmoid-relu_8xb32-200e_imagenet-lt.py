# ImageNet-LT baseline: plain SE-ResNet-50 (Sigmoid SE gate without LayerNorm/Dropout, ReLU).
# Target: APA paper Table 2 "Our Baseline" (SE-R50): many 66.2 / medium 53.1 / few 37.1 /
# average 56.0; also the "Sigmoid" row of the gate ablation (avg 56.0).
# Recipe: everything but the backbone gates is inherited from
# gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py (the paper's ImageNet-LT recipe,
# checked line by line in its header: 200 epochs, batch 256, SGD 0.2 / 0.9 / 1e-4, 3-epoch
# warm-up + cosine, mixup 0.2, AutoAugment, cosine classifier s = 16, IIF 'rel' at test).
_base_ = ['./gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(_delete_=True, type='GatedSE', ratio=16, gate_cfg=dict(type='Sigmoid'))))
