r"""Effective Class-Margin (ECM) loss (Hyun Cho and Krähenbühl, "Long-tail Detection with
Effective Class-Margins", ECCV 2022, arXiv:2301.09724; public code
``janghyuncho/ECM-Loss``, ``mmdet/models/losses/effective_class_margin_loss.py`` and
``ecm_utils.py``).

C + 1 sigmoid logits z (the last one is the background). With n_c the training images of
class c, n_{C+1} = ρ · Σ_{c ≤ C} n_c the background count (ρ = ``fg_bg_ratio``, the public
code's empirical 6.3313 for Mask R-CNN on LVIS), N = Σ_{c ≤ C+1} n_c and the negative count
n̄_c = N − n_c, the effective class-margins (Theorem 2) enter the binary terms as::

    m⁺_c = log((n_c^¼ + n̄_c^¼) / n̄_c^¼),     m⁻_c = log((n_c^¼ + n̄_c^¼) / n_c^¼)

    p⁺_ic = e^{z_ic + m⁺_c} / (e^{z_ic + m⁺_c} + e^{−z_ic + m⁻_c}) = σ(2 z_ic + m⁺_c − m⁻_c)
    ℓ_ic = − y_ic log p⁺_ic − (1 − y_ic) log(1 − p⁺_ic)

and the loss weighs each class by w_c = a_c log((1 + a_c) / a_c), a_c = n̄_c / n_c::

    L = 1/B · Σ_i Σ_{c ≤ C+1} w_c ℓ_ic

(m⁺_c − m⁻_c = ¼ log(n_c / n̄_c); computed as softplus of ∓(2z + m⁺ − m⁻), finite for every
finite z). Test-time scores (public ``get_activation``): σ(z_ic) · (1 − σ(z_i,C+1)) for the
C classes, σ(z_i,C+1) for the background column.

Deviations from the public code: the counts come from the LVIS training file (or
``image_count``) instead of a pickled list; per-RoI ``weight`` multiplies the rows and the
sum is divided by mmdet's ``avg_factor`` (the RoI count with the RoI sampler, as the public
code's B). The public code forms ``exp`` of the logits (overflows in float32 for
z ≳ 88); this one does not.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..registry import register_in_scopes
from .frequency import (check_count_source, check_roi_inputs, needs_counts,
                        training_image_counts)

#: Background-to-foreground RoI ratio of the public code (Mask R-CNN on LVIS v1).
ECM_FG_BG_RATIO = 6.3313


def ecm_margins_and_weights(image_count: Tensor, fg_bg_ratio: float = ECM_FG_BG_RATIO):
    """``(m⁺ − m⁻, w)``, each (C + 1,) float64, from the C foreground image counts."""
    n = image_count.to(torch.float64)
    n = torch.cat([n, n.sum().reshape(1) * fg_bg_ratio])
    neg = n.sum() - n
    a = neg / n
    return 0.25 * torch.log(n / neg), a * torch.log1p(1 / a)


@register_in_scopes(('mmdet', ))
class ECMLoss(nn.Module):
    """ECM loss as mmdet ``loss_cls`` of a ``BBoxHead`` (C + 1 sigmoid outputs).

    Args:
        num_classes: C.
        freq_file: LVIS training annotation or category file (``image_count`` per class);
            or ``image_count``: C numbers (every one > 0).
        fg_bg_ratio: ρ, background count = ρ · Σ n_c (public code: 6.3313).
        use_sigmoid: must be True.
        reduction: 'mean' (Σ / avg_factor), 'sum' or 'none' ((N, C + 1)).
        loss_weight: multiplier.

    Shapes: ``cls_score`` (N, C + 1), ``label`` (N,) in [0, C], ``weight`` (N,) or None.

    Raises:
        ValueError: a class with 0 training images (its margin is infinite), ρ ≤ 0,
            ``use_sigmoid=False``, bad shapes / labels, not exactly one count source.
        FileNotFoundError: ``freq_file`` missing at the first training step (tolerated at
            build time; a checkpoint restores the buffers).
    """

    def __init__(self,
                 num_classes: int,
                 freq_file: Optional[str] = None,
                 image_count: Optional[Sequence[float]] = None,
                 fg_bg_ratio: float = ECM_FG_BG_RATIO,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        name = type(self).__name__
        if not use_sigmoid:
            raise ValueError(f'{name}: use_sigmoid=False is not supported (sigmoid loss with '
                             f'C + 1 outputs)')
        if not fg_bg_ratio > 0:
            raise ValueError(f'{name}: fg_bg_ratio must be > 0, got {fg_bg_ratio}')
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got "
                             f'{reduction!r}')
        ready = check_count_source(name, freq_file, image_count)
        self.num_classes, self.fg_bg_ratio = int(num_classes), float(fg_bg_ratio)
        self.reduction, self.loss_weight, self.use_sigmoid = reduction, float(loss_weight), True
        self.freq_file, self._image_count = freq_file, image_count
        nan = torch.full((self.num_classes + 1, ), float('nan'), dtype=torch.float64)
        self.register_buffer('margin', nan.clone())
        self.register_buffer('cls_weight', nan.clone())
        if ready:
            self.load_counts()
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True

    def load_counts(self):
        """Fill ``margin`` (m⁺ − m⁻) and ``cls_weight`` (w) from the count source."""
        name = type(self).__name__
        counts, _ = training_image_counts(name, self.num_classes, self.freq_file,
                                          self._image_count)
        zero = torch.nonzero(counts == 0).flatten().tolist()
        if zero:
            raise ValueError(f'{name}: class(es) {zero[:10]} have 0 training images: their '
                             f'margin is infinite; check freq_file / num_classes')
        margin, cls_weight = ecm_margins_and_weights(counts, self.fg_bg_ratio)
        self.margin.copy_(margin)
        self.cls_weight.copy_(cls_weight)

    def get_cls_channels(self, num_classes: int) -> int:
        """C + 1 outputs (the last is the background logit)."""
        if num_classes != self.num_classes:
            raise ValueError(f'{type(self).__name__}: bbox_head.num_classes={num_classes} but '
                             f'loss_cls.num_classes={self.num_classes}')
        return num_classes + 1

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """(N, C + 1) → (N, C + 1): σ(z_c)(1 − σ(z_bg)) and σ(z_bg)."""
        p = cls_score.sigmoid()
        return torch.cat([p[:, :-1] * (1 - p[:, -1:]), p[:, -1:]], dim=1)

    def get_accuracy(self, cls_score: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """``acc_fg``: top-1 (%) over the foreground RoIs of the C class logits."""
        from mmdet.models.losses import accuracy
        fg = labels < self.num_classes
        return dict(acc_fg=accuracy(cls_score[fg, :-1], labels[fg]))

    def forward(self, cls_score: Tensor, label: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None, reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        c1 = self.num_classes + 1
        check_roi_inputs(type(self).__name__, cls_score, label, self.num_classes, c1)
        if needs_counts(self.margin):
            self.load_counts()
        reduction = reduction_override or self.reduction
        n = cls_score.size(0)
        target = F.one_hot(label, c1).to(cls_score.dtype)
        x = 2 * cls_score + self.margin.to(cls_score.dtype)
        # −log σ(x) for positives, −log(1 − σ(x)) for negatives
        loss = F.softplus(torch.where(target > 0, -x, x))
        loss = loss * self.cls_weight.to(cls_score.dtype)
        if weight is not None:
            loss = loss * weight.to(loss.dtype).reshape(-1, 1)
        if reduction == 'none':
            return self.loss_weight * loss
        loss = loss.sum()
        if reduction == 'mean':
            loss = loss / (avg_factor if avg_factor is not None else max(n, 1))
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'num_classes={self.num_classes}, fg_bg_ratio={self.fg_bg_ratio}'
