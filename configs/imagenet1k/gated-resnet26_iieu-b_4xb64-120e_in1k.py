# ImageNet-1k, IIEU-B ResNet-26 (bottlenecks (2, 2, 2, 2)); paper: matches the ReLU
# ResNet-101 with far fewer parameters. Recipe: the IIEU-B ResNet-50 config's.
_base_ = './gated-resnet50_iieu-b_4xb64-120e_in1k.py'

model = dict(backbone=dict(depth=26))
