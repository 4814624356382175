r"""The one bottleneck block of the gated ResNet/ResNeXt family.

Every activation position, the attention position and the residual merge are configs, so SE-,
CBAM-, GE-, APA-, AGLU-, IIEU-, AdaShift-... ResNets are the same class with different configs
(no Bottleneck per variant)::

    x ─ conv1 1×1 ─ bn1 ─ act[bn1] ─ conv2 3×3/s,g ─ bn2 ─ act[bn2] ─ conv3 1×1 ─ bn3 ─ act[bn3]
        ─ attention ─ merge(·, shortcut) ─ act[add] ─ out
    x ─ [downsample: (avgpool) conv 1×1/s ─ bn ─ act[shortcut]] ──┘

Positions without a config are the identity; the merge is the plain add unless ``merge_cfg``
(e.g. IIEU-DC's :class:`~gated_mm.models.activations.DynamicCoupler`) is given. Each
conv → norm → act unit is run by :func:`conv_norm_act`, which hands the conv's input and the
conv to activations that declare ``needs_conv_input`` (IIEU-B), so the parameter names stay
those of torchvision (``conv1``, ``bn1``, ..., ``downsample.0``/``.1``). Activations that declare
``needs_channels`` (IIEU, AdaShift, ...) are built with ``channels`` = their position's width;
BN → APA/AGLU units run fused (:func:`~gated_mm.models.activations.norm_act.batch_norm_act`),
and so does the block end ``act[add](attention(·) + shortcut)`` where that saves memory
(:func:`~gated_mm.models.activations.residual_act.residual_act`,
:meth:`GatedResidualBlock.block_end_fusion`); ``gated_mm.models.activations.fusion`` switches
both off.
He et al. (CVPR 2016) for the block, Xie et al. (CVPR 2017) for the grouped width:
mid = groups · width_per_group · (C_out / 4) / base_channels.

The tail (attention, shortcut activation, merge, act[add], checkpointing) lives in
:class:`GatedResidualBlock`, shared with the basic block (:mod:`.gated_basic_block`).
"""
import functools
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch import Tensor, nn

from ..activations.fusion_policy import has_forward_hooks, residual_fusable
from ..activations.norm_act import batch_norm_act, batch_norm_iieu
from ..activations.residual_act import residual_act

#: Activation positions of a block (``stem`` is a position of the backbone only).
BLOCK_ACT_POSITIONS = ('bn1', 'bn2', 'bn3', 'shortcut', 'add')


def _registered_class(cfg: dict):
    kind = cfg.get('type')
    return kind if isinstance(kind, type) else MODELS.get(kind)


def build_optional_act(cfg: Optional[dict], channels: Optional[int] = None) -> nn.Module:
    """``None`` → identity; otherwise a fresh module from mmengine's ``MODELS``.

    A class with ``needs_channels = True`` (IIEU, AdaShift, DynamicCoupler) gets
    ``channels=channels`` unless the config sets it; ValueError if no count is known.
    """
    if cfg is None:
        return nn.Identity()
    cfg = dict(cfg)
    cls = _registered_class(cfg)
    if getattr(cls, 'needs_channels', False) and 'channels' not in cfg:
        if channels is None:
            raise ValueError(f'{cfg["type"]} needs the channel count; build it at a GatedResNet '
                             f'position or set channels= in its config')
        cfg['channels'] = channels
    return build_activation_layer(cfg)


def needs_conv_input(act: nn.Module) -> bool:
    """Whether ``act`` is called as ``act(y, x_pre, conv)`` (IIEU-B)."""
    return bool(getattr(act, 'needs_conv_input', False))


def conv_norm_act(x: Tensor, conv: nn.Module, norm: nn.Module, act: nn.Module) -> Tensor:
    """One conv → norm → act unit; the activation gets (x, conv) if it needs them.

    BN → APA/AGLU runs as one memory-light node (:func:`batch_norm_act`, same results); BN →
    IIEU-B keeps the BN input, not its output (:func:`batch_norm_iieu`).
    """
    if needs_conv_input(act):
        return batch_norm_iieu(norm, act, conv(x), x, conv)
    return batch_norm_act(norm, act, conv(x))


