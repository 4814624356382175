# ImageNet-1k, IIEU-DC ResNet-50 (IIEU-B + the Dynamic Coupler in place of every residual add;
# +2,640,496 parameters over IIEU-B). Recipe: the IIEU-B ResNet-50 config's.
_base_ = './gated-resnet50_iieu-b_4xb64-120e_in1k.py'

model = dict(backbone=dict(merge_cfg=dict(type='DynamicCoupler', ratio=16)))
