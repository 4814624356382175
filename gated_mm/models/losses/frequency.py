"""Per-class training image counts for the long-tailed detection losses and calibrations
(Federated Loss, ECM, IIF, NorCal): from an LVIS training annotation / category file or
given explicitly.

The modules keep what they derive from the counts in buffers filled with NaN at build time
when ``freq_file`` does not exist yet (a config must build without the data; a checkpoint
restores persistent buffers), and read the file at their first use
(:func:`needs_counts`)."""
import os.path as osp
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor


def training_image_counts(owner: str,
                          num_classes: int,
                          freq_file: Optional[str] = None,
                          image_count: Optional[Sequence[float]] = None,
                          num_images: Optional[int] = None) -> Tuple[Tensor, Optional[int]]:
    """``(n, N)``: images per class ``n`` (float64, shape ``(num_classes,)``, category file
    order = mmdet's label order) and the number of training images ``N``.

    Exactly one source: ``freq_file`` (LVIS training annotation or category file, read by
    :func:`gated_mm.datasets.lvis_convert.load_category_frequency`) or ``image_count``
    (``num_images`` optional, None if not given).

    Raises:
        ValueError: both or neither source, a count list of the wrong length, or a
            negative count (message names ``owner`` and the source).
        FileNotFoundError: ``freq_file`` does not exist.
    """
    if (freq_file is None) == (image_count is None):
        raise ValueError(f'{owner}: give exactly one of freq_file (LVIS training annotation or '
                         f'category file) or image_count')
    if freq_file is not None:
        from gated_mm.datasets.lvis_convert import load_category_frequency
        try:
            counts, num_images = load_category_frequency(freq_file)
        except FileNotFoundError:
            raise FileNotFoundError(f'{owner}: freq_file {freq_file} not found; set it to the '
                                    f'LVIS training annotation (or category) file') from None
        source = freq_file
    else:
        counts, source = image_count, 'image_count'
    n = torch.as_tensor(counts, dtype=torch.float64).flatten()
    if n.numel() != int(num_classes):
        raise ValueError(f'{owner}: {n.numel()} class image counts (from {source}) but '
                         f'num_classes={num_classes}')
    if (n < 0).any():
        raise ValueError(f'{owner}: negative image counts in {source}')
    return n, (None if num_images is None else int(num_images))


def check_count_source(owner: str, freq_file: Optional[str],
                       image_count: Optional[Sequence[float]]) -> bool:
    """Raise ``ValueError`` unless exactly one source is given; return whether the counts can
    be read now (``image_count`` given, or ``freq_file`` exists)."""
    if (freq_file is None) == (image_count is None):
        raise ValueError(f'{owner}: give exactly one of freq_file (LVIS training annotation or '
                         f'category file) or image_count')
    return image_count is not None or osp.isfile(freq_file)


def needs_counts(buffer: Tensor) -> bool:
    """True while a count-derived buffer still holds its NaN placeholder."""
    return bool(torch.isnan(buffer).any())


def check_roi_inputs(owner: str, cls_score: Tensor, label: Tensor, num_classes: int,
                     width: int) -> None:
    """One-line ``ValueError`` unless ``cls_score`` is (N, ``width``) and ``label`` is (N,) in
    [0, ``num_classes``] (``num_classes`` = background), as mmdet's bbox heads give them."""
    if cls_score.dim() != 2 or cls_score.size(1) != width:
        raise ValueError(f'{owner}: cls_score must be (N, {width}), got '
                         f'{tuple(cls_score.shape)}')
    if label.shape != cls_score.shape[:1] or (label.numel() and (
            label.min() < 0 or label.max() > num_classes)):
        raise ValueError(f'{owner}: label must be ({cls_score.size(0)},) in '
                         f'[0, {num_classes}]')
