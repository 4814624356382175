r"""mmdet/mmcv ``plugins`` wrappers: the attention blocks with an ``in_channels`` constructor.

mmdet's ``ResNet``/``ResNeXt`` build each plugin with mmcv's ``build_plugin_layer(cfg,
in_channels=...)`` and name it after the class's ``_abbr_``. Position ``after_conv3`` is after
norm3 and before the residual add, where SE, CBAM and GE sit. Example (mmdet config)::

    backbone=dict(type='ResNet', depth=50, plugins=[
        dict(cfg=dict(type='CBAMPlugin', style='apa'),
             stages=(True, True, True, True), position='after_conv3')])

    # or any factory name: dict(type='GatedAttentionPlugin', name='ge-theta-', gate='apa')

GE-θ/θ⁺ with the global extent need one plugin entry per stage (``feat_size`` 56/28/14/7 at
224×224 inputs; other sizes are resampled, see :class:`GatherExcite`).
"""
from typing import Union

from mmengine.registry import MODELS
from torch import Tensor, nn

from .cbam import CBAM
from .factory import build_gated_attention
from .ge import GatherExcite
from .se import GatedSE


@MODELS.register_module()
class GatedSEPlugin(GatedSE):
    """:class:`GatedSE` as an mmdet plugin: ``GatedSEPlugin(in_channels, **kwargs)``."""
    _abbr_ = 'gated_se'

    def __init__(self, in_channels: int, **kwargs):
        super().__init__(channels=in_channels, **kwargs)


@MODELS.register_module()
class CBAMPlugin(CBAM):
    """:class:`CBAM` as an mmdet plugin: ``CBAMPlugin(in_channels, **kwargs)``."""
    _abbr_ = 'cbam'

    def __init__(self, in_channels: int, **kwargs):
        super().__init__(channels=in_channels, **kwargs)


@MODELS.register_module()
class GatherExcitePlugin(GatherExcite):
    """:class:`GatherExcite` as an mmdet plugin: ``GatherExcitePlugin(in_channels, **kw)``."""
    _abbr_ = 'gather_excite'

    def __init__(self, in_channels: int, **kwargs):
        super().__init__(channels=in_channels, **kwargs)


@MODELS.register_module()
class GatedAttentionPlugin(nn.Module):
    """Any factory block (``name``, ``gate``, ``style``; see :mod:`.factory`) as a plugin."""
    _abbr_ = 'gated_attention'

    def __init__(self, in_channels: int, name: str = 'se', gate: Union[None, str, dict] = None,
                 style: str = 'original', **overrides):
        super().__init__()
        self.block = build_gated_attention(in_channels, name, gate, style, **overrides)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)
