# The APA paper's baseline: plain SE-ResNet-50 (Sigmoid SE gate, ReLU), built with the same
# GatedResNet so that only the gate and activation configs differ from the APA + AGLU model.
_base_ = ['./gated-se-resnet50_apa-aglu.py']

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(
            _delete_=True, type='GatedSE', ratio=16, gate_cfg=dict(type='Sigmoid'))))
