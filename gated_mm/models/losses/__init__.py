"""Detection losses, registered in mmdet's ``MODELS``."""
from .gol import GOLLoss, GumbelDropLoss, gol_loss, gumbel_log1m_cdf, gumbel_scores

__all__ = ['GOLLoss', 'GumbelDropLoss', 'gol_loss', 'gumbel_log1m_cdf', 'gumbel_scores']
from .rebalancing import (BalancedSoftmaxLoss, ClassBalancedLoss, LDAMLoss,  # noqa: F401,E402
                          LogitAdjustedLoss, PosthocLogitAdjustment, effective_number_weights)
