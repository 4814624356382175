r"""NorCal: post-hoc normalised calibration of a softmax detector's class scores (Pan et al.,
"On Model Calibration for Long-Tailed Object Detection and Instance Segmentation", NeurIPS
2021, arXiv:2107.02170; public code ``tydpan/NorCal``,
``projects/NorCal/norcal/roi_heads.py`` (``CalibrationFastRCNNOutputLayers.predict_probs``,
``method='gamma'``, ``calibrate_on='exps'``, ``renorm=True``)).

For a softmax classifier over C classes plus background (logit z_{C+1}) and n_c the training
images of class c, each foreground score is divided by n_c^γ, the background score is left
as it is, and the scores of each RoI are renormalised::

    s_ic = exp(z_ic) / n_c^γ  (c ≤ C),   s_i,C+1 = exp(z_i,C+1)
    p_ic = s_ic / Σ_k s_ik
         = softmax([z_i1 − γ log n_1, ..., z_iC − γ log n_C, z_i,C+1])_c

(computed in the second form: finite for every finite z). γ = 0 gives the plain softmax.
Only the test-time scores change; training is mmdet's softmax cross-entropy, so a model
trained with ``CrossEntropyLoss`` is calibrated by testing it with
``loss_cls=dict(type='NorCalCrossEntropyLoss', gamma=..., freq_file=...)`` (the counts are
a non-persistent buffer: the checkpoint loads unchanged).

Deviations from the public code: the counts come from the LVIS training file (or
``image_count``); the public code's other options (``calibrate_on`` logits / probs, the
class-balanced ``'cb'`` method, no renormalisation) are not provided.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..losses.frequency import check_count_source, needs_counts, training_image_counts
from ..registry import register_in_scopes


def norcal_scores(cls_score: Tensor, image_count: Tensor, gamma: float) -> Tensor:
    """NorCal probabilities (N, C + 1) of softmax logits ``cls_score`` (N, C + 1, background
    last) with per-class training image counts ``image_count`` (C,) > 0 (module docstring).
    """
    shift = gamma * torch.log(image_count.to(cls_score.dtype))
    shift = torch.cat([shift, shift.new_zeros(1)])
    return F.softmax(cls_score - shift, dim=-1)


try:
    from mmdet.models.losses import CrossEntropyLoss
except ImportError:  # pragma: no cover  (mmdet is optional for the rest of gated_mm)
    CrossEntropyLoss = None

if CrossEntropyLoss is not None:

    @register_in_scopes(('mmdet', ))
    class NorCalCrossEntropyLoss(CrossEntropyLoss):
        """mmdet's softmax ``CrossEntropyLoss`` (training unchanged) whose test-time scores
        are NorCal-calibrated (:func:`norcal_scores`), through mmdet ``BBoxHead``'s
        ``custom_cls_channels`` / ``get_activation`` hooks.

        Args:
            num_classes: C.
            gamma: γ ≥ 0 (the paper selects it per model; see the configs).
            freq_file: LVIS training annotation or category file (``image_count`` per
                class); or ``image_count``: C numbers > 0.
            **kwargs: mmdet ``CrossEntropyLoss`` arguments (``use_sigmoid`` must be False).

        Raises:
            ValueError: ``use_sigmoid=True``, γ < 0, a class with 0 training images, counts
                of the wrong length, not exactly one count source.
            FileNotFoundError: ``freq_file`` missing at test time (tolerated at build time).
        """

        def __init__(self, num_classes: int, gamma: float, freq_file: Optional[str] = None,
                     image_count: Optional[Sequence[float]] = None, **kwargs):
            name = type(self).__name__
            if kwargs.get('use_sigmoid', False):
                raise ValueError(f'{name}: NorCal calibrates a softmax classifier; '
                                 f'use_sigmoid must be False')
            if not gamma >= 0:
                raise ValueError(f'{name}: gamma must be >= 0, got {gamma}')
            super().__init__(**kwargs)
            ready = check_count_source(name, freq_file, image_count)
            self.num_classes, self.gamma = int(num_classes), float(gamma)
            self.freq_file, self._image_count = freq_file, image_count
            self.register_buffer('image_count', torch.full((self.num_classes, ), float('nan'),
                                                           dtype=torch.float64),
                                 persistent=False)
            self.custom_cls_channels = True
            if ready:
                self.load_counts()

        def load_counts(self):
            """Fill ``image_count`` (n_c) from the count source."""
            name = type(self).__name__
            counts, _ = training_image_counts(name, self.num_classes, self.freq_file,
                                              self._image_count)
            zero = torch.nonzero(counts == 0).flatten().tolist()
            if zero:
                raise ValueError(f'{name}: class(es) {zero[:10]} have 0 training images '
                                 f'(score / 0^γ); check freq_file / num_classes')
            self.image_count.copy_(counts)

        def get_cls_channels(self, num_classes: int) -> int:
            """C + 1 (softmax with the background last, as ``CrossEntropyLoss``)."""
            if num_classes != self.num_classes:
                raise ValueError(f'{type(self).__name__}: bbox_head.num_classes={num_classes} '
                                 f'but loss_cls.num_classes={self.num_classes}')
            return num_classes + 1

        def get_activation(self, cls_score: Tensor) -> Tensor:
            """(N, C + 1) logits → NorCal probabilities (N, C + 1)."""
            if needs_counts(self.image_count):
                self.load_counts()
            return norcal_scores(cls_score, self.image_count, self.gamma)
else:  # pragma: no cover
    NorCalCrossEntropyLoss = None
