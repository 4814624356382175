# ImageNet-1k, SE-ResNet-101 (apa-relu): the SE-ResNet-50 apa-relu config with depth 101.
# Public APA README, ImageNet-1k SE-R101 with APA + AGLU: 80.3 top-1 (recipe: see the R50
# config; the README's ImageNet command was given for SE-R152).
_base_ = './gated-se-resnet50_apa-relu_4xb64-100e_in1k.py'

model = dict(backbone=dict(depth=101))
