# ImageNet-1k, IIEU-DC ResNet-26. Recipe: the IIEU-B ResNet-50 config's.
_base_ = './gated-resnet50_iieu-dc_4xb64-120e_in1k.py'

model = dict(backbone=dict(depth=26))
