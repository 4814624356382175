"""Attention blocks with a configurable gate, registered in mmengine's root ``MODELS``."""
from .cbam import CBAM
from .factory import ATTENTION_BLOCKS, attention_cfg, build_gated_attention
from .ge import GatherExcite
from .plugins import CBAMPlugin, GatedAttentionPlugin, GatedSEPlugin, GatherExcitePlugin
from .se import GatedSE

__all__ = [
    'GatedSE', 'CBAM', 'GatherExcite', 'ATTENTION_BLOCKS', 'attention_cfg',
    'build_gated_attention', 'GatedSEPlugin', 'CBAMPlugin', 'GatherExcitePlugin',
    'GatedAttentionPlugin'
]