def _conv_of(shortcut: nn.Module) -> Optional[nn.Module]:
    """The last conv of a shortcut ``nn.Sequential`` (None if there is none)."""
    if not isinstance(shortcut, nn.Sequential):
        return None
    convs = [m for m in shortcut if isinstance(m, nn.Conv2d)]
    return convs[-1] if convs else None


class GatedResidualBlock(BaseModule):
    """What every gated residual block shares: the configurable tail
    ``attention → merge(·, shortcut) → act[add]``, the shortcut activation, position checks
    and gradient checkpointing. A block builds its convs, then calls :meth:`_build_tail`, and
    implements :meth:`_main_body` (the residual branch up to the input of its last conv),
    ``last_conv``, ``last_norm`` (zero-initialised by ``zero_init_residual``) and ``last_act``
    (the activation after it); :meth:`_main` and :meth:`_main_pre_norm` follow from them.

    Class attributes: ``expansion`` (out_channels / stage width), ``act_positions`` (positions
    the block accepts) and ``relu_positions`` (where a single ``act_cfg`` goes: the ReLUs of
    the plain block).
    """
    expansion = 1
    act_positions: Tuple[str, ...] = ()
    relu_positions: Tuple[str, ...] = ()

    @classmethod
    def _check_positions(cls, act_cfgs: Optional[Dict[str, Optional[dict]]]) -> dict:
        act_cfgs = dict(act_cfgs or {})
        unknown = set(act_cfgs) - set(cls.act_positions)
        if unknown:
            raise ValueError(f'{cls.__name__}: unknown activation position(s) {sorted(unknown)}; '
                             f'expected a subset of {cls.act_positions}')
        return act_cfgs

    def _build_tail(self, out_channels: int, downsample: Optional[nn.Module], act_cfgs: dict,
                    attention_cfg: Optional[dict], merge_cfg: Optional[dict]):
        name = type(self).__name__
        self.attention = (nn.Identity() if attention_cfg is None else MODELS.build(
            dict(attention_cfg, channels=out_channels)))
        self.downsample = downsample
        # an identity shortcut has no activation (nothing to learn, no unused parameters)
        self.act_shortcut = build_optional_act(
            act_cfgs.get('shortcut') if downsample is not None else None, out_channels)
        self.merge = None if merge_cfg is None else MODELS.build(
            dict(merge_cfg, channels=out_channels))
        self.act_add = build_optional_act(act_cfgs.get('add'), out_channels)
        if needs_conv_input(self.act_add):
            conv_positions = tuple(p for p in self.act_positions if p != 'add')
            raise ValueError(f'{name}: {type(self.act_add).__name__} needs a conv input '
                             f'and cannot sit after the residual add; use positions '
                             f'{", ".join(conv_positions)}')
        if needs_conv_input(self.act_shortcut):
            if _conv_of(downsample) is None:
                raise ValueError(f'{name}: {type(self.act_shortcut).__name__} at '
                                 f'"shortcut" needs a downsample nn.Sequential with a conv')

    @property
    def last_conv(self) -> nn.Module:
        raise NotImplementedError

    @property
    def last_norm(self) -> nn.Module:
        raise NotImplementedError

    @property
    def last_act(self) -> nn.Module:
        raise NotImplementedError

    def _main_body(self, x: Tensor) -> Tensor:
        """The residual branch up to the input of ``last_conv``."""
        raise NotImplementedError

    def _main(self, x: Tensor) -> Tensor:
        """The residual branch before the attention."""
        return conv_norm_act(self._main_body(x), self.last_conv, self.last_norm, self.last_act)

    def _main_pre_norm(self, x: Tensor) -> Tensor:
        """The residual branch up to its last conv (the input of ``last_norm``)."""
        return self.last_conv(self._main_body(x))

    def conv_norm_act_units(self) -> List[tuple]:
        """Every conv → norm → act unit of the block as ``(owner, conv name, norm name, act)``
        (main branch, then a projection shortcut ``nn.Sequential`` ending in conv → norm), for
        :func:`~.fold_bn.fold_batch_norm`."""
        units = self._main_units()
        down = self.downsample
        if isinstance(down, nn.Sequential) and len(down) >= 2 \
                and isinstance(down[-2], nn.Conv2d):
            units.append((down, str(len(down) - 2), str(len(down) - 1), self.act_shortcut))
        return units

    def _main_units(self) -> List[tuple]:
        """The main branch's units, ``(self, conv name, norm name, act)`` each."""
        raise NotImplementedError

    def _shortcut(self, x: Tensor) -> Tensor:
        if self.downsample is None:
            return x
        if not needs_conv_input(self.act_shortcut):
            return self.act_shortcut(self.downsample(x))
        x_pre, conv = x, None
        for m in self.downsample:
            if isinstance(m, nn.Conv2d):
                x_pre, conv = x, m
            x = m(x)
        return self.act_shortcut(x, x_pre, conv)

    def _residual(self, x: Tensor) -> Tensor:
        out = self.attention(self._main(x))
        identity = self._shortcut(x)
        return out + identity if self.merge is None else self.merge(out, identity)

    def block_end_fusion(self) -> Optional['BlockEndFusion']:
        """Whether and how ``act[add](attention(a) + shortcut)`` runs as one
        :func:`residual_act` node now (None: unfused).

        Training (grad enabled): only where every tensor that node keeps is kept anyway, i.e.
        where fusing removes the activation's own copy of the sum: act[add] a scalar APA/AGLU
        (not compiling, :func:`~gated_mm.models.activations.residual_fusable`), the plain add,
        and
          * main branch: an attention with a multiplicative ``scale`` (``provides_scale``,
            GatedSE: a is kept by its multiply), or no attention and no ``last_act`` with a
            BatchNorm ``last_norm``, folded in (the last conv's output is kept by it anyway);
          * shortcut: the identity (kept by conv1), or a downsample ``nn.Sequential`` ending in
            a BatchNorm with no act[shortcut], folded in (its input is kept by it anyway).
        Inference (grad disabled): with a ``scale`` attention and the plain add, the scale
        multiply, the add and act[add] run as one pass of the compiled kernel (the shortcut
        runs as its modules; IIEU-B at ``shortcut`` stays unfused).
        Modules with forward hooks run unfused (the fused path does not call them).
        """
        if self.merge is not None:
            return None
        grad = torch.is_grad_enabled()
        if getattr(self.attention, 'provides_scale', False):
            scale, main_norm, bypassed = True, None, [self.attention]
        elif (grad and isinstance(self.attention, nn.Identity)
              and isinstance(self.last_act, nn.Identity)):
            scale, main_norm, bypassed = False, self.last_norm, [self.last_norm]
        else:
            return None
        head, short_norm = [], None
        if self.downsample is not None and not grad:
            if needs_conv_input(self.act_shortcut):
                return None
            head = [self.downsample, self.act_shortcut]
        elif self.downsample is not None:
            if not (isinstance(self.downsample, nn.Sequential) and len(self.downsample)
                    and isinstance(self.act_shortcut, nn.Identity)):
                return None
            head, short_norm = list(self.downsample)[:-1], self.downsample[-1]
            bypassed += [self.downsample, short_norm]
        if (not residual_fusable(self.act_add, main_norm, short_norm)
                or has_forward_hooks(self.act_add, *bypassed)):
            return None
        return BlockEndFusion(scale, main_norm, head, short_norm)

    def _fused(self, x: Tensor, plan: 'BlockEndFusion') -> Tensor:
        """The block, its end as one :func:`residual_act` node (``plan``: see
        :meth:`block_end_fusion`)."""
        scale = None
        if plan.main_norm is None:
            out = self._main(x)
            if plan.scale:
                scale = self.attention.scale(out)
        else:
            out = self._main_pre_norm(x)
        identity = x
        for m in plan.shortcut_head:
            identity = m(identity)
        return residual_act(self.act_add, out, identity, scale, plan.main_norm,
                            plan.shortcut_norm)

    def forward(self, x: Tensor) -> Tensor:
        """The block; its end runs as one fused node where that saves memory (same results).

        Unfused, an APA/AGLU after the add keeps the sum for backward: one tensor of the
        block's output size more than ReLU(inplace), whose kept output is the next block's
        input. Where :meth:`block_end_fusion`, :func:`residual_act` keeps nothing new instead.
        """
        plan = self.block_end_fusion()
        body = self._residual if plan is None else functools.partial(self._fused, plan=plan)
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(body, x, use_reentrant=False)
        else:
            out = body(x)
        return self.act_add(out) if plan is None else out


