# ImageNet-1k, SE-ResNet-50 with APA-gated SE blocks and ReLU (the APA-only ablation;
# APA paper: Sigmoid -> APA in SE helps on its own). Same recipe as the APA + AGLU config.
_base_ = './gated-se-resnet50_apa-aglu_4xb64-100e_in1k.py'

model = dict(backbone=dict(act_cfg=dict(_delete_=True, type='ReLU', inplace=True)))
