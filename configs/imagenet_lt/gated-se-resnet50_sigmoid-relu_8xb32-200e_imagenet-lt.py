# ImageNet-LT baseline: plain SE-ResNet-50 (Sigmoid SE, ReLU), same recipe as the APA + AGLU
# config. Target: APA paper Table 2 "Our Baseline" (SE-R50): 66.2 / 53.1 / 37.1 / 56.0
# (many / medium / few / average top-1).
_base_ = ['./gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(
            _delete_=True, type='GatedSE', ratio=16, gate_cfg=dict(type='Sigmoid'))))
