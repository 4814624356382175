r"""Name → attention block factory, so configs can say ``name='cbam', gate='apa'``.

Names (``ATTENTION_BLOCKS``) and what they build:

===============  ===================================================  =====================
name             block                                                paper
===============  ===================================================  =====================
se               :class:`GatedSE`, r = 16                             Hu et al. 2018
cbam             :class:`CBAM`, channel then spatial                   Woo et al. 2018
cbam-channel     :class:`CBAM`, channel attention only
cbam-spatial     :class:`CBAM`, spatial attention only
ge-theta-        :class:`GatherExcite` GE-θ⁻ (global unless ``extent``) Hu et al. 2018 (GE)
ge-theta         :class:`GatherExcite` GE-θ (needs ``feat_size`` if global)
ge-theta+        :class:`GatherExcite` GE-θ⁺ (needs ``feat_size`` if global)
===============  ===================================================  =====================

``gate``: 'sigmoid', 'apa' (with the public APA code's inits for that block: κ ~ U(−1, 0) in SE,
κ ~ U(0, 1) in CBAM and GE, λ ~ U(0, 1)), or any gate config dict (any registered module).
``style``: 'original' (the block as its paper has it) or 'apa' (the APA paper's layout of SE
and CBAM: LayerNorm on the pooled vectors, Dropout(0.1); CBAM spatial BN weight 1). GE has no
'apa' style. Extra keyword arguments override the block's arguments.

Use from a config (registered as ``GatedAttention`` in mmengine's root ``MODELS``)::

    attention_cfg=dict(type='GatedAttention', name='cbam', gate='apa', style='apa')
"""
import copy
from typing import Union

from mmengine.registry import MODELS
from torch import nn

ATTENTION_BLOCKS = {
    'se': dict(type='GatedSE', ratio=16),
    'cbam': dict(type='CBAM', ratio=16, mode='both'),
    'cbam-channel': dict(type='CBAM', ratio=16, mode='channel'),
    'cbam-spatial': dict(type='CBAM', ratio=16, mode='spatial'),
    'ge-theta-': dict(type='GatherExcite', variant='theta-'),
    'ge-theta': dict(type='GatherExcite', variant='theta'),
    'ge-theta+': dict(type='GatherExcite', variant='theta+'),
}
STYLES = ('original', 'apa')
_APA_STYLE = {
    'GatedSE': dict(layer_norm=True, dropout=0.1),
    'CBAM': dict(layer_norm=True, dropout=0.1, spatial_norm_weight_init=1.0),
}
_APA_GATE = {  # public APA code inits per block
    'GatedSE': dict(type='APA', kappa_init=(-1.0, 0.0), lambda_init=(0.0, 1.0)),
    'CBAM': dict(type='APA', kappa_init=(0.0, 1.0), lambda_init=(0.0, 1.0)),
    'GatherExcite': dict(type='APA', kappa_init=(0.0, 1.0), lambda_init=(0.0, 1.0)),
}


def attention_cfg(name: str, gate: Union[str, dict] = 'sigmoid', style: str = 'original',
                  **overrides) -> dict:
    """The config dict of block ``name`` (without ``channels``); see the module docstring.

    Raises:
        ValueError: unknown name, gate or style (or style 'apa' for a GE block).
    """
    if name not in ATTENTION_BLOCKS:
        raise ValueError(f'GatedAttention: unknown name {name!r}; expected one of '
                         f'{sorted(ATTENTION_BLOCKS)}')
    if style not in STYLES:
        raise ValueError(f'GatedAttention: style must be one of {STYLES}, got {style!r}')
    cfg = copy.deepcopy(ATTENTION_BLOCKS[name])
    kind = cfg['type']
    if style == 'apa':
        if kind not in _APA_STYLE:
            raise ValueError(f"GatedAttention: style='apa' exists for se and cbam, not {name!r}")
        cfg.update(_APA_STYLE[kind])
    if isinstance(gate, dict):
        gate_cfg = copy.deepcopy(gate)
    elif gate == 'sigmoid':
        gate_cfg = dict(type='Sigmoid')
    elif gate == 'apa':
        gate_cfg = copy.deepcopy(_APA_GATE[kind])
    else:
        raise ValueError(f"GatedAttention: gate must be 'sigmoid', 'apa' or a config dict, got "
                         f'{gate!r}')
    cfg['gate_cfg'] = gate_cfg
    cfg.update(overrides)
    return cfg


def build_gated_attention(channels: int, name: str = 'se', gate: Union[str, dict] = 'sigmoid',
                          style: str = 'original', **overrides) -> nn.Module:
    """Build block ``name`` for ``channels`` channels (registered as ``GatedAttention``)."""
    return MODELS.build(dict(attention_cfg(name, gate, style, **overrides), channels=channels))


MODELS.register_module(name='GatedAttention', module=build_gated_attention)
