r"""Squeeze-and-Excitation with a configurable gate (Sigmoid, APA, or any registered module).

Hu et al., "Squeeze-and-Excitation Networks" (CVPR 2018), and the APA variant of
Alexandridis et al., "Adaptive Parametric Activation" (ECCV 2024, Sec. 3.3)::

    y = GAP(x)                                   (N, C)
    y = LayerNorm_C(y)                           (APA variant only: ``layer_norm=True``)
    y = W2 · act(W1 · y)                         W1: C → C/r, W2: C/r → C
    y = Dropout(y)                               (APA variant only: ``dropout=0.1``)
    out = x · gate(y)[..., None, None]           (N, C, H, W)

``style`` picks the layout, defined once in :attr:`GatedSE.STYLES`: 'original' is the plain
Sigmoid SE; 'apa' is the APA paper's SE (public code github.com/kostas1515/AGLU,
``classification/resnet_pytorch.py``, ``SE_Block`` with ``use_gumbel=True``): LayerNorm(C) on
the pooled vector, Dropout(0.1) after the no-bias MLP, APA gate with κ ~ U(−1, 0), λ ~ U(0, 1).
Explicit arguments override the style. The APA paper's SE-ResNets use r = 16 (ImageNet,
detection; r = 4 on CIFAR).
"""
import copy
from typing import Optional

import torch
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch import Tensor, nn


STYLES = ('original', 'apa')


def resolve_style(name: str, styles: dict, style: str, **args) -> dict:
    """``styles[style]`` updated with the arguments that are not None (the block's one
    definition of each style). Raises ValueError for an unknown style."""
    if style not in styles:
        raise ValueError(f'{name}: style must be one of {tuple(styles)}, got {style!r}')
    out = copy.deepcopy(styles[style])
    out.update({k: v for k, v in args.items() if v is not None})
    return out


@MODELS.register_module()
class GatedSE(BaseModule):
    """SE block whose excitation gate is configurable.

    Args:
        channels: C, the number of input (and output) channels.
        ratio: reduction r; the hidden width is max(C // r, 1).
        style: 'original' (Sigmoid SE) or 'apa' (the APA paper's SE); see :attr:`STYLES`.
            The arguments below left at None take the style's value.
        gate_cfg: config of the gate, e.g. ``dict(type='Sigmoid')`` or ``dict(type='APA')``.
        act_cfg: activation between the two linear layers.
        layer_norm: apply LayerNorm(C) to the pooled vector (APA variant).
        dropout: dropout probability after the second linear layer (APA variant: 0.1).
        bias: bias in the two linear layers (False in the APA public code).
        init_cfg: mmengine init config.

    Shape: input (N, C, H, W), any H, W ≥ 1; output the same shape and dtype.

    ``provides_scale = True``: the block is ``x * scale(x)`` with a broadcastable
    (N, C, 1, 1) :meth:`scale`, which a caller may use to fuse the multiply.

    Raises:
        ValueError: ``channels`` or ``ratio`` < 1, or an input whose dim 1 is not C.
    """

    provides_scale = True
    #: the public APA code's gate for SE (``Unified``: κ ~ U(−1, 0), λ ~ U(0, 1))
    APA_GATE = dict(type='APA', kappa_init=(-1.0, 0.0), lambda_init=(0.0, 1.0))
    #: the one definition of each layout (``style``)
    STYLES = {
        'original': dict(gate_cfg=dict(type='Sigmoid'), layer_norm=False, dropout=0.0),
        'apa': dict(gate_cfg=APA_GATE, layer_norm=True, dropout=0.1),
    }

    def __init__(self,
                 channels: int,
                 ratio: int = 16,
                 style: str = 'original',
                 gate_cfg: Optional[dict] = None,
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 layer_norm: Optional[bool] = None,
                 dropout: Optional[float] = None,
                 bias: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if channels < 1 or ratio < 1:
            raise ValueError(f'GatedSE: channels and ratio must be >= 1, got channels={channels},'
                             f' ratio={ratio}')
        args = resolve_style('GatedSE', self.STYLES, style, gate_cfg=gate_cfg,
                             layer_norm=layer_norm, dropout=dropout)
        gate_cfg, layer_norm, dropout = args['gate_cfg'], args['layer_norm'], args['dropout']
        hidden = max(channels // ratio, 1)
        self.channels, self.style = channels, style
        self.norm = nn.LayerNorm(channels) if layer_norm else nn.Identity()
        self.fc1 = nn.Linear(channels, hidden, bias=bias)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden, channels, bias=bias)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.gate = build_activation_layer(gate_cfg)

    @classmethod
    def apa_variant(cls, channels: int, ratio: int = 16, **kwargs) -> 'GatedSE':
        """Shorthand for ``GatedSE(channels, ratio, style='apa', **kwargs)``."""
        return cls(channels, ratio, style='apa', **kwargs)

    def scale(self, x: Tensor) -> Tensor:
        """The excitation s = gate(...(GAP(x))) as (N, C, 1, 1), so ``forward(x) == x * s``.

        Lets a caller fuse the multiply with what follows (the gated bottleneck fuses
        ``act(x · s + shortcut)``, :func:`~gated_mm.models.activations.residual_act.residual_act`).
        Nothing on this path keeps a tensor of x's size for backward (the mean keeps none;
        LayerNorm, the MLP, Dropout's mask and the gate keep (N, C)-sized tensors).
        """
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f'GatedSE: expected input (N, {self.channels}, H, W), '
                             f'got shape {tuple(x.shape)}')
        y = torch.mean(x, dim=(2, 3))
        y = self.dropout(self.fc2(self.act(self.fc1(self.norm(y)))))
        return self.gate(y)[:, :, None, None]

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale(x)
