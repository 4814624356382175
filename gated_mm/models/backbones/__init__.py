"""Gated backbones, registered in the mmpretrain and mmdet ``MODELS`` registries."""
from .fold_bn import FoldReport, fold_batch_norm
from .gated_basic_block import GatedBasicBlock, ZeroPadShortcut
from .gated_bottleneck import BlockEndFusion, GatedBottleneck, GatedResidualBlock
from .gated_resnet import GatedCifarResNet, GatedResNet

__all__ = [
    'BlockEndFusion', 'FoldReport', 'GatedBasicBlock', 'GatedBottleneck', 'GatedCifarResNet',
    'GatedResNet', 'GatedResidualBlock', 'ZeroPadShortcut', 'fold_batch_norm'
]
