r"""Re-balancing classification losses for long-tailed recognition (mmpretrain ``MODELS``).

Notation: logits ``z`` (N, C), labels ``y`` (N,), training images per class ``n_c`` (from the
training annotations through :func:`gated_mm.datasets.class_counts_from`, computed on first
use), class priors ``π_c = n_c / Σ_j n_j``.

* :class:`BalancedSoftmaxLoss`: Ren et al., "Balanced Meta-Softmax for Long-Tailed Visual
  Recognition", NeurIPS 2020, Eq. 4::

      L = −log( n_y e^{z_y} / Σ_j n_j e^{z_j} ) = CE(z + log n, y)

* :class:`LogitAdjustedLoss`: Menon et al., "Long-tail learning via logit adjustment",
  ICLR 2021, Eq. 10::

      L = −log( e^{z_y + τ log π_y} / Σ_j e^{z_j + τ log π_j} ) = CE(z + τ log π, y)

  (τ = 1 is Balanced Softmax), and :class:`PosthocLogitAdjustment` (same paper, Eq. 9), the
  test-time rule ``argmax_c z_c − τ log π_c`` for a model trained with plain CE.
* :class:`LDAMLoss`: Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware
  Margin Loss", NeurIPS 2019, Eq. 13 and Alg. 1 (deferred re-weighting, DRW)::

      Δ_c = m_max · n_c^{−1/4} / max_j n_j^{−1/4}
      L = −w_y log( e^{s(z_y − Δ_y)} / (e^{s(z_y − Δ_y)} + Σ_{j≠y} e^{s z_j}) )

  with the mean taken as ``Σ_i w_{y_i} L_i / Σ_i w_{y_i}`` (PyTorch weighted cross-entropy,
  as the public code ``kaidic/LDAM-DRW``); ``w = 1`` before epoch ``drw_epoch`` and the
  class-balanced weights below (β = 0.9999) from it on.
* :class:`ClassBalancedLoss`: Cui et al., "Class-Balanced Loss Based on Effective Number of
  Samples", CVPR 2019, Eq. 3-5::

      E_c = (1 − β^{n_c}) / (1 − β),   w_c = C · (1/E_c) / Σ_j (1/E_j)
      L = w_y · ℓ(z, y),   ℓ = CE  or  softmax focal  −(1 − p_y)^γ log p_y

  (batch mean of the weighted per-sample losses). The paper's focal variant is the sigmoid
  (one-vs-all) focal loss; here the softmax form is used so that the classifier stays a
  softmax classifier and evaluation (accuracy, calibration) is unchanged.

Every loss takes mmpretrain's loss call ``loss(cls_score, label, weight=None,
avg_factor=None, reduction_override=None)`` with integer labels (N,) and returns a scalar
(``reduction='mean'``/``'sum'``) or (N,) (``'none'``) times ``loss_weight``. Counts are cast
to the logits' dtype and device; the log-count shifts are computed in float32 at least, so
the losses stay finite under bf16 autocast.

Raises (every loss): ``ValueError`` for not exactly one count source (at build), counts whose
length differs from the logits' C or a class with 0 training images (at first use), labels
that are not (N,) integer class indices.
"""
import math
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import MODELS as ROOT_MODELS
from torch import Tensor, nn

from mmpretrain.registry import MODELS
from ...datasets.class_counts import class_counts_from

__all__ = ['BalancedSoftmaxLoss', 'LogitAdjustedLoss', 'PosthocLogitAdjustment', 'LDAMLoss',
           'ClassBalancedLoss', 'effective_number_weights']


def effective_number_weights(class_counts, beta: float) -> Tensor:
    """Class-balanced weights of Cui et al. (CVPR 2019, Eq. 3-4), float64, shape (C,).

    ``w_c = C · (1/E_c) / Σ_j (1/E_j)`` with ``E_c = (1 − β^{n_c}) / (1 − β)``; ``β = 0``
    gives uniform weights, ``β → 1`` inverse class frequency.

    Raises:
        ValueError: ``β`` outside [0, 1), or a class with ``n_c = 0``.
    """
    if not 0 <= beta < 1:
        raise ValueError(f'effective_number_weights: beta must be in [0, 1), got {beta}')
    n = torch.as_tensor(np.asarray(class_counts), dtype=torch.float64)
    if (n <= 0).any():
        raise ValueError(f'effective_number_weights: every class needs >= 1 training image, '
                         f'got counts {n.long().tolist()}')
    eff = -torch.expm1(n * math.log(beta)) / (1 - beta) if beta > 0 else torch.ones_like(n)
    w = 1.0 / eff
    return w * len(n) / w.sum()


