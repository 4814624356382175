"""Losses: GOL / DropLoss (mmdet ``MODELS``) and the long-tailed re-balancing losses."""
from .gol import (GOL_INIT_BIAS, GOL_PRESETS, GOLLoss, GumbelDropLoss, check_gol_loss_cfg,
                  gol_loss, gumbel_log1m_cdf, gumbel_scores, resolve_gol_preset)

from .rebalancing import (BalancedSoftmaxLoss, ClassBalancedLoss, LDAMLoss,
                          LogitAdjustedLoss, PosthocLogitAdjustment, effective_number_weights)

__all__ = ['GOL_INIT_BIAS', 'GOL_PRESETS', 'GOLLoss', 'GumbelDropLoss', 'check_gol_loss_cfg',
           'gol_loss', 'gumbel_log1m_cdf', 'gumbel_scores', 'resolve_gol_preset',
           'BalancedSoftmaxLoss', 'ClassBalancedLoss', 'LDAMLoss', 'LogitAdjustedLoss',
           'PosthocLogitAdjustment', 'effective_number_weights']
