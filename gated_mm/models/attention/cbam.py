r"""CBAM with configurable gates (Sigmoid, APA, or any registered module).

Woo et al., "CBAM: Convolutional Block Attention Module" (ECCV 2018), Eq. (2)-(3), and the
APA paper's variant (Alexandridis et al., "Adaptive Parametric Activation", ECCV 2024; public
code github.com/kostas1515/AGLU, ``classification/cbam.py``). Channel attention, then spatial::

    channel:  M_c = gate_c( Σ_{p ∈ pools} Drop(W2 · act(W1 · LN(p(x)) + b1) + b2) )   (N, C)
              x' = x ⊙ M_c                 pools: GAP and global max pooling, shared MLP
    spatial:  M_s = gate_s( BN(conv_7×7([max_C(x'); mean_C(x')])) )                   (N,1,H,W)
              y  = x' ⊙ M_s                conv 2 → 1 channels, padding 3, no bias

``style`` picks the layout, defined once in :attr:`CBAM.STYLES`:

* 'original' (Woo et al.): MLP with bias, no LayerNorm, no Dropout, Sigmoid gates, spatial BN
  (eps 1e-5, momentum 0.01) weight initialised to 0 (M_s = σ(0) = ½ at the start).
* 'apa' (public APA code, ``ChannelGate`` / ``SpatialGate`` / ``CBAM``): one LayerNorm(C)
  shared by the pooled vectors, Dropout(0.1) after the MLP of each pooled vector, APA gates
  with κ ~ U(0, 1), λ ~ U(0, 1) (λ floored at 1e-4 at use), spatial BN weight 1 (the public
  ResNet sets every BatchNorm weight to 1). The public code keeps this layout in its Sigmoid
  baseline too: ``style='apa', gate_cfg=dict(type='Sigmoid')``.

Explicit arguments override the style. Placed after bn3, before the residual add. Agreement
with the public code (float64 and float32, outputs and every gradient): ``docs/fidelity.md``.
Deviation: the hidden width is max(C // r, 1) (public C // r, an empty MLP for C < r).
"""
from typing import Optional, Sequence

import torch
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch import Tensor, nn

from .se import resolve_style

MODES = ('both', 'channel', 'spatial')
POOLS = ('avg', 'max')