class _CountsMixin(nn.Module):
    """Training class counts, read once on first use (building a model reads no data)."""

    def _init_counts(self, owner, train_ann_file, train_dataset, class_counts, num_classes):
        n_src = sum(v is not None for v in (train_ann_file, train_dataset, class_counts))
        if n_src != 1:
            raise ValueError(f'{owner} needs exactly one of train_ann_file, train_dataset, '
                             f'class_counts (got {n_src})')
        self._owner = owner
        self._sources = dict(train_ann_file=train_ann_file, train_dataset=train_dataset,
                             class_counts=class_counts)
        self.num_classes = num_classes
        self._counts = None

    def counts(self, num_logits: int) -> Tensor:
        """``n_c`` as float64 (C,), checked against the logits' number of classes."""
        if self._counts is None:
            counts = class_counts_from(**self._sources, num_classes=self.num_classes,
                                       owner=self._owner)
            if (counts <= 0).any():
                zero = np.flatnonzero(counts <= 0).tolist()
                raise ValueError(f'{self._owner}: class(es) {zero[:10]} have 0 training '
                                 f'images; every class needs >= 1 (check num_classes / the '
                                 f'training annotations)')
            self._counts = torch.as_tensor(counts, dtype=torch.float64)
        if self._counts.numel() != num_logits:
            src = next(k for k, v in self._sources.items() if v is not None)
            raise ValueError(f'{self._owner}: logits have {num_logits} classes but there are '
                             f'{self._counts.numel()} class counts from {src}')
        return self._counts


def _check_label(owner: str, cls_score: Tensor, label: Tensor) -> Tensor:
    if cls_score.dim() != 2:
        raise ValueError(f'{owner}: cls_score must be (N, C), got {tuple(cls_score.shape)}')
    label = label.reshape(-1) if label.dim() > 1 and label.shape[-1] == 1 else label
    if label.dim() != 1 or label.shape[0] != cls_score.shape[0] or label.is_floating_point():
        raise ValueError(f'{owner}: label must be (N,) integer class indices matching '
                         f'cls_score {tuple(cls_score.shape)}, got {tuple(label.shape)} '
                         f'{label.dtype} (one-hot / mixed labels are not supported)')
    return label.long()


def _reduce(loss: Tensor, weight: Optional[Tensor], reduction: str,
            avg_factor: Optional[float]) -> Tensor:
    if weight is not None:
        loss = loss * weight.reshape(-1).to(loss.dtype)
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    return loss.sum() / avg_factor if avg_factor is not None else loss.mean()


