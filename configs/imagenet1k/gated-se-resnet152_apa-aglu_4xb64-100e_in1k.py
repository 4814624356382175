# ImageNet-1k, SE-ResNet-152 (apa-aglu): the SE-ResNet-50 apa-aglu config with depth 152.
# Public APA README, ImageNet-1k SE-R152 with APA + AGLU: 80.8 top-1 (recipe: see the R50
# config; the README's ImageNet command was given for SE-R152).
_base_ = './gated-se-resnet50_apa-aglu_4xb64-100e_in1k.py'

model = dict(backbone=dict(depth=152))