@MODELS.register_module()
class CBAM(BaseModule):
    """Convolutional Block Attention Module with configurable gates.

    Args:
        channels: C, input and output channels.
        ratio: reduction r of the channel MLP; hidden width max(C // r, 1).
        mode: 'both' (channel then spatial), 'channel' or 'spatial'.
        style: 'original' (Woo et al.) or 'apa' (the public APA code); see :attr:`STYLES`.
            ``gate_cfg``, ``layer_norm``, ``dropout`` and ``spatial_norm_weight_init`` left at
            None take the style's value.
        gate_cfg: gate of the channel attention (e.g. ``dict(type='Sigmoid')``,
            ``dict(type='APA', kappa_init=(0.0, 1.0))``).
        spatial_gate_cfg: gate of the spatial attention; None → same config as ``gate_cfg``
            (its own module and parameters).
        pool_types: pooled descriptors of the channel attention, a subset of ('avg', 'max').
        layer_norm: LayerNorm(C) on each pooled vector (APA variant).
        dropout: Dropout probability after the MLP (APA variant: 0.1).
        bias: bias in the MLP (True in both public codes).
        act_cfg: activation inside the MLP.
        kernel_size: spatial conv kernel (7).
        norm_cfg: norm after the spatial conv (BN, eps 1e-5, momentum 0.01), or None.
        spatial_norm_weight_init: initial weight of that norm (0: original CBAM; 1: APA code).
        init_cfg: mmengine init config.

    Shape: (N, C, H, W), any H, W ≥ 1 → the same shape and dtype.

    Raises:
        ValueError: bad ``channels``/``ratio``/``mode``/``pool_types``/kernel, or an input whose
            dim 1 is not C.
    """

    #: the public APA code's gate for CBAM (``Unified`` in cbam.py: κ, λ ~ U(0, 1))
    APA_GATE = dict(type='APA', kappa_init=(0.0, 1.0), lambda_init=(0.0, 1.0))
    #: the one definition of each layout (``style``)
    STYLES = {
        'original': dict(gate_cfg=dict(type='Sigmoid'), layer_norm=False, dropout=0.0,
                         spatial_norm_weight_init=0.0),
        'apa': dict(gate_cfg=APA_GATE, layer_norm=True, dropout=0.1,
                    spatial_norm_weight_init=1.0),
    }

    def __init__(self,
                 channels: int,
                 ratio: int = 16,
                 mode: str = 'both',
                 style: str = 'original',
                 gate_cfg: Optional[dict] = None,
                 spatial_gate_cfg: Optional[dict] = None,
                 pool_types: Sequence[str] = ('avg', 'max'),
                 layer_norm: Optional[bool] = None,
                 dropout: Optional[float] = None,
                 bias: bool = True,
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 kernel_size: int = 7,
                 norm_cfg: Optional[dict] = dict(type='BN', eps=1e-5, momentum=0.01),
                 spatial_norm_weight_init: Optional[float] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        args = resolve_style('CBAM', self.STYLES, style, gate_cfg=gate_cfg,
                             layer_norm=layer_norm, dropout=dropout,
                             spatial_norm_weight_init=spatial_norm_weight_init)
        gate_cfg, layer_norm, dropout = args['gate_cfg'], args['layer_norm'], args['dropout']
        spatial_norm_weight_init = args['spatial_norm_weight_init']
        if not isinstance(channels, int) or channels < 1 or not isinstance(ratio, int) or \
                ratio < 1:
            raise ValueError(f'CBAM: channels and ratio must be positive ints, got channels='
                             f'{channels!r}, ratio={ratio!r}')
        if mode not in MODES:
            raise ValueError(f'CBAM: mode must be one of {MODES}, got {mode!r}')
        pool_types = tuple(pool_types)
        if not pool_types or set(pool_types) - set(POOLS):
            raise ValueError(f'CBAM: pool_types must be a non-empty subset of {POOLS}, got '
                             f'{pool_types}')
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'CBAM: kernel_size must be a positive odd int, got {kernel_size!r}')
        self.channels, self.mode, self.pool_types, self.style = channels, mode, pool_types, style
        self.spatial_norm_weight_init = spatial_norm_weight_init
        if mode in ('both', 'channel'):
            hidden = max(channels // ratio, 1)
            self.norm = nn.LayerNorm(channels) if layer_norm else nn.Identity()
            self.fc1 = nn.Linear(channels, hidden, bias=bias)
            self.act = build_activation_layer(dict(act_cfg))
            self.fc2 = nn.Linear(hidden, channels, bias=bias)
            self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
            self.channel_gate = build_activation_layer(dict(gate_cfg))
        if mode in ('both', 'spatial'):
            self.spatial_conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
            if norm_cfg is None:
                self.spatial_norm = nn.Identity()
            else:
                self.spatial_norm = build_norm_layer(dict(norm_cfg), 1)[1]
            self._init_spatial_norm()
            self.spatial_gate = build_activation_layer(
                dict(gate_cfg if spatial_gate_cfg is None else spatial_gate_cfg))

    @classmethod
    def apa_variant(cls, channels: int, ratio: int = 16, **kwargs) -> 'CBAM':
        """Shorthand for ``CBAM(channels, ratio, style='apa', **kwargs)``."""
        return cls(channels, ratio, style='apa', **kwargs)

    def _init_spatial_norm(self):
        weight = getattr(self.spatial_norm, 'weight', None)
        if isinstance(weight, nn.Parameter):
            nn.init.constant_(weight, self.spatial_norm_weight_init)

    def init_weights(self):
        # after the parent's init (e.g. the backbone's Constant(1) for every _BatchNorm)
        super().init_weights()
        if self.mode in ('both', 'spatial'):
            self._init_spatial_norm()

    def channel_attention(self, x: Tensor) -> Tensor:
        """M_c: (N, C, H, W) → (N, C) gate values."""
        total = 0
        for pool in self.pool_types:
            p = x.mean(dim=(2, 3)) if pool == 'avg' else x.amax(dim=(2, 3))
            total = total + self.dropout(self.fc2(self.act(self.fc1(self.norm(p)))))
        return self.channel_gate(total)

    def spatial_attention(self, x: Tensor) -> Tensor:
        """M_s: (N, C, H, W) → (N, 1, H, W) gate values."""
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return self.spatial_gate(self.spatial_norm(self.spatial_conv(pooled)))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f'CBAM: expected input (N, {self.channels}, H, W), got shape '
                             f'{tuple(x.shape)}')
        if self.mode in ('both', 'channel'):
            x = x * self.channel_attention(x)[:, :, None, None]
        if self.mode in ('both', 'spatial'):
            x = x * self.spatial_attention(x)
        return x
