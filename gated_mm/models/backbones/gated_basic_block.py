r"""The basic block of the gated ResNet family (two 3×3 convs; ResNet-18/34, CIFAR ResNets).

Same configurable positions as :class:`~.gated_bottleneck.GatedBottleneck` (whose tail it
shares through :class:`~.gated_bottleneck.GatedResidualBlock`), without bn3::

    x ─ conv1 3×3/s ─ bn1 ─ act[bn1] ─ conv2 3×3 ─ bn2 ─ act[bn2] ─ attention
        ─ merge(·, shortcut) ─ act[add] ─ out
    x ─ [downsample ─ act[shortcut]] ──┘

The ReLU positions of the plain block (He et al., CVPR 2016) are ``bn1`` and ``add``; ``bn2``
is the identity unless configured. The APA paper's CIFAR ``se_resnet32`` (public code) puts
its SE after bn2 and replaces the two ReLUs (and the stem's) by AGLU.

:class:`ZeroPadShortcut` is the parameter-free "option A" shortcut of the CIFAR ResNets:
subsample by the stride, zero-pad the channels.
"""
from typing import Dict, List, Optional

import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from torch import Tensor, nn

from .gated_bottleneck import GatedResidualBlock, build_optional_act, conv_norm_act


class ZeroPadShortcut(nn.Module):
    r"""Option-A shortcut (He et al. 2016, CIFAR): strided identity, zero-padded channels.

    out = pad_C(x[:, :, ::s, ::s], (p, C_out − C_in − p)) with p = ⌊(C_out − C_in)/2⌋, i.e. the
    input channels sit in the middle (the public CIFAR ResNet pads C_out/4 on each side when
    C_out = 2·C_in). No parameters.

    Shape: (N, C_in, H, W) → (N, C_out, ⌈H/s⌉, ⌈W/s⌉), the shape of a 3×3/s conv with padding 1.

    Raises:
        ValueError: ``out_channels < in_channels`` or ``stride < 1``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        if out_channels < in_channels or stride < 1:
            raise ValueError(f'ZeroPadShortcut: needs out_channels >= in_channels and stride '
                             f'>= 1, got {in_channels} -> {out_channels}, stride {stride}')
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.pad_before = (out_channels - in_channels) // 2
        self.pad_after = out_channels - in_channels - self.pad_before

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))

    def extra_repr(self) -> str:
        return f'{self.in_channels}, {self.out_channels}, stride={self.stride}'


class GatedBasicBlock(GatedResidualBlock):
    """Basic block (conv3×3 → conv3×3) with configurable activations and attention.

    Args:
        in_channels, out_channels: block input and output channels (``expansion`` = 1).
        stride: stride of conv1.
        dilation: dilation (and padding) of conv1 (as mmdet's ``BasicBlock``).
        downsample: the shortcut module (``ZeroPadShortcut`` or conv+BN), None for identity.
        act_cfgs: position → activation config, positions ``bn1``, ``bn2``, ``shortcut``,
            ``add`` (missing or None → identity; ``shortcut`` only acts on a downsample).
        attention_cfg: config of a module built with ``channels=out_channels`` and applied
            after bn2 (and act[bn2]), before the residual add; None for none.
        merge_cfg: module called as ``merge(main, shortcut)`` instead of the add; None: add.
        norm_cfg, conv_cfg: mmcv norm/conv configs.
        with_cp: gradient checkpointing of the residual branch.

    Shape: (N, C_in, H, W) → (N, C_out, ⌈H/s⌉, ⌈W/s⌉) for any H, W.

    Raises:
        ValueError: an unknown position (``bn3`` included); an activation that needs the conv
            input (IIEU) at ``add``, or at ``shortcut`` without a conv in the downsample.
    """
    expansion = 1
    act_positions = ('bn1', 'bn2', 'shortcut', 'add')
    relu_positions = ('bn1', 'add')

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 dilation: int = 1,
                 downsample: Optional[nn.Module] = None,
                 act_cfgs: Optional[Dict[str, Optional[dict]]] = None,
                 attention_cfg: Optional[dict] = None,
                 merge_cfg: Optional[dict] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 with_cp: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        act_cfgs = self._check_positions(act_cfgs)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.with_cp = stride, with_cp
        self.conv1 = build_conv_layer(conv_cfg, in_channels, out_channels, 3, stride=stride,
                                      padding=dilation, dilation=dilation, bias=False)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, out_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, out_channels, out_channels, 3, padding=1,
                                      bias=False)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, out_channels, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.act1 = build_optional_act(act_cfgs.get('bn1'), out_channels)
        self.act2 = build_optional_act(act_cfgs.get('bn2'), out_channels)
        self._build_tail(out_channels, downsample, act_cfgs, attention_cfg, merge_cfg)

    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    @property
    def norm2(self):
        return getattr(self, self.norm2_name)

    @property
    def last_conv(self):
        return self.conv2

    def _main_units(self) -> List[tuple]:
        return [(self, 'conv1', self.norm1_name, self.act1),
                (self, 'conv2', self.norm2_name, self.act2)]

    @property
    def last_norm(self):
        return self.norm2

    @property
    def last_act(self):
        return self.act2

    def _main_body(self, x: Tensor) -> Tensor:
        return conv_norm_act(x, self.conv1, self.norm1, self.act1)
