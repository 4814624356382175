r"""Gather-Excite with a configurable gate (Hu et al., "Gather-Excite: Exploiting Feature
Context in Convolutional Neural Networks", NeurIPS 2018).

A gather ξ_G aggregates each channel over a spatial extent e (output ⌈H/e⌉ × ⌈W/e⌉; global
extent: 1 × 1), the excite redistributes it (paper Sec. 3)::

    y = x ⊙ gate(interp(f(ξ_G(x))))          interp: nearest upsampling to H × W

* GE-θ⁻ (``variant='theta-'``): parameter-free ξ_G = average pooling; f = identity.
  Global: GAP. Extent e: average pooling with window 2e − 1, stride e, padding e − 1,
  ``count_include_pad=False`` (output ⌈H/e⌉; timm's reading of the paper, ``pool='overlap'``)
  or non-overlapping e × e tiles with ``ceil_mode`` (``pool='tile'``).
* GE-θ (``'theta'``): ξ_G = depthwise convolutions + BN. Global: one depthwise conv whose
  kernel is the whole feature map (``feat_size``); extent e = 2^m: m depthwise 3×3/2 convs,
  each followed by BN, with the activation between them.
* GE-θ⁺ (``'theta+'``): GE-θ plus f = 1×1-conv MLP C → C/16 → C (with bias, ReLU).

Any input size: the global depthwise gather has a fixed kernel ``feat_size`` (56/28/14/7 for
the ResNet stages at 224×224). For another map size the map is first average-pooled
adaptively to ``feat_size`` (equal to the paper's operator when the size matches; at other
sizes the learned spatial weighting is applied to the resampled map). This is a deviation
needed for detection inputs; ``resize='error'`` raises instead.

Parameters added to a ResNet-50 (with its fc): θ⁻ none (25.6 M); θ ≈ 31.1 M; θ⁺ ≈ 33.6 M
(the paper's Table: 31.2 M and 33.7 M).
"""
import math
from typing import Optional, Sequence, Union

import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch import Tensor, nn

VARIANTS = ('theta-', 'theta', 'theta+')
_ALIASES = {'theta-minus': 'theta-', 'theta-plus': 'theta+', 'minus': 'theta-', 'plus': 'theta+',
            'θ⁻': 'theta-', 'θ': 'theta', 'θ⁺': 'theta+'}


def _size2(v) -> tuple:
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(i) for i in v)


