r"""Decoupled classifiers for long-tailed recognition (Kang et al., ICLR 2020).

Kang et al., "Decoupling Representation and Classifier for Long-Tailed Recognition", ICLR
2020 (public code ``facebookresearch/classifier-balancing``), Sec. 4, on a first-stage
model trained with instance-balanced sampling:

* τ-normalisation (Eq. 3), no training::

      z_c = w̃_c · x,   w̃_c = w_c / ‖w_c‖^τ     (the bias is dropped, as in the public code)

* LWS, learnable weight scaling: ``z_c = f_c (w_c · x + b_c)``, only ``f`` (init 1) is
  learned, with class-balanced sampling; ``w`` and ``b`` stay frozen.
* cRT (classifier re-training) needs no new head: a fresh ``LinearClsHead`` on the frozen
  backbone, trained with class-balanced sampling (see ``configs/*/*_crt_*.py``).

Both heads keep ``LinearClsHead``'s parameter names (``fc.weight``, ``fc.bias``), so they
load a first-stage checkpoint directly (``load_from``); LWS adds ``scales`` (C,). Both
accept a ``logit_adjust`` module applied in ``predict`` only (e.g.
:class:`~gated_mm.models.losses.PosthocLogitAdjustment`).

Shapes: features (N, in_channels) (last of the neck's tuple) → logits (N, num_classes).
"""
from typing import List, Optional, Tuple

import torch
from mmengine.registry import MODELS as ROOT_MODELS
from torch import Tensor, nn

from mmpretrain.models.heads import LinearClsHead
from mmpretrain.structures import DataSample
from ..registry import register_in_scopes

__all__ = ['AdjustedLinearClsHead', 'TauNormClsHead', 'LWSClsHead']


@register_in_scopes(('mmpretrain', ))
class AdjustedLinearClsHead(LinearClsHead):
    """``LinearClsHead`` with a ``logit_adjust`` module applied in ``predict`` only.

    E.g. post-hoc logit adjustment (:class:`~gated_mm.models.losses.PosthocLogitAdjustment`)
    on a plain linear classifier; parameters as ``LinearClsHead`` (loads its checkpoints).

    Args:
        logit_adjust: module config (built in mmengine's root ``MODELS``), or None.
        *args, **kwargs: ``LinearClsHead`` arguments.
    """

    def __init__(self, *args, logit_adjust: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.logit_adjust = None if logit_adjust is None else ROOT_MODELS.build(logit_adjust)

    def predict(self, feats: Tuple[Tensor],
                data_samples: Optional[List[Optional[DataSample]]] = None) -> List[DataSample]:
        """Softmax scores and labels of the (adjusted, if ``logit_adjust``) logits."""
        cls_score = self(feats)
        if self.logit_adjust is not None:
            cls_score = self.logit_adjust(cls_score)
        return self._get_predictions(cls_score, data_samples)


@register_in_scopes(('mmpretrain', ))
class TauNormClsHead(AdjustedLinearClsHead):
    r"""τ-normalised linear classifier (Kang et al., ICLR 2020, Eq. 3): ``z_c = w_c·x/‖w_c‖^τ``.

    Args:
        num_classes, in_channels: as ``LinearClsHead``.
        tau: τ in [0, 1] (0: the plain classifier without bias; 1: cosine-like, unit norms).
            Kang et al. pick τ on a validation set; 0.7 is their ImageNet-LT choice (public
            code).
        logit_adjust: optional module config applied to the logits in ``predict``.
        **kwargs: ``LinearClsHead`` arguments (loss, topk, init_cfg).

    Raises:
        ValueError: τ < 0.
    """

    def __init__(self, num_classes: int, in_channels: int, tau: float = 0.7, **kwargs):
        super().__init__(num_classes=num_classes, in_channels=in_channels, **kwargs)
        if not tau >= 0:
            raise ValueError(f'TauNormClsHead: tau must be >= 0, got {tau}')
        self.tau = float(tau)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        x = self.pre_logits(feats)
        w = self.fc.weight
        norm = torch.linalg.vector_norm(w, dim=1, keepdim=True).clamp_min(1e-12)
        return x @ (w / norm.pow(self.tau)).t()

    def extra_repr(self) -> str:
        return f'tau={self.tau:g}'


@register_in_scopes(('mmpretrain', ))
class LWSClsHead(AdjustedLinearClsHead):
    r"""Learnable weight scaling (Kang et al., ICLR 2020, Sec. 4): ``z_c = f_c (w_c·x + b_c)``.

    ``fc`` is frozen (``requires_grad=False``); only ``scales`` = f (C,), initialised to 1,
    is trained.

    Args:
        num_classes, in_channels, logit_adjust, **kwargs: as :class:`TauNormClsHead`.
    """

    def __init__(self, num_classes: int, in_channels: int, **kwargs):
        super().__init__(num_classes=num_classes, in_channels=in_channels, **kwargs)
        self.scales = nn.Parameter(torch.ones(num_classes))
        for p in self.fc.parameters():
            p.requires_grad_(False)

    def init_weights(self):
        super().init_weights()
        with torch.no_grad():
            self.scales.fill_(1.0)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        return self.fc(self.pre_logits(feats)) * self.scales
