r"""Federated Loss (Zhou et al., "Probabilistic two-stage detection", arXiv:2103.07461;
public code ``xingyizhou/CenterNet2``,
``projects/CenterNet2/centernet/modeling/roi_heads/custom_fast_rcnn.py``
(``sigmoid_cross_entropy_loss``, ``use_fed_loss``) and ``facebookresearch/Detic``,
``detic/modeling/utils.py`` (``get_fed_loss_inds``)).

A sigmoid cross-entropy over a per-batch subset S of the classes: the classes of the batch's
RoI labels, topped up to ``num_sample_cats`` classes drawn without replacement with
probability ∝ w_c = n_c^β (n_c training images of class c, β = ``freq_weight``)::

    A = unique(labels)                  (the background label C included when present)
    S = A                                                   if |A| ≥ K
    S = A ∪ multinomial(p, K − |A|, no replacement)         otherwise,
        p_c ∝ w_c for c ∉ A, p_c = 0 for c ∈ A and for the background

(as in the public code the background label takes one of the K slots when the batch has
background RoIs; only the foreground classes of S enter the loss)

    L = 1/B · Σ_{i=1..B} Σ_{c ∈ S} BCE(σ(z_ic), y_ic),     y_ic = [label_i = c]

with B the number of RoIs (mmdet's ``avg_factor``; the public code divides by the rows).
When fewer than K − |A| classes have a non-zero weight (e.g. K > C), all of them are taken
(the public code's ``torch.multinomial`` would raise).
Scores at test time: σ(z_ic) for every class (no background logit).

Deviations from the public code: C classifier outputs (the public code has C + 1 and never
uses the last one in the loss); the background index is never sampled (Detic sets its
probability to 0; CenterNet2 leaves it at 1 but it only matters in a batch without
background RoIs, where it would take one of the K slots); per-RoI weights ``weight``
(mmdet's ``label_weights``, all 1 with the RoI sampler) multiply the rows.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..registry import register_in_scopes
from .frequency import (check_count_source, check_roi_inputs, needs_counts,
                        training_image_counts)


def federated_classes(labels: Tensor, num_classes: int, num_sample_cats: int,
                      class_weight: Optional[Tensor] = None,
                      generator: Optional[torch.Generator] = None) -> Tensor:
    """Indices (int64, 1-D) of the foreground classes of S, whose terms the loss keeps
    (module docstring).

    Args:
        labels: (N,) RoI labels in [0, C], C = background.
        num_classes: C.
        num_sample_cats: K, classes per batch.
        class_weight: (C,) sampling weights w_c (None: uniform).
        generator: optional CPU ``torch.Generator`` for the draw (default: the global CPU
            generator; the draw is made on the CPU whatever the labels' device).
    """
    appeared = torch.unique(labels.cpu())  # drawn on the CPU: the same draw on any device
    if appeared.numel() < num_sample_cats:
        prob = torch.ones(num_classes, dtype=torch.float32)
        if class_weight is not None:
            prob = class_weight.detach().to(device='cpu', dtype=torch.float32).clone()
        prob[appeared[appeared < num_classes]] = 0
        n_draw = min(num_sample_cats - appeared.numel(), int((prob > 0).sum()))
        if n_draw > 0:
            extra = torch.multinomial(prob, n_draw, replacement=False, generator=generator)
            appeared = torch.cat([appeared, extra])
    return appeared[appeared < num_classes].to(labels.device)


@register_in_scopes(('mmdet', ))
class FederatedLoss(nn.Module):
    """Federated Loss as mmdet ``loss_cls`` of a ``BBoxHead`` (sigmoid-style, C outputs).

    Args:
        num_classes: C (1203 for LVIS v1).
        num_sample_cats: K, classes per batch (public LVIS recipe: 50).
        freq_weight: β of the sampling weight n_c^β (public recipe: 0.5).
        freq_file: LVIS training annotation or category file (per-class ``image_count``);
            or ``image_count``: C numbers.
        use_sigmoid: must be True (mmdet convention).
        reduction: 'mean' (Σ / avg_factor), 'sum' or 'none' ((N, C), zeros outside S).
        loss_weight: multiplier.

    Shapes: ``cls_score`` (N, C) logits, ``label`` (N,) in [0, C], ``weight`` (N,) or None.

    Raises:
        ValueError: ``use_sigmoid=False``, K < 1, β < 0, counts of the wrong length, not
            exactly one count source, or inputs of the wrong shape / range.
        FileNotFoundError: ``freq_file`` missing at the first training step (a missing file is
            tolerated at build time; a checkpoint restores ``class_weight``).
    """

    def __init__(self,
                 num_classes: int,
                 num_sample_cats: int = 50,
                 freq_weight: float = 0.5,
                 freq_file: Optional[str] = None,
                 image_count: Optional[Sequence[float]] = None,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        name = type(self).__name__
        if not use_sigmoid:
            raise ValueError(f'{name}: use_sigmoid=False is not supported (a sigmoid loss with '
                             f'C outputs)')
        if int(num_sample_cats) < 1 or freq_weight < 0:
            raise ValueError(f'{name}: num_sample_cats must be >= 1 and freq_weight >= 0, got '
                             f'{num_sample_cats}, {freq_weight}')
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got "
                             f'{reduction!r}')
        ready = check_count_source(name, freq_file, image_count)
        self.num_classes, self.num_sample_cats = int(num_classes), int(num_sample_cats)
        self.freq_weight, self.reduction, self.loss_weight = float(freq_weight), reduction, \
            float(loss_weight)
        self.freq_file, self._image_count = freq_file, image_count
        self.use_sigmoid = True
        self.register_buffer('class_weight', torch.full((self.num_classes, ), float('nan')))
        if ready:
            self.load_counts()
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True

    def load_counts(self):
        """Fill ``class_weight`` = n_c ** freq_weight from the count source."""
        counts, _ = training_image_counts(type(self).__name__, self.num_classes, self.freq_file,
                                          self._image_count)
        self.class_weight.copy_((counts ** self.freq_weight).to(self.class_weight))

    def get_cls_channels(self, num_classes: int) -> int:
        """C classifier outputs (no background logit)."""
        if num_classes != self.num_classes:
            raise ValueError(f'{type(self).__name__}: bbox_head.num_classes={num_classes} but '
                             f'loss_cls.num_classes={self.num_classes}; set both to the same '
                             f'value')
        return num_classes

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """(N, C) logits → (N, C + 1): σ(z) and a zero background column."""
        scores = cls_score.sigmoid()
        return torch.cat([scores, scores.new_zeros(scores.size(0), 1)], dim=1)

    def get_accuracy(self, cls_score: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """Top-1 accuracy (%) over the foreground RoIs (``acc_fg``)."""
        from mmdet.models.losses import accuracy
        fg = labels < self.num_classes
        return dict(acc_fg=accuracy(cls_score[fg], labels[fg]))

    def forward(self, cls_score: Tensor, label: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None, reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        check_roi_inputs(type(self).__name__, cls_score, label, self.num_classes,
                         self.num_classes)
        if needs_counts(self.class_weight):
            self.load_counts()
        reduction = reduction_override or self.reduction
        n = cls_score.size(0)
        target = cls_score.new_zeros(n, self.num_classes + 1)
        target[torch.arange(n, device=label.device), label] = 1
        target = target[:, :self.num_classes]
        keep = cls_score.new_zeros(self.num_classes)
        keep[federated_classes(label, self.num_classes, self.num_sample_cats,
                               self.class_weight)] = 1
        loss = F.binary_cross_entropy_with_logits(cls_score, target, reduction='none')
        loss = loss * keep[None, :]
        if weight is not None:
            loss = loss * weight.to(loss.dtype).reshape(-1, 1)
        if reduction == 'none':
            return self.loss_weight * loss
        loss = loss.sum()
        if reduction == 'mean':
            loss = loss / (avg_factor if avg_factor is not None else max(n, 1))
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, num_sample_cats={self.num_sample_cats}, '
                f'freq_weight={self.freq_weight}')
