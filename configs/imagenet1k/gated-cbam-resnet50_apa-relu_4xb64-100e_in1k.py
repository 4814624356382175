# ImageNet-1k, CBAM-ResNet-50 with APA gates and ReLU (APA-only ablation); same recipe.
_base_ = './gated-cbam-resnet50_apa-aglu_4xb64-100e_in1k.py'

model = dict(backbone=dict(act_cfg=dict(_delete_=True, type='ReLU', inplace=True)))