class BlockEndFusion(NamedTuple):
    """How a block end runs fused (:meth:`GatedResidualBlock.block_end_fusion`).

    Attributes:
        scale: the main branch is multiplied by ``attention.scale(a)`` (SE) inside the node.
        main_norm: the BatchNorm folded into the node on the main branch (``last_norm``,
            without attention), or None.
        shortcut_head: the shortcut modules run before the node (training: the downsample
            modules before its BatchNorm; inference: the downsample and act[shortcut]).
        shortcut_norm: the downsample BatchNorm folded into the node, or None (identity).
    """
    scale: bool
    main_norm: Optional[nn.Module]
    shortcut_head: List[nn.Module]
    shortcut_norm: Optional[nn.Module]


class GatedBottleneck(GatedResidualBlock):
    """Bottleneck block with configurable activations and attention.

    Args:
        in_channels, out_channels: block input and output channels (out = 4 · mid for
            groups == 1).
        stride: stride of the 3×3 conv (``style='pytorch'``) or of conv1 (``'caffe'``).
        dilation: dilation of the 3×3 conv.
        downsample: the shortcut module, or None for identity.
        groups, width_per_group, base_channels: ResNeXt width (groups == 1: plain ResNet).
        act_cfgs: position → activation config (positions in ``BLOCK_ACT_POSITIONS``;
            missing or None → identity). ``shortcut`` acts on a projection shortcut only (an
            identity shortcut gets no module and so no unused parameters).
        attention_cfg: config of a module built with ``channels=out_channels`` and applied
            after bn3 (and act[bn3]), before the residual add; None for none.
        merge_cfg: config of a module built with ``channels=out_channels`` and called as
            ``merge(main, shortcut)`` instead of ``main + shortcut`` (e.g.
            ``dict(type='DynamicCoupler')`` for IIEU-DC); None for the plain add.
        norm_cfg, conv_cfg: mmcv norm/conv configs.
        with_cp: gradient checkpointing of the residual branch (saves memory).

    Shape: (N, C_in, H, W) → (N, C_out, ⌈H/s⌉, ⌈W/s⌉) for any H, W.

    Raises:
        ValueError: bad style or position; an activation that needs the conv input (IIEU) at
            ``add``, or at ``shortcut`` with a shortcut module without a conv.
    """
    expansion = 4
    act_positions = BLOCK_ACT_POSITIONS
    relu_positions = ('bn1', 'bn2', 'add')

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
                 merge_cfg: Optional[dict] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 with_cp: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if style not in ('pytorch', 'caffe'):
            raise ValueError(f"GatedBottleneck: style must be 'pytorch' or 'caffe', got {style!r}")
        act_cfgs = self._check_positions(act_cfgs)
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
        self.act1 = build_optional_act(act_cfgs.get('bn1'), mid)
        self.act2 = build_optional_act(act_cfgs.get('bn2'), mid)
        self.act3 = build_optional_act(act_cfgs.get('bn3'), out_channels)
        self._build_tail(out_channels, downsample, act_cfgs, attention_cfg, merge_cfg)

    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    @property
    def norm2(self):
        return getattr(self, self.norm2_name)

    @property
    def norm3(self):
        return getattr(self, self.norm3_name)

    @property
    def last_conv(self):
        return self.conv3

    def _main_units(self) -> List[tuple]:
        return [(self, 'conv1', self.norm1_name, self.act1),
                (self, 'conv2', self.norm2_name, self.act2),
                (self, 'conv3', self.norm3_name, self.act3)]

    @property
    def last_norm(self):
        return self.norm3

    @property
    def last_act(self):
        return self.act3

    def _main_body(self, x: Tensor) -> Tensor:
        out = conv_norm_act(x, self.conv1, self.norm1, self.act1)
        return conv_norm_act(out, self.conv2, self.norm2, self.act2)
