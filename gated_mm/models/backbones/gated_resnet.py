r"""GatedResNet: one ResNet/ResNeXt family with per-position activations and attention.

Registered in the mmpretrain and the mmdet ``MODELS`` registries, with the conventions of
both (``out_indices``, ``frozen_stages``, ``norm_eval``, ``init_cfg``, ``with_cp``).

Defaults give the APA paper's SE-ResNet-50 (Alexandridis et al., ECCV 2024, Sec. 4; public
code): AGLU at every ReLU position (stem, after bn1, bn2 and the residual add) and an SE block
after bn3 with LayerNorm, no-bias MLP (r = 16), Dropout(0.1) and an APA gate. The paper's
baseline SE-R50 is ``act_cfg=dict(type='ReLU', inplace=True)`` with
``attention_cfg=dict(type='GatedSE', ratio=16, gate_cfg=dict(type='Sigmoid'))``.

Activation config (``act_cfg``) is one of
  * a single config (has ``type``): used at the default positions ``stem``, ``bn1``,
    ``bn2``, ``add`` (the ReLU positions of a ResNet);
  * a dict position → config with positions ``stem``, ``bn1``, ``bn2``, ``bn3``,
    ``shortcut``, ``add``; a missing position is the identity. Each block position may also
    be a list of ``num_stages`` configs (one per stage).
``attention_cfg`` is a config built with ``channels=C_out`` after bn3, None, or a list of
``num_stages`` of those. ``merge_cfg`` (same forms) replaces the residual add by a module
called as ``merge(main, shortcut)`` (IIEU-DC: ``dict(type='DynamicCoupler')``). Every position
of every block gets its own module instance (its own κ and λ for APA/AGLU). Activations that
declare ``needs_channels`` (IIEU, AdaShift-B/-MA) are built with the position's width;
activations that declare ``needs_conv_input`` (IIEU-B) receive the conv input and the conv (the
image and ``conv1`` at ``stem``) and may sit at ``stem``, ``bn1``, ``bn2``, ``bn3`` and
``shortcut``, not at ``add``.

Family presets (configs in ``configs/_base_/models/``): IIEU-B puts IIEU at stem, bn1, bn2,
bn3 and shortcut with nothing after the add; IIEU-DC adds ``merge_cfg=DynamicCoupler``;
AdaShift-B/-MA replace the ReLUs (stem, bn1, bn2, add); SE/CBAM/GE are ``attention_cfg``.

Shape: (N, in_channels, H, W), any H, W → tuple of stage outputs
(N, base_channels · 4 · 2^i, H / 2^(i+2), W / 2^(i+2)) for i in ``out_indices`` (ImageNet stem),
strides /2^i for the CIFAR stem.

:class:`GatedCifarResNet` is the same class with the basic block
(:class:`~.gated_basic_block.GatedBasicBlock`, whose ReLU positions are stem, bn1, add and whose
attention sits after bn2), three stages of (depth − 2)/6 blocks, the CIFAR stem and option-A
shortcuts: the CIFAR ResNet-20/32/44/56/110 of He et al. (2016), SE-ResNet-32 of the APA paper.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule, Sequential
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ..registry import register_in_scopes
from .gated_basic_block import GatedBasicBlock, ZeroPadShortcut
from .gated_bottleneck import (GatedBottleneck, GatedResidualBlock, build_optional_act,
                               conv_norm_act)

APA_SE = dict(type='GatedSE', ratio=16, style='apa')  # the layout: GatedSE.STYLES['apa']


@register_in_scopes()
class GatedResNet(BaseModule):
    """Gated ResNet / ResNeXt backbone (bottleneck blocks; basic blocks for depth 18, 34).

    Args:
        depth: 18 or 34 (:class:`~.gated_basic_block.GatedBasicBlock` counts (2,2,2,2),
            (3,4,6,3); ResNet-18/34 of He et al. 2016; groups 1 only, width_per_group unused),
            26, 50, 101 or 152 (bottleneck counts (2,2,2,2), (3,4,6,3), (3,4,23,3),
            (3,8,36,3)); ``arch_settings`` maps depth → (block, blocks per stage) as
            mmpretrain's ResNet.
        in_channels: image channels.
        stem_channels: channels of the stem conv.
        base_channels: width of the first stage's 3×3 conv (64 for ResNet-50).
        groups, width_per_group: ResNeXt cardinality and group width (ResNeXt-50 32×4d:
            ``groups=32, width_per_group=4``).
        num_stages: 1-4.
        strides, dilations: per stage.
        out_indices: stages whose outputs are returned (tuple, mmpretrain/mmdet convention).
        style: 'pytorch' (stride on the 3×3 conv) or 'caffe' (on the first 1×1 conv).
        stem_type: 'imagenet' (7×7/2 conv, BN, act, 3×3/2 max-pool) or 'cifar' (3×3/1 conv,
            BN, act; for small images such as 28×28 or 32×32).
        avg_down: ResNet-D shortcut (average pooling before the 1×1 conv).
        shortcut: the shortcut of a block that changes shape: 'B' (projection, 1×1/s conv +
            BN) or 'A' (parameter-free: ``x[:, :, ::s, ::s]`` zero-padded on channels,
            :class:`ZeroPadShortcut`; He et al. 2016's CIFAR ResNets).
        act_cfg: activation config, see the module docstring.
        attention_cfg: attention config after bn3, see the module docstring.
        merge_cfg: residual merge config (None: the plain add), see the module docstring.
        frozen_stages: stages (and the stem for ≥ 0) whose parameters, including gate
            parameters, are frozen and whose norm layers are kept in eval mode; −1: none.
        norm_cfg, conv_cfg: mmcv configs.
        norm_eval: keep BN layers in eval mode during training (detection fine-tuning).
        with_cp: gradient checkpointing per block.
        zero_init_residual: zero-initialise the last BN of every block.
        init_cfg: mmengine init config (``dict(type='Pretrained', checkpoint=...)`` to load).

    Raises:
        ValueError: unknown depth, stem type, shortcut or activation position, a per-stage list
            whose length is not ``num_stages``, bad indices, an IIEU after the add, or (in
            ``forward``) an input whose channel count is not ``in_channels``.
    """

    #: the residual block (set per depth from ``arch_settings``; :class:`GatedCifarResNet`
    #: fixes it to the basic block)
    block = GatedBottleneck
    arch_settings = {
        18: (GatedBasicBlock, (2, 2, 2, 2)),
        26: (GatedBottleneck, (2, 2, 2, 2)),
        34: (GatedBasicBlock, (3, 4, 6, 3)),
        50: (GatedBottleneck, (3, 4, 6, 3)),
        101: (GatedBottleneck, (3, 4, 23, 3)),
        152: (GatedBottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: int = 50,
                 in_channels: int = 3,
                 stem_channels: int = 64,
                 base_channels: int = 64,
                 groups: int = 1,
                 width_per_group: int = 4,
                 num_stages: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (3, ),
                 style: str = 'pytorch',
                 stem_type: str = 'imagenet',
                 avg_down: bool = False,
                 shortcut: str = 'B',
                 act_cfg: Optional[dict] = dict(type='AGLU'),
                 attention_cfg: Union[None, dict, List[Optional[dict]]] = APA_SE,
                 merge_cfg: Union[None, dict, List[Optional[dict]]] = None,
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 zero_init_residual: bool = True,
                 init_cfg=[
                     dict(type='Kaiming', layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
                 ]):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        stage_blocks = self._stage_blocks(depth)
        if stem_type not in ('imagenet', 'cifar'):
            raise ValueError(f"{name}: stem_type must be 'imagenet' or 'cifar', got "
                             f"{stem_type!r}")
        if shortcut not in ('A', 'B'):
            raise ValueError(f"{name}: shortcut must be 'A' or 'B', got {shortcut!r}")
        if not 1 <= num_stages <= len(stage_blocks):
            raise ValueError(f'{name}: num_stages must be in 1..{len(stage_blocks)}, got '
                             f'{num_stages}')
        if len(strides) < num_stages or len(dilations) < num_stages:
            raise ValueError(f'{name}: strides and dilations need {num_stages} entries, got '
                             f'{strides} and {dilations}')
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        out_indices = tuple(i if i >= 0 else num_stages + i for i in out_indices)
        if not all(0 <= i < num_stages for i in out_indices):
            raise ValueError(f'{name}: out_indices {out_indices} outside 0..{num_stages - 1}')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'{name}: frozen_stages must be in -1..{num_stages}, '
                             f'got {frozen_stages}')
        self.depth, self.num_stages, self.out_indices = depth, num_stages, out_indices
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.zero_init_residual = zero_init_residual
        self.stem_type, self.in_channels = stem_type, in_channels
        self.groups, self.width_per_group = groups, width_per_group
        self.base_channels = base_channels
        self.style, self.avg_down, self.shortcut = style, avg_down, shortcut
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        positions = self._positions(act_cfg)
        attentions = self._per_stage(attention_cfg, 'attention_cfg')
        merges = self._per_stage(merge_cfg, 'merge_cfg')

        # stem
        if stem_type == 'imagenet':
            self.conv1 = build_conv_layer(conv_cfg, in_channels, stem_channels, 7, stride=2,
                                          padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = build_conv_layer(conv_cfg, in_channels, stem_channels, 3, stride=1,
                                          padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.stem_act = build_optional_act(positions.pop('stem'), stem_channels)

        # stages
        self.res_layers = []
        in_ch = stem_channels
        for i, num_blocks in enumerate(stage_blocks[:num_stages]):
            out_ch = base_channels * self.block.expansion * 2**i
            block_acts = {pos: cfgs[i] for pos, cfgs in positions.items()}
            blocks = []
            for j in range(num_blocks):
                stride = strides[i] if j == 0 else 1
                downsample = None
                if j == 0 and (stride != 1 or in_ch != out_ch):
                    downsample = self._make_shortcut(in_ch, out_ch, stride)
                blocks.append(
                    self._make_block(
                        in_ch, out_ch, stride=stride, dilation=dilations[i],
                        downsample=downsample, act_cfgs=block_acts, attention_cfg=attentions[i],
                        merge_cfg=merges[i], conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                        with_cp=with_cp))
                in_ch = out_ch
            name = f'layer{i + 1}'
            self.add_module(name, Sequential(*blocks))
            self.res_layers.append(name)
        self.feat_dim = in_ch
        self._freeze_stages()

    # ----------------------------------------------------------------- config parsing
    def _stage_blocks(self, depth: int) -> Sequence[int]:
        """Blocks per stage for ``depth``; ValueError for an unknown depth."""
        if depth not in self.arch_settings:
            raise ValueError(f'{type(self).__name__}: invalid depth {depth}; expected one of '
                             f'{sorted(self.arch_settings)}')
        self.block, counts = self.arch_settings[depth]
        return counts

    def _per_stage(self, cfg, key: str) -> List[Optional[dict]]:
        if isinstance(cfg, (list, tuple)):
            if len(cfg) != self.num_stages:
                raise ValueError(f'{type(self).__name__}: {key} list has {len(cfg)} entries, '
                                 f'expected one per stage ({self.num_stages})')
            return list(cfg)
        return [cfg] * self.num_stages

    def _positions(self, act_cfg) -> Dict[str, list]:
        name, block_positions = type(self).__name__, self.block.act_positions
        if act_cfg is None:
            per_pos = {}
        elif isinstance(act_cfg, dict) and 'type' in act_cfg:
            per_pos = {pos: act_cfg for pos in ('stem', ) + self.block.relu_positions}
        elif isinstance(act_cfg, dict):
            positions = ('stem', ) + block_positions
            unknown = set(act_cfg) - set(positions)
            if unknown:
                raise ValueError(f'{name}: act_cfg has unknown position(s) {sorted(unknown)}; '
                                 f'expected a config with "type" or keys from {positions}')
            per_pos = dict(act_cfg)
        else:
            raise TypeError(f'{name}: act_cfg must be a dict or None, got {act_cfg!r}')
        stem = per_pos.pop('stem', None)
        if isinstance(stem, (list, tuple)):
            raise ValueError(f'{name}: act_cfg["stem"] must be a single config, not a list')
        out = {pos: self._per_stage(per_pos.get(pos), f'act_cfg["{pos}"]')
               for pos in block_positions}
        out['stem'] = stem
        return out

    # ----------------------------------------------------------------- blocks
    def _make_block(self, in_ch: int, out_ch: int, **kwargs) -> GatedResidualBlock:
        """One ``self.block``; ``kwargs`` are the arguments every gated block takes."""
        if self.block is GatedBasicBlock:
            if self.groups != 1:
                raise ValueError(f'{type(self).__name__}: depth {self.depth} (basic blocks) '
                                 f'needs groups=1 (no ResNeXt basic block), got {self.groups}')
            return self.block(in_ch, out_ch, **kwargs)
        return self.block(in_ch, out_ch, groups=self.groups, width_per_group=self.width_per_group,
                          base_channels=self.base_channels, style=self.style, **kwargs)

    def _make_shortcut(self, in_ch: int, out_ch: int, stride: int) -> nn.Module:
        if self.shortcut == 'A':
            return ZeroPadShortcut(in_ch, out_ch, stride)
        layers = []
        conv_stride = stride
        if self.avg_down and stride != 1:
            layers.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
            conv_stride = 1
        layers += [build_conv_layer(self.conv_cfg, in_ch, out_ch, 1, stride=conv_stride,
                                    bias=False),
                   build_norm_layer(self.norm_cfg, out_ch)[1]]
        return nn.Sequential(*layers)

    # ----------------------------------------------------------------- mmdet/mmpretrain API
    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    def conv_norm_act_units(self) -> List[tuple]:
        """The stem's conv → norm → act unit (the blocks list their own), for
        :func:`~.fold_bn.fold_batch_norm`."""
        return [(self, 'conv1', self.norm1_name, self.stem_act)]

    def init_weights(self):
        super().init_weights()
        pretrained = isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'
        if self.zero_init_residual and not pretrained:
            for m in self.modules():
                if isinstance(m, GatedResidualBlock):
                    nn.init.constant_(m.last_norm.weight, 0)

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        frozen = [self.conv1, self.norm1, self.stem_act]
        frozen += [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def forward(self, x: Tensor):
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__}: got input of shape {tuple(x.shape)} but '
                f'model.backbone.in_channels={self.in_channels}; set in_channels (and '
                f'data_preprocessor mean/std, to_rgb) to match the images')
        x = self.maxpool(conv_norm_act(x, self.conv1, self.norm1, self.stem_act))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


#: the APA paper's CIFAR SE (public code ``se_resnet32 --use_gumbel_se``): r = 4
CIFAR_APA_SE = dict(APA_SE, ratio=4)


@register_in_scopes()
class GatedCifarResNet(GatedResNet):
    r"""CIFAR ResNet-(6n+2) of the gated family: basic blocks, 3 stages, 3×3 stem.

    He et al. (CVPR 2016, Sec. 4.2): conv 3×3/1 (``stem_channels``) → BN → act, then three
    stages of n = (depth − 2)/6 :class:`~.gated_basic_block.GatedBasicBlock` of widths
    ``base_channels`` · (1, 2, 4) and strides (1, 2, 2); shortcuts where the shape changes are
    option A (``x[:, :, ::2, ::2]`` zero-padded on channels, no parameters) or B (1×1/2 conv +
    BN). Plain ResNet-20/32/44/56/110 (ReLU, no attention, option A, 16 channels) have 0.27 /
    0.46 / 0.66 / 0.85 / 1.7 M parameters.

    Defaults give the APA paper's CIFAR SE-ResNet-32 (public code kostas1515/AGLU,
    ``se_resnet32`` with ``--use_gumbel_se``, AGLU for the ReLUs): AGLU at the stem, after bn1
    and after the residual add; an SE block after bn2 with LayerNorm, no-bias MLP (r = 4),
    Dropout(0.1) and an APA gate. The plain ResNet-32 is ``act_cfg=dict(type='ReLU',
    inplace=True), attention_cfg=None``.

    Only the layout and the defaults differ from :class:`GatedResNet` (as mmpretrain's
    ``ResNetV1c`` changes only the stem of its ``ResNet``); every other argument (``act_cfg``
    positions ``stem``, ``bn1``, ``bn2``, ``shortcut``, ``add`` in the single / per-position /
    per-stage forms, ``merge_cfg``, ``frozen_stages``, ...) is passed on unchanged.

    Args:
        depth: 6n + 2 with n ≥ 1 (20, 32, 44, 56, 110, ...); default 32.
        stem_channels, base_channels: stem and first-stage channels; default 16.
        shortcut: 'A' (zero-padded strided identity, default) or 'B' (projection).
        out_indices: default (2, ), the last of the 3 stages.
        attention_cfg: default the APA SE with r = 4 (:data:`CIFAR_APA_SE`).
        zero_init_residual: zero-initialise bn2 of every block (default off: as He et al. and
            the public code).
        init_cfg: default as the public code: Kaiming-normal (fan_in) convs and linears (the
            SE MLP), BN weight 1 and bias 0.
        **kwargs: the other :class:`GatedResNet` arguments (``in_channels``, ``act_cfg``,
            ``merge_cfg``, ``frozen_stages``, ``norm_eval``, ``with_cp``, ``conv_cfg``,
            ``norm_cfg``, ...). The layout is fixed: ``num_stages=3``, ``strides=(1, 2, 2)``,
            ``dilations=(1, 1, 1)``, ``stem_type='cifar'``.

    Shape: (N, in_channels, H, W), any H, W → tuple of (N, base_channels · 2^i, ⌈H/2^i⌉,
    ⌈W/2^i⌉) for i in ``out_indices`` (default (2, ): (N, 64, 8, 8) for 32×32 images).

    Raises:
        ValueError: depth not 6n + 2 (``GatedCifarResNet: depth must be 6n+2 (20, 32, 44, 56,
            110), got 33``), a layout argument given, and the errors of :class:`GatedResNet`.
    """
    block = GatedBasicBlock
    #: the CIFAR layout of He et al. (2016), not an option of this class
    layout = dict(num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), stem_type='cifar')

    def __init__(self,
                 depth: int = 32,
                 stem_channels: int = 16,
                 base_channels: int = 16,
                 shortcut: str = 'A',
                 out_indices: Sequence[int] = (2, ),
                 attention_cfg: Union[None, dict, List[Optional[dict]]] = CIFAR_APA_SE,
                 zero_init_residual: bool = False,
                 init_cfg=[
                     dict(type='Kaiming', layer=['Conv2d', 'Linear'], mode='fan_in'),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
                 ],
                 **kwargs):
        fixed = sorted(set(kwargs) & set(self.layout))
        if fixed:
            raise ValueError(f'GatedCifarResNet: {", ".join(fixed)} fixed by the CIFAR layout '
                             f'{self.layout}; build a GatedResNet for another layout')
        super().__init__(
            depth=depth, stem_channels=stem_channels, base_channels=base_channels,
            shortcut=shortcut, out_indices=out_indices, attention_cfg=attention_cfg,
            zero_init_residual=zero_init_residual, init_cfg=init_cfg, **self.layout, **kwargs)

    def _stage_blocks(self, depth: int) -> Sequence[int]:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f'GatedCifarResNet: depth must be 6n+2 (20, 32, 44, 56, 110), '
                             f'got {depth}')
        return ((depth - 2) // 6, ) * 3
