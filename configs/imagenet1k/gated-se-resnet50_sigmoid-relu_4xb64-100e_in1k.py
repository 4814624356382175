# ImageNet-1k, the plain SE-ResNet-50 baseline (Sigmoid SE without LayerNorm/Dropout, ReLU),
# APA paper's 77.5 top-1; same recipe and same GatedResNet as the APA + AGLU config.
_base_ = './gated-se-resnet50_apa-aglu_4xb64-100e_in1k.py'

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(
            _delete_=True, type='GatedSE', ratio=16, gate_cfg=dict(type='Sigmoid'))))
