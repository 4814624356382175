"""Gated backbones, registered in the mmpretrain and mmdet ``MODELS`` registries."""
from .gated_bottleneck import GatedBottleneck
from .gated_resnet import GatedResNet

__all__ = ['GatedBottleneck', 'GatedResNet']
