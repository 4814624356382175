r"""IIF for detection: softmax cross-entropy on Inverse-Image-Frequency-weighted logits
(Alexandridis et al., "Inverse Image Frequency for Long-tailed Image Recognition", IEEE TIP
2023, arXiv:2209.04861, instance-segmentation experiments; public code ``kostas1515/iif``,
``instance_segmentation/mmdet/models/losses/iif_loss.py`` (``IIFLoss``) and the weight table
``instance_segmentation/lvis_files/idf_1204.csv``).

The classifier has C + 1 logits z (background last). With w_c the IIF weight of class c
(:func:`gated_mm.models.heads.iif.iif_weights` of the training image counts n_c with
N = the number of training images, e.g. ``raw``: w_c = log(N / n_c)) and w_{C+1} = 1 for the
background, training and test use the element-wise product w ⊙ z::

    L = 1/B · Σ_i −log softmax(w ⊙ z_i)_{y_i}            (mmdet ``cross_entropy``)
    scores_i = softmax(w ⊙ z_i)                           (C + 1 columns, background last)

(the classification code of the same paper *adds* w at test time instead:
:class:`gated_mm.models.heads.IIF`; the detection code multiplies, in training and test).
The public weight table for LVIS v1 equals :func:`iif_weights` with N = 100,170 (the
training images), e.g. ``raw`` 7.3557 and ``smooth`` 8.3402 for a class in 64 images.

Deviations from the public code: the weights are computed from the training file (or
``image_count`` + ``num_images``) instead of read from the CSV, and kept as a buffer (no
hard-coded CUDA device).
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..heads.iif import IIF_VARIANTS, iif_weights
from ..registry import register_in_scopes
from .frequency import (check_count_source, check_roi_inputs, needs_counts,
                        training_image_counts)


@register_in_scopes(('mmdet', ))
class IIFDetLoss(nn.Module):
    """IIF loss as mmdet ``loss_cls`` of a ``BBoxHead`` (softmax, C + 1 outputs).

    Args:
        num_classes: C.
        variant: IIF variant (:data:`~gated_mm.models.heads.iif.IIF_VARIANTS`; the public
            detection configs use ``'raw'``).
        freq_file: LVIS training annotation or category file (``image_count`` per class and
            the number of training images); or ``image_count`` + ``num_images``.
        use_sigmoid: must be False.
        reduction: 'mean' (Σ / avg_factor), 'sum' or 'none' ((N,)).
        loss_weight: multiplier.

    Shapes: ``cls_score`` (N, C + 1), ``label`` (N,) in [0, C], ``weight`` (N,) or None.

    Raises:
        ValueError: unknown variant, ``use_sigmoid=True``, counts of the wrong length, no
            ``num_images``, a class with 0 images for a variant where its weight is infinite,
            bad shapes / labels.
        FileNotFoundError: ``freq_file`` missing at first use (tolerated at build time; a
            checkpoint restores ``iif_weight``).
    """

    def __init__(self,
                 num_classes: int,
                 variant: str = 'raw',
                 freq_file: Optional[str] = None,
                 image_count: Optional[Sequence[float]] = None,
                 num_images: Optional[int] = None,
                 use_sigmoid: bool = False,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        name = type(self).__name__
        if use_sigmoid:
            raise ValueError(f'{name}: use_sigmoid=True is not supported (softmax over C + 1)')
        if variant not in IIF_VARIANTS:
            raise ValueError(f'{name}: unknown variant {variant!r}; expected one of '
                             f'{IIF_VARIANTS}')
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got "
                             f'{reduction!r}')
        ready = check_count_source(name, freq_file, image_count)
        if image_count is not None and num_images is None:
            raise ValueError(f'{name}: image_count needs num_images (training images)')
        self.num_classes, self.variant = int(num_classes), variant
        self.reduction, self.loss_weight, self.use_sigmoid = reduction, float(loss_weight), \
            False
        self.freq_file, self._image_count, self._num_images = freq_file, image_count, num_images
        self.register_buffer('iif_weight', torch.full((self.num_classes + 1, ), float('nan'),
                                                      dtype=torch.float64))
        if ready:
            self.load_counts()
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True

    def load_counts(self):
        """Fill ``iif_weight`` (C IIF weights, then 1 for the background)."""
        counts, n_img = training_image_counts(type(self).__name__, self.num_classes,
                                              self.freq_file, self._image_count,
                                              self._num_images)
        w = iif_weights(counts, self.variant, num_images=n_img)
        self.iif_weight.copy_(torch.cat([w, w.new_ones(1)]))

    def _weight(self, cls_score: Tensor) -> Tensor:
        if needs_counts(self.iif_weight):
            self.load_counts()
        return self.iif_weight.to(cls_score.dtype)

    def get_cls_channels(self, num_classes: int) -> int:
        """C + 1 outputs (background last)."""
        if num_classes != self.num_classes:
            raise ValueError(f'{type(self).__name__}: bbox_head.num_classes={num_classes} but '
                             f'loss_cls.num_classes={self.num_classes}')
        return num_classes + 1

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """(N, C + 1) → softmax(w ⊙ z)."""
        return F.softmax(cls_score * self._weight(cls_score), dim=-1)

    def get_accuracy(self, cls_score: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """``acc``: top-1 (%) of w ⊙ z over all RoIs (the public code's ``acc_classes``)."""
        from mmdet.models.losses import accuracy
        return dict(acc=accuracy(cls_score * self._weight(cls_score), labels))

    def forward(self, cls_score: Tensor, label: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None, reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        check_roi_inputs(type(self).__name__, cls_score, label, self.num_classes,
                         self.num_classes + 1)
        reduction = reduction_override or self.reduction
        loss = F.cross_entropy(cls_score * self._weight(cls_score), label,
                               reduction='none')
        if weight is not None:
            loss = loss * weight.to(loss.dtype)
        if reduction == 'none':
            return self.loss_weight * loss
        loss = loss.sum()
        if reduction == 'mean':
            loss = loss / (avg_factor if avg_factor is not None else max(cls_score.size(0), 1))
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'num_classes={self.num_classes}, variant={self.variant!r}'
