r"""The one bottleneck block of the gated ResNet/ResNeXt family.

Every activation position and the attention position is a config, so SE-, CBAM-, GE-,
APA-, AGLU-, ... ResNets are the same class with different configs (no Bottleneck per variant)::

    x ─ conv1 1×1 ─ bn1 ─ act[bn1] ─ conv2 3×3/s,g ─ bn2 ─ act[bn2] ─ conv3 1×1 ─ bn3 ─ act[bn3]
        ─ attention ─ (+) ─ act[add] ─ out
    x ─ [downsample: (avgpool) conv 1×1/s ─ bn ─ act[shortcut]] ──────┘

Positions without a config are the identity. He et al. (CVPR 2016) for the block, Xie et al.
(CVPR 2017) for the grouped width: mid = groups · width_per_group · (C_out / 4) / base_channels.
"""
from typing import Dict, Optional

import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch import Tensor, nn

#: Activation positions of a block (``stem`` is a position of the backbone only).
BLOCK_ACT_POSITIONS = ('bn1', 'bn2', 'bn3', 'shortcut', 'add')


def build_optional_act(cfg: Optional[dict]) -> nn.Module:
    """``None`` → identity; otherwise a fresh module from mmengine's ``MODELS``."""
    return nn.Identity() if cfg is None else build_activation_layer(dict(cfg))


class GatedBottleneck(BaseModule):
    """Bottleneck block with configurable activations and attention.

    Args:
        in_channels, out_channels: block input and output channels (out = 4 · mid for
            groups == 1).
        stride: stride of the 3×3 conv (``style='pytorch'``) or of conv1 (``'caffe'``).
        dilation: dilation of the 3×3 conv.
        downsample: the shortcut module, or None for identity.
        groups, width_per_group, base_channels: ResNeXt width (groups == 1: plain ResNet).
        act_cfgs: position → activation config (positions in ``BLOCK_ACT_POSITIONS``;
            missing or None → identity).
        attention_cfg: config of a module built with ``channels=out_channels`` and applied
            after bn3 (and act[bn3]), before the residual add; None for none.
        norm_cfg, conv_cfg: mmcv norm/conv configs.
        with_cp: gradient checkpointing of the residual branch (saves memory).

    Shape: (N, C_in, H, W) → (N, C_out, ⌈H/s⌉, ⌈W/s⌉) for any H, W.
    """
    expansion = 4

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 dilation: int = 1,
                 downsample: Optional[nn.Module] = None,
                 groups: int = 1,
                 width_per_group: int = 64,
                 base_channels: int = 64,
                 style: str = 'pytorch',
                 act_cfgs: Optional[Dict[str, Optional[dict]]] = None,
                 attention_cfg: Optional[dict] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 with_cp: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if style not in ('pytorch', 'caffe'):
            raise ValueError(f"GatedBottleneck: style must be 'pytorch' or 'caffe', got {style!r}")
        act_cfgs = dict(act_cfgs or {})
        unknown = set(act_cfgs) - set(BLOCK_ACT_POSITIONS)
        if unknown:
            raise ValueError(f'GatedBottleneck: unknown activation position(s) {sorted(unknown)}; '
                           f'expected a subset of {BLOCK_ACT_POSITIONS}')
        mid = out_channels // self.expansion
        if groups != 1:
            mid = groups * width_per_group * mid // base_channels
        self.in_channels, self.out_channels, self.mid_channels = in_channels, out_channels, mid
        self.stride, self.with_cp = stride, with_cp
        s1, s2 = (1, stride) if style == 'pytorch' else (stride, 1)

        self.conv1 = build_conv_layer(conv_cfg, in_channels, mid, 1, stride=s1, bias=False)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, mid, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, mid, mid, 3, stride=s2, padding=dilation,
                                      dilation=dilation, groups=groups, bias=False)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, mid, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.conv3 = build_conv_layer(conv_cfg, mid, out_channels, 1, bias=False)
        self.norm3_name, norm3 = build_norm_layer(norm_cfg, out_channels, postfix=3)
        self.add_module(self.norm3_name, norm3)
        self.act1 = build_optional_act(act_cfgs.get('bn1'))
        self.act2 = build_optional_act(act_cfgs.get('bn2'))
        self.act3 = build_optional_act(act_cfgs.get('bn3'))
        self.attention = (nn.Identity() if attention_cfg is None else MODELS.build(
            dict(attention_cfg, channels=out_channels)))
        self.downsample = downsample
        self.act_shortcut = build_optional_act(act_cfgs.get('shortcut'))
        self.act_add = build_optional_act(act_cfgs.get('add'))

    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    @property
    def norm2(self):
        return getattr(self, self.norm2_name)

    @property
    def norm3(self):
        return getattr(self, self.norm3_name)

    def _residual(self, x: Tensor) -> Tensor:
        out = self.act1(self.norm1(self.conv1(x)))
        out = self.act2(self.norm2(self.conv2(out)))
        out = self.act3(self.norm3(self.conv3(out)))
        out = self.attention(out)
        identity = x if self.downsample is None else self.act_shortcut(self.downsample(x))
        return out + identity

    def forward(self, x: Tensor) -> Tensor:
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(self._residual, x, use_reentrant=False)
        else:
            out = self._residual(x)
        return self.act_add(out)