class _ShiftedCE(_CountsMixin):
    """``CE(z + τ log n, y)``: the shared form of Balanced Softmax and the LA loss."""

    def __init__(self, owner, tau, train_ann_file, train_dataset, class_counts, num_classes,
                 reduction, loss_weight):
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"{owner}: reduction must be 'none', 'mean' or 'sum', got "
                             f'{reduction!r}')
        self._init_counts(owner, train_ann_file, train_dataset, class_counts, num_classes)
        self.tau, self.reduction, self.loss_weight = float(tau), reduction, float(loss_weight)

    def shifted(self, cls_score: Tensor) -> Tensor:
        log_prior = torch.log(self.counts(cls_score.shape[1]))
        log_prior = log_prior - torch.logsumexp(log_prior, 0)  # log π (shift-free in CE)
        dtype = torch.promote_types(cls_score.dtype, torch.float32)
        return cls_score.to(dtype) + self.tau * log_prior.to(cls_score.device, dtype)

    def forward(self, cls_score: Tensor, label: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None, reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        label = _check_label(self._owner, cls_score, label)
        loss = F.cross_entropy(self.shifted(cls_score), label, reduction='none')
        return self.loss_weight * _reduce(loss, weight, reduction_override or self.reduction,
                                          avg_factor)


@MODELS.register_module()
class BalancedSoftmaxLoss(_ShiftedCE):
    r"""Balanced Softmax (Ren et al., NeurIPS 2020, Eq. 4): ``CE(z + log n, y)``.

    ``L = −log( n_y e^{z_y} / Σ_j n_j e^{z_j} )``; trained with it, the plain ``argmax z`` is
    the balanced (uniform-prior) prediction.

    Args:
        train_ann_file, train_dataset, class_counts: training counts, exactly one
            (:func:`~gated_mm.datasets.class_counts_from`).
        num_classes: expected number of classes (counts zero-padded / checked).
        reduction: 'mean' (default), 'sum' or 'none'.
        loss_weight: multiplier. Defaults to 1.

    Shape: cls_score (N, C), label (N,) → scalar or (N,).

    Example:
        >>> loss = dict(type='BalancedSoftmaxLoss',
        ...             train_ann_file='data/imagenet/ImageNet_LT_train.txt')
    """

    def __init__(self, train_ann_file: Optional[str] = None, train_dataset=None,
                 class_counts: Optional[Sequence[int]] = None,
                 num_classes: Optional[int] = None, reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__('BalancedSoftmaxLoss', 1.0, train_ann_file, train_dataset,
                         class_counts, num_classes, reduction, loss_weight)


@MODELS.register_module()
class LogitAdjustedLoss(_ShiftedCE):
    r"""Logit-adjusted softmax cross-entropy (Menon et al., ICLR 2021, Eq. 10).

    ``L = CE(z + τ log π, y)``, ``π_c = n_c / Σ n``; τ = 1 (the paper's default) equals
    :class:`BalancedSoftmaxLoss`.

    Args:
        tau: τ >= 0. Defaults to 1.
        train_ann_file, train_dataset, class_counts, num_classes, reduction, loss_weight: as
            :class:`BalancedSoftmaxLoss`.

    Raises:
        ValueError: τ < 0, and as the module docstring.
    """

    def __init__(self, tau: float = 1.0, train_ann_file: Optional[str] = None,
                 train_dataset=None, class_counts: Optional[Sequence[int]] = None,
                 num_classes: Optional[int] = None, reduction: str = 'mean',
                 loss_weight: float = 1.0):
        if not tau >= 0:
            raise ValueError(f'LogitAdjustedLoss: tau must be >= 0, got {tau}')
        super().__init__('LogitAdjustedLoss', tau, train_ann_file, train_dataset, class_counts,
                         num_classes, reduction, loss_weight)


@ROOT_MODELS.register_module()
class PosthocLogitAdjustment(_CountsMixin):
    r"""Post-hoc logit adjustment (Menon et al., ICLR 2021, Eq. 9): ``z' = z − τ log π``.

    A ``logit_adjust`` module for :class:`~gated_mm.models.heads.CosineClsHead`,
    :class:`~gated_mm.models.heads.TauNormClsHead` or :class:`~gated_mm.models.heads.LWSClsHead`
    (applied in ``predict`` only, to a model trained with plain CE).

    Args:
        tau: τ >= 0 (1 is the Bayes-optimal rule for the balanced error). Defaults to 1.
        train_ann_file, train_dataset, class_counts, num_classes: training counts, exactly
            one (:func:`~gated_mm.datasets.class_counts_from`).

    Shape: (N, C) → (N, C), the logits' dtype.
    """

    def __init__(self, tau: float = 1.0, train_ann_file: Optional[str] = None,
                 train_dataset=None, class_counts: Optional[Sequence[int]] = None,
                 num_classes: Optional[int] = None):
        super().__init__()
        if not tau >= 0:
            raise ValueError(f'PosthocLogitAdjustment: tau must be >= 0, got {tau}')
        self.tau = float(tau)
        self._init_counts('PosthocLogitAdjustment', train_ann_file, train_dataset,
                          class_counts, num_classes)

    def forward(self, logits: Tensor) -> Tensor:
        if logits.dim() != 2:
            raise ValueError(f'PosthocLogitAdjustment: logits must be (N, C), got '
                             f'{tuple(logits.shape)}')
        log_prior = torch.log(self.counts(logits.shape[1]))
        log_prior = log_prior - torch.logsumexp(log_prior, 0)
        return logits - (self.tau * log_prior).to(logits.device, logits.dtype)

    def extra_repr(self) -> str:
        return f'tau={self.tau:g}'


@MODELS.register_module()
class LDAMLoss(_CountsMixin):
    r"""LDAM loss with optional deferred re-weighting (Cao et al., NeurIPS 2019, Eq. 13, Alg. 1).

    ``Δ_c = m_max · n_c^{−1/4} / max_j n_j^{−1/4}``; the true-class logit is reduced by
    ``Δ_y``, all logits scaled by ``s``, and the (weighted) cross-entropy taken:
    ``Σ_i w_{y_i} L_i / Σ_i w_{y_i}``. DRW: ``w = 1`` for epochs ``< drw_epoch``, the
    effective-number weights (β = ``drw_beta``, Cui et al. 2019) from ``drw_epoch`` on. The
    epoch is set by :class:`~gated_mm.engine.SetEpochHook` (``set_epoch``).

    The paper pairs LDAM with a cosine classifier (normalised features and weights, ``s``
    applied here): use ``CosineClsHead(scale=1, squash=False)`` with ``scale=30``, the public
    code's CIFAR setting, or a linear head with ``scale=1``.

    Args:
        max_margin: m_max, the largest margin. Defaults to 0.5 (paper).
        scale: s. Defaults to 30 (public code).
        drw_epoch: first epoch (0-based) of re-weighting; None: never (plain LDAM).
        drw_beta: β of the DRW weights. Defaults to 0.9999 (paper).
        train_ann_file, train_dataset, class_counts, num_classes, loss_weight: as
            :class:`BalancedSoftmaxLoss`.
        reduction: 'mean' (weighted mean, default), 'sum' or 'none' (per-sample ``w_y L``).

    Shape: cls_score (N, C), label (N,) → scalar or (N,).
    """

    def __init__(self, max_margin: float = 0.5, scale: float = 30.0,
                 drw_epoch: Optional[int] = None, drw_beta: float = 0.9999,
                 train_ann_file: Optional[str] = None, train_dataset=None,
                 class_counts: Optional[Sequence[int]] = None,
                 num_classes: Optional[int] = None, reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        if not max_margin > 0 or not scale > 0:
            raise ValueError(f'LDAMLoss: max_margin and scale must be > 0, got {max_margin}, '
                             f'{scale}')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"LDAMLoss: reduction must be 'none', 'mean' or 'sum', got "
                             f'{reduction!r}')
        if drw_epoch is not None and drw_epoch < 0:
            raise ValueError(f'LDAMLoss: drw_epoch must be >= 0 or None, got {drw_epoch}')
        if not 0 <= drw_beta < 1:
            raise ValueError(f'LDAMLoss: drw_beta must be in [0, 1), got {drw_beta}')
        self._init_counts('LDAMLoss', train_ann_file, train_dataset, class_counts, num_classes)
        self.max_margin, self.scale = float(max_margin), float(scale)
        self.drw_epoch, self.drw_beta = drw_epoch, float(drw_beta)
        self.reduction, self.loss_weight = reduction, float(loss_weight)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Current (0-based) training epoch, for DRW."""
        self.epoch = int(epoch)

    def margins(self, num_classes: int) -> Tensor:
        """Δ (float64, (C,))."""
        m = self.counts(num_classes).pow(-0.25)
        return m * (self.max_margin / m.max())

    def class_weights(self, num_classes: int) -> Optional[Tensor]:
        """DRW weights (float64, (C,)) at the current epoch, None before ``drw_epoch``."""
        if self.drw_epoch is None or self.epoch < self.drw_epoch:
            return None
        return effective_number_weights(self.counts(num_classes), self.drw_beta)

    def forward(self, cls_score: Tensor, label: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None, reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        label = _check_label('LDAMLoss', cls_score, label)
        num_classes = cls_score.shape[1]
        dtype = torch.promote_types(cls_score.dtype, torch.float32)
        delta = self.margins(num_classes).to(cls_score.device, dtype)
        z = cls_score.to(dtype)
        z = z - F.one_hot(label, num_classes).to(dtype) * delta[label].unsqueeze(1)
        cw = self.class_weights(num_classes)
        cw = None if cw is None else cw.to(cls_score.device, dtype)
        loss = F.cross_entropy(self.scale * z, label, reduction='none')
        w = cw[label] if cw is not None else torch.ones_like(loss)
        if weight is not None:
            w = w * weight.reshape(-1).to(dtype)
        reduction = reduction_override or self.reduction
        if reduction == 'none':
            out = loss * w
        elif reduction == 'sum':
            out = (loss * w).sum()
        else:
            out = (loss * w).sum() / w.sum()
        return self.loss_weight * out

    def extra_repr(self) -> str:
        return (f'max_margin={self.max_margin:g}, scale={self.scale:g}, '
                f'drw_epoch={self.drw_epoch}, drw_beta={self.drw_beta:g}')


@MODELS.register_module()
class ClassBalancedLoss(_CountsMixin):
    r"""Class-balanced loss by the effective number of samples (Cui et al., CVPR 2019).

    ``L_i = w_{y_i} ℓ(z_i, y_i)`` with ``w`` from :func:`effective_number_weights` and ``ℓ``
    softmax cross-entropy (``loss_type='ce'``) or softmax focal loss
    ``−(1 − p_y)^γ log p_y`` (``'focal'``, Lin et al., ICCV 2017, in softmax form), averaged
    over the batch.

    Args:
        beta: β in [0, 1). Defaults to 0.999 (the paper's large-scale ImageNet /
            iNaturalist setting).
        loss_type: 'ce' or 'focal'. Defaults to 'ce'.
        gamma: focal γ >= 0. Defaults to 0.5 (the paper's large-scale setting).
        train_ann_file, train_dataset, class_counts, num_classes, reduction, loss_weight: as
            :class:`BalancedSoftmaxLoss`.
    """

    def __init__(self, beta: float = 0.999, loss_type: str = 'ce', gamma: float = 0.5,
                 train_ann_file: Optional[str] = None, train_dataset=None,
                 class_counts: Optional[Sequence[int]] = None,
                 num_classes: Optional[int] = None, reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        if not 0 <= beta < 1:
            raise ValueError(f'ClassBalancedLoss: beta must be in [0, 1), got {beta}')
        if loss_type not in ('ce', 'focal'):
            raise ValueError(f"ClassBalancedLoss: loss_type must be 'ce' or 'focal', got "
                             f'{loss_type!r}')
        if not gamma >= 0:
            raise ValueError(f'ClassBalancedLoss: gamma must be >= 0, got {gamma}')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"ClassBalancedLoss: reduction must be 'none', 'mean' or 'sum', "
                             f'got {reduction!r}')
        self._init_counts('ClassBalancedLoss', train_ann_file, train_dataset, class_counts,
                          num_classes)
        self.beta, self.loss_type, self.gamma = float(beta), loss_type, float(gamma)
        self.reduction, self.loss_weight = reduction, float(loss_weight)

    def forward(self, cls_score: Tensor, label: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None, reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        label = _check_label('ClassBalancedLoss', cls_score, label)
        dtype = torch.promote_types(cls_score.dtype, torch.float32)
        cw = effective_number_weights(self.counts(cls_score.shape[1]), self.beta)
        logp = F.log_softmax(cls_score.to(dtype), dim=1).gather(1, label[:, None])[:, 0]
        loss = -logp
        if self.loss_type == 'focal':
            loss = loss * (-torch.expm1(logp)).clamp_min(0).pow(self.gamma)
        loss = loss * cw.to(cls_score.device, dtype)[label]
        return self.loss_weight * _reduce(loss, weight, reduction_override or self.reduction,
                                          avg_factor)

    def extra_repr(self) -> str:
        return f'beta={self.beta:g}, loss_type={self.loss_type!r}, gamma={self.gamma:g}'
