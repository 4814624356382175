"""Training images per class, from the training annotations: the one helper every
count-based long-tailed module uses (IIF, the re-balancing losses, the samplers, ShotAccuracy).
"""
from typing import Optional, Sequence

import numpy as np

__all__ = ['class_counts_from']


def class_counts_from(train_ann_file: Optional[str] = None,
                      train_dataset=None,
                      class_counts: Optional[Sequence[int]] = None,
                      num_classes: Optional[int] = None,
                      owner: str = 'class_counts_from') -> np.ndarray:
    """Training images per class (int64, shape ``(C,)``) from exactly one source.

    Args:
        train_ann_file: ImageNet-LT style list (``<path> <label>`` lines); counts in the
            file's label order.
        train_dataset: dataset config dict or object: its ``class_counts`` if it has one
            (:class:`~gated_mm.datasets.LongTailDataset`), else the bincount of
            ``get_gt_labels()`` (so a :class:`~gated_mm.datasets.TxtListDataset` with
            ``frequency_ann_file`` gives counts in re-indexed order).
        class_counts: explicit counts, index = class.
        num_classes: pad the counts with zeros to this many classes (and check the length).
        owner: name used in error messages.

    Raises:
        ValueError: not exactly one source, or counts longer than ``num_classes``.
        FileNotFoundError: ``train_ann_file`` missing (message names it).
    """
    sources = [k for k, v in (('train_ann_file', train_ann_file), ('train_dataset', train_dataset),
                              ('class_counts', class_counts)) if v is not None]
    if len(sources) != 1:
        raise ValueError(f'{owner} needs exactly one of train_ann_file, train_dataset, '
                         f'class_counts (got {sources or "none"})')
    if class_counts is not None:
        counts = np.asarray(class_counts)
    elif train_ann_file is not None:
        from .imagenet_lt import read_txt_list
        labels = np.array([e.label for e in read_txt_list(train_ann_file)], dtype=np.int64)
        counts = np.bincount(labels, minlength=num_classes or 0)
    else:
        dataset = train_dataset
        if isinstance(dataset, dict):
            from mmpretrain.registry import DATASETS
            dataset = DATASETS.build(dataset)
        counts = getattr(dataset, 'class_counts', None)
        if counts is None:
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
            if hasattr(dataset, 'get_gt_labels'):
                labels = np.asarray(dataset.get_gt_labels(), dtype=np.int64)
            else:  # a detection-style dataset: the first category of each sample
                labels = np.array([dataset.get_cat_ids(i)[0] for i in range(len(dataset))],
                                  dtype=np.int64)
            classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
            counts = np.bincount(labels, minlength=len(classes) if classes else 0)
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.size == 0 or not np.all(counts == np.round(counts)):
        raise ValueError(f'{owner}: class counts must be a non-empty list of integers, got '
                         f'{counts.tolist()!r} (from {sources[0]})')
    counts = counts.astype(np.int64)
    if num_classes is not None:
        if len(counts) > num_classes:
            raise ValueError(f'{owner}: {len(counts)} class counts (from {sources[0]}) but '
                             f'num_classes={num_classes}')
        counts = np.pad(counts, (0, num_classes - len(counts)))
    return counts
