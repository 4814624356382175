r"""IIF: post-hoc logit adjustment by Inverse Image Frequency at test time.

Alexandridis et al., "Inverse Image Frequency for Long-tailed Image Recognition" (IEEE TIP
2023, arXiv:2209.04861, public code ``kostas1515/iif``) and the APA paper's classification
recipe (Alexandridis et al., "Adaptive Parametric Activation", ECCV 2024, arXiv:2407.08567;
public code ``kostas1515/AGLU``, ``classification/custom.py``, ``IIFLoss``; see
``docs/methods.md``, "ImageNet-LT recipe"). With ``n_c`` the
number of *training* images of class ``c``, ``N = Σ_c n_c`` and ``p_c = n_c / N``, the
per-class weights ``w_c`` of each variant are::

    raw     log(N / n_c)
    smooth  log((N + 1) / (n_c + 1)) + 1
    rel     log((N − n_c) / n_c)
    normit  −Φ⁻¹(p_c)                       (Φ⁻¹: standard normal quantile)
    gombit  −log(−log(1 − p_c))
    base2   log2(N / n_c)
    base10  log10(N / n_c)

optionally divided by their p-norm ``‖w‖_p`` (``norm_p > 0``, the IIF code's ``iif_norm``).
The adjusted logits are ``z'_c = z_c + w_c`` (``mode='add'``, the APA code) or
``z'_c = z_c · w_c`` (``mode='mul'``, the IIF code). The two public codes also disagree on the
default variant (APA: ``rel``, IIF: ``raw``), so neither is implied here: the variant is a
required config choice.

Only the prediction is adjusted; the training loss stays plain cross-entropy on the raw logits
(APA recipe). Counts must be in the label order the model predicts (re-index them together
with the labels, see :class:`~gated_mm.datasets.TxtListDataset` ``frequency_ann_file``).
"""
import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.registry import MODELS
from torch import Tensor, nn

from ...datasets.class_counts import class_counts_from

__all__ = ['IIF', 'iif_weights', 'IIF_VARIANTS']

#: Every IIF variant of the public codes (IIF and APA), see the module docstring.
IIF_VARIANTS = ('raw', 'smooth', 'rel', 'normit', 'gombit', 'base2', 'base10')


def iif_weights(class_counts: Union[Sequence[int], np.ndarray, Tensor],
                variant: str,
                norm_p: float = 0.,
                num_images: Optional[int] = None) -> Tensor:
    """Per-class IIF weights ``w`` (float64, shape ``(C,)``) from training counts.

    Args:
        class_counts: ``n_c``, training images per class, shape ``(C,)``, integers >= 0.
        variant: one of :data:`IIF_VARIANTS` (equations in the module docstring).
        norm_p: if > 0, return ``w / ‖w‖_p``. Defaults to 0 (no normalisation).
        num_images: ``N``, the number of training images, for multi-label data (detection:
            an image counts for every class it contains, so Σ_c n_c > N; the IIF detection
            code's weights use N = 100,170 for LVIS v1). Defaults to Σ_c n_c (one label
            per image, classification).

    Raises:
        ValueError: unknown variant; counts not a non-empty 1-D list of integers >= 0, or all
            zero; a class with ``n_c = 0`` for a variant where ``w_c`` is infinite (every
            variant except ``smooth``), or ``n_c = N`` for ``rel``/``normit``/``gombit``.
    """
    if variant not in IIF_VARIANTS:
        raise ValueError(f'IIF: unknown variant {variant!r}; expected one of {IIF_VARIANTS}')
    n = torch.as_tensor(np.asarray(class_counts), dtype=torch.float64)
    if (n.dim() != 1 or n.numel() == 0 or not torch.all(n == n.round()) or (n < 0).any()):
        raise ValueError(f'IIF: class_counts must be a non-empty list of integers >= 0, got '
                         f'{np.asarray(class_counts).tolist()!r}')
    total = n.sum() if num_images is None else torch.tensor(float(num_images), dtype=n.dtype)
    if n.sum() == 0:
        raise ValueError('IIF: all class counts are 0; pass the training counts')
    if num_images is not None and (n > total).any():
        raise ValueError(f'IIF: num_images={num_images} is smaller than a class count '
                         f'({int(n.max())})')
    if variant != 'smooth':
        zero = torch.nonzero(n == 0).flatten().tolist()
        if zero:
            raise ValueError(f'IIF: class(es) {zero[:10]}{"..." if len(zero) > 10 else ""} have '
                             f'0 training images, so the {variant!r} weight is infinite; use '
                             f"variant='smooth' or check the training annotations / num_classes")
    if variant in ('rel', 'normit', 'gombit') and (n == total).any():
        raise ValueError(f'IIF: variant {variant!r} is infinite when one class holds every '
                         f'training image (n_c = N = {int(total)})')
    p = n / total
    if variant == 'raw':
        w = torch.log(total / n)
    elif variant == 'smooth':
        w = torch.log((total + 1) / (n + 1)) + 1
    elif variant == 'rel':
        w = torch.log((total - n) / n)
    elif variant == 'normit':
        w = -torch.special.ndtri(p)
    elif variant == 'gombit':
        w = -torch.log(-torch.log1p(-p))
    elif variant == 'base2':
        w = torch.log2(total / n)
    else:  # base10
        w = torch.log10(total / n)
    if norm_p > 0:
        w = w / torch.linalg.vector_norm(w, ord=norm_p)
    return w


