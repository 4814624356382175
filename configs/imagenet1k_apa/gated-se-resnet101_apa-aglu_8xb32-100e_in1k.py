# ImageNet-1k, SE-ResNet-101 with APA-gated SE and AGLU units.
# Target: APA paper, ImageNet-1k table (d): SE-R101 79.4 -> +APA* + AGLU 80.3 top-1 (public
# checkpoint: 80.3). Recipe: inherited, see gated-se-resnet50_apa-aglu_8xb32-100e_in1k.py
# (the public SE-R152 ImageNet recipe, assumed for R101).
_base_ = ['./gated-se-resnet50_apa-aglu_8xb32-100e_in1k.py']

model = dict(backbone=dict(depth=101))
