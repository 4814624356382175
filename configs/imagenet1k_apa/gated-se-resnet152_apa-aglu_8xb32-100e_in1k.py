# ImageNet-1k, SE-ResNet-152 with APA-gated SE and AGLU units; also the pre-training of the
# Places-LT model (configs/places_lt/).
# Target: APA paper, ImageNet-1k table (d): SE-R152 80.3 -> +APA* + AGLU 80.8 top-1 (public
# checkpoint: 80.8). Recipe: inherited, see gated-se-resnet50_apa-aglu_8xb32-100e_in1k.py (the
# public code's SE-R152 ImageNet command, line by line).
_base_ = ['./gated-se-resnet50_apa-aglu_8xb32-100e_in1k.py']

model = dict(backbone=dict(depth=152))