@MODELS.register_module()
class IIF(nn.Module):
    """IIF logit adjustment as a module: ``z' = z + w`` or ``z · w`` (see the module docstring).

    Built by a classification head from its ``logit_adjust`` config and applied to the logits
    in ``predict`` only (test time). The weights are computed lazily on first use from the
    training counts (so building a model does not read data), stored in a non-persistent
    buffer (never saved in or loaded from checkpoints: the configured variant always wins).

    Args:
        variant: one of :data:`IIF_VARIANTS` (required: the public codes disagree).
        mode: ``'add'`` (APA code, default) or ``'mul'`` (IIF code).
        norm_p: divide the weights by their p-norm if > 0 (IIF code ``iif_norm``).
        train_ann_file, train_dataset, class_counts: the training counts, exactly one
            (see :func:`class_counts_from`).
        num_classes: expected number of classes (counts are zero-padded / checked).

    Shape: logits (N, C) → (N, C), same dtype (weights cast to it).

    Raises:
        ValueError: unknown variant or mode, not exactly one count source (at build); counts
            whose length differs from the logits' C (at first use, message names the source).

    Example:
        >>> head = dict(type='CosineClsHead', num_classes=1000, in_channels=2048,
        ...             logit_adjust=dict(type='IIF', variant='rel',
        ...                               train_ann_file='data/imagenet/ImageNet_LT_train.txt'))
    """

    def __init__(self,
                 variant: str,
                 mode: str = 'add',
                 norm_p: float = 0.,
                 train_ann_file: Optional[str] = None,
                 train_dataset=None,
                 class_counts: Optional[Sequence[int]] = None,
                 num_classes: Optional[int] = None):
        super().__init__()
        if variant not in IIF_VARIANTS:
            raise ValueError(f'IIF: unknown variant {variant!r}; expected one of {IIF_VARIANTS}')
        if mode not in ('add', 'mul'):
            raise ValueError(f"IIF: mode must be 'add' (logits + w) or 'mul' (logits * w), "
                             f'got {mode!r}')
        n_src = sum(v is not None for v in (train_ann_file, train_dataset, class_counts))
        if n_src != 1:
            raise ValueError('IIF needs exactly one of train_ann_file, train_dataset, '
                             f'class_counts (got {n_src})')
        if norm_p < 0 or not math.isfinite(norm_p):
            raise ValueError(f'IIF: norm_p must be >= 0 (0: no normalisation), got {norm_p}')
        self.variant, self.mode, self.norm_p = variant, mode, float(norm_p)
        self.num_classes = num_classes
        self._sources = dict(train_ann_file=train_ann_file, train_dataset=train_dataset,
                             class_counts=class_counts)
        self.register_buffer('weight', torch.empty(0), persistent=False)

    def resolve(self) -> Tensor:
        """Compute (once) and return the weights, float32, shape (C,)."""
        if self.weight.numel() == 0:
            counts = class_counts_from(**self._sources, num_classes=self.num_classes,
                                       owner='IIF')
            w = iif_weights(counts, self.variant, self.norm_p).float()
            self.weight = w.to(self.weight.device)
        return self.weight

    def forward(self, logits: Tensor) -> Tensor:
        w = self.resolve()
        if logits.dim() != 2 or logits.shape[1] != w.numel():
            src = next(k for k, v in self._sources.items() if v is not None)
            raise ValueError(f'IIF: logits of shape {tuple(logits.shape)} but {w.numel()} class '
                             f'counts from {src}; the counts must cover every predicted class '
                             f'(set num_classes, or check the training annotations)')
        w = w.to(device=logits.device, dtype=logits.dtype)
        return logits + w if self.mode == 'add' else logits * w

    def extra_repr(self) -> str:
        return f'variant={self.variant!r}, mode={self.mode!r}, norm_p={self.norm_p:g}'