@MODELS.register_module()
class GatherExcite(BaseModule):
    """Gather-Excite block GE-θ⁻ / GE-θ / GE-θ⁺ with a configurable gate.

    Args:
        channels: C, input and output channels.
        variant: 'theta-' (parameter-free), 'theta' (depthwise gather) or 'theta+' (plus MLP);
            aliases 'theta-minus', 'theta-plus'.
        extent: e; 0 for the global extent, else the gather's downsampling factor (a power of
            two ≥ 2 for 'theta'/'theta+', any int ≥ 2 for 'theta-').
        feat_size: map size (int or (H, W)) of the global depthwise gather (required for
            'theta'/'theta+' with extent 0).
        ratio: MLP reduction of 'theta+' (16).
        gate_cfg: excite gate (Sigmoid, APA, ...).
        act_cfg: activation of the MLP and between the strided convs.
        norm_cfg: norm after each gather conv (BN), or None.
        mlp_bias: bias in the MLP's 1×1 convs (True, as timm's ConvMlp).
        pool: 'overlap' or 'tile', the extent pooling of 'theta-' (see module docstring).
        resize: 'adaptive' (default) or 'error': what the global depthwise gather does with a
            map whose size is not ``feat_size``.
        init_cfg: mmengine init config.

    Shape: (N, C, H, W), any H, W ≥ 1 → the same shape and dtype.

    Raises:
        ValueError: bad arguments; an input whose dim 1 is not C; with ``resize='error'`` a
            map whose size is not ``feat_size``.
    """

    #: the gate of ``GatedAttention(name='ge-…', gate='apa')`` (APA with the CBAM inits)
    APA_GATE = dict(type='APA', kappa_init=(0.0, 1.0), lambda_init=(0.0, 1.0))

    def __init__(self,
                 channels: int,
                 variant: str = 'theta-',
                 extent: int = 0,
                 feat_size: Union[None, int, Sequence[int]] = None,
                 ratio: int = 16,
                 gate_cfg: dict = dict(type='Sigmoid'),
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 mlp_bias: bool = True,
                 pool: str = 'overlap',
                 resize: str = 'adaptive',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        variant = _ALIASES.get(variant, variant)
        if variant not in VARIANTS:
            raise ValueError(f'GatherExcite: variant must be one of {VARIANTS}, got {variant!r}')
        if not isinstance(channels, int) or channels < 1 or not isinstance(ratio, int) or \
                ratio < 1:
            raise ValueError(f'GatherExcite: channels and ratio must be positive ints, got '
                             f'channels={channels!r}, ratio={ratio!r}')
        if not isinstance(extent, int) or extent < 0 or extent == 1:
            raise ValueError(f'GatherExcite: extent must be 0 (global) or an int >= 2, got '
                             f'{extent!r}')
        if pool not in ('overlap', 'tile') or resize not in ('adaptive', 'error'):
            raise ValueError(f"GatherExcite: pool must be 'overlap' or 'tile' and resize "
                             f"'adaptive' or 'error', got {pool!r}, {resize!r}")
        self.channels, self.variant, self.extent = channels, variant, extent
        self.pool, self.resize = pool, resize
        self.feat_size = None
        self.gather = None
        if variant != 'theta-':
            layers = []
            if extent == 0:
                if feat_size is None:
                    raise ValueError(f'GatherExcite: variant {variant!r} with the global extent '
                                     f'needs feat_size (the map size, e.g. 56, 28, 14, 7 for the '
                                     f'ResNet stages at 224x224)')
                self.feat_size = _size2(feat_size)
                layers.append(nn.Conv2d(channels, channels, self.feat_size, groups=channels,
                                        bias=False))
                if norm_cfg is not None:
                    layers.append(build_norm_layer(dict(norm_cfg), channels)[1])
            else:
                num = int(round(math.log2(extent)))
                if 2**num != extent:
                    raise ValueError(f'GatherExcite: extent of {variant!r} must be a power of two '
                                     f'(strided 3x3/2 convs), got {extent}')
                for i in range(num):
                    layers.append(nn.Conv2d(channels, channels, 3, stride=2, padding=1,
                                            groups=channels, bias=False))
                    if norm_cfg is not None:
                        layers.append(build_norm_layer(dict(norm_cfg), channels)[1])
                    if i != num - 1:
                        layers.append(build_activation_layer(dict(act_cfg)))
            self.gather = nn.Sequential(*layers)
        self.mlp = None
        if variant == 'theta+':
            hidden = max(channels // ratio, 1)
            self.mlp = nn.Sequential(
                nn.Conv2d(channels, hidden, 1, bias=mlp_bias), build_activation_layer(
                    dict(act_cfg)), nn.Conv2d(hidden, channels, 1, bias=mlp_bias))
        self.gate = build_activation_layer(dict(gate_cfg))

    def gathered(self, x: Tensor) -> Tensor:
        """ξ_G(x) followed by the MLP of θ⁺: (N, C, ⌈H/e⌉, ⌈W/e⌉), or (N, C, 1, 1) global."""
        e = self.extent
        if self.gather is None:
            if e == 0:
                g = x.mean(dim=(2, 3), keepdim=True)
            elif self.pool == 'overlap':
                g = F.avg_pool2d(x, 2 * e - 1, stride=e, padding=e - 1, count_include_pad=False)
            else:
                g = F.avg_pool2d(x, e, stride=e, ceil_mode=True, count_include_pad=False)
        else:
            if e == 0 and tuple(x.shape[2:]) != self.feat_size:
                if self.resize == 'error':
                    raise ValueError(f'GatherExcite: input map {tuple(x.shape[2:])} is not '
                                     f'feat_size={self.feat_size}; set feat_size or '
                                     f"resize='adaptive'")
                x = F.adaptive_avg_pool2d(x, self.feat_size)
            g = self.gather(x)
        return g if self.mlp is None else self.mlp(g)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f'GatherExcite: expected input (N, {self.channels}, H, W), got '
                             f'shape {tuple(x.shape)}')
        g = self.gathered(x)
        if g.shape[2:] != (1, 1):
            g = F.interpolate(g, size=x.shape[2:], mode='nearest')
        return x * self.gate(g)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, variant={self.variant!r}, extent={self.extent}, '
                f'feat_size={self.feat_size}')
