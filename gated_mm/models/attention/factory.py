r"""``GatedAttention``: a thin, name-based alias of the attention block classes.

The config style of this project is the block class itself (``type='GatedSE'``,
``type='CBAM'``, ``type='GatherExcite'``, with ``style='apa'`` for the APA paper's layout).
``dict(type='GatedAttention', name=..., gate=..., style=...)`` is kept as a short alias for
sweeps and plugins; it holds no layout of its own: it only translates to the class config, whose
``STYLES`` / ``APA_GATE`` are the one definition of each variant (so the two spellings build the
same module, tested in ``tests/models/attention/test_factory.py``).

===============  ===================================================  =====================
name             class config                                         paper
===============  ===================================================  =====================
se               ``GatedSE``, r = 16                                  Hu et al. 2018
cbam             ``CBAM``, mode 'both' (channel then spatial)         Woo et al. 2018
cbam-channel     ``CBAM``, mode 'channel'
cbam-spatial     ``CBAM``, mode 'spatial'
ge-theta-        ``GatherExcite`` GE-θ⁻ (global unless ``extent``)    Hu et al. 2018 (GE)
ge-theta         ``GatherExcite`` GE-θ (needs ``feat_size`` if global)
ge-theta+        ``GatherExcite`` GE-θ⁺ (needs ``feat_size`` if global)
===============  ===================================================  =====================

``gate``: None (the style's gate), 'sigmoid', 'apa' (the class's ``APA_GATE``: κ ~ U(−1, 0) in
SE, κ ~ U(0, 1) in CBAM and GE, λ ~ U(0, 1)), or any gate config dict. ``style``: 'original' or
'apa' (SE and CBAM only). Extra keyword arguments are passed to the class. Example::

    attention_cfg=dict(type='GatedAttention', name='cbam', style='apa')
    # is the same module as
    attention_cfg=dict(type='CBAM', ratio=16, mode='both', style='apa')
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


def attention_cfg(name: str, gate: Union[None, str, dict] = None, style: str = 'original',
                  **overrides) -> dict:
    """The class config of block ``name`` (without ``channels``); see the module docstring.

    Raises:
        ValueError: unknown name, gate or style (or style 'apa' for a GE block).
    """
    if name not in ATTENTION_BLOCKS:
        raise ValueError(f'GatedAttention: unknown name {name!r}; expected one of '
                         f'{sorted(ATTENTION_BLOCKS)}')
    if style not in STYLES:
        raise ValueError(f'GatedAttention: style must be one of {STYLES}, got {style!r}')
    cfg = copy.deepcopy(ATTENTION_BLOCKS[name])
    cls = MODELS.get(cfg['type'])
    if hasattr(cls, 'STYLES'):
        cfg['style'] = style
    elif style != 'original':
        raise ValueError(f"GatedAttention: style='apa' exists for se and cbam, not {name!r}")
    if isinstance(gate, dict):
        cfg['gate_cfg'] = copy.deepcopy(gate)
    elif gate == 'sigmoid':
        cfg['gate_cfg'] = dict(type='Sigmoid')
    elif gate == 'apa':
        cfg['gate_cfg'] = copy.deepcopy(cls.APA_GATE)
    elif gate is not None:
        raise ValueError(f"GatedAttention: gate must be None, 'sigmoid', 'apa' or a config dict, "
                         f'got {gate!r}')
    cfg.update(overrides)
    return cfg


def build_gated_attention(channels: int, name: str = 'se', gate: Union[None, str, dict] = None,
                          style: str = 'original', **overrides) -> nn.Module:
    """Build block ``name`` for ``channels`` channels (registered as ``GatedAttention``)."""
    return MODELS.build(dict(attention_cfg(name, gate, style, **overrides), channels=channels))


MODELS.register_module(name='GatedAttention', module=build_gated_attention)

__all__ = ['ATTENTION_BLOCKS', 'STYLES', 'attention_cfg', 'build_gated_attention']
