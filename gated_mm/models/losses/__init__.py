"""Losses: GOL / DropLoss, Federated Loss, ECM and IIF for detection (mmdet ``MODELS``) and the
long-tailed re-balancing losses."""
from .gol import (GOL_INIT_BIAS, GOL_PRESETS, GOLLoss, GumbelDropLoss, check_gol_loss_cfg,
                  gol_loss, gumbel_log1m_cdf, gumbel_scores, resolve_gol_preset)

from .ecm import ECMLoss, ecm_margins_and_weights
from .eqlv2_head import EQLV2HeadLoss
from .federated import FederatedLoss, federated_classes
from .iif_detection import IIFDetLoss
from .rebalancing import (BalancedSoftmaxLoss, ClassBalancedLoss, LDAMLoss,
                          LogitAdjustedLoss, PosthocLogitAdjustment, effective_number_weights)

__all__ = ['GOL_INIT_BIAS', 'GOL_PRESETS', 'GOLLoss', 'GumbelDropLoss', 'check_gol_loss_cfg',
           'gol_loss', 'gumbel_log1m_cdf', 'gumbel_scores', 'resolve_gol_preset',
           'BalancedSoftmaxLoss', 'ClassBalancedLoss', 'LDAMLoss', 'LogitAdjustedLoss',
           'PosthocLogitAdjustment', 'effective_number_weights',
           'ECMLoss', 'ecm_margins_and_weights', 'FederatedLoss', 'federated_classes',
           'IIFDetLoss', 'EQLV2HeadLoss']
