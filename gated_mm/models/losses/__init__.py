"""Detection losses, registered in mmdet's ``MODELS``."""
from .gol import (GOL_PRESETS, GOLLoss, GumbelDropLoss, gol_loss, gumbel_log1m_cdf,
                  gumbel_scores, resolve_gol_preset)

__all__ = ['GOL_PRESETS', 'GOLLoss', 'GumbelDropLoss', 'gol_loss', 'gumbel_log1m_cdf',
           'gumbel_scores', 'resolve_gol_preset']
