"""Long-tailed subsets of any classification dataset (the CIFAR-LT recipe).

The per-class sizes follow the exponential profile used for CIFAR-10/100-LT by
Cui et al., "Class-Balanced Loss Based on Effective Number of Samples" (CVPR 2019) and
Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss"
(NeurIPS 2019)::

    n_r = floor(n_max * rho ** (-r / (C - 1))),   r = 0 .. C-1

where ``r`` is the rank of a class (its class index, or its position in ``class_order``),
``C`` the number of classes, ``rho = n_0 / n_{C-1}`` the imbalance ratio and ``n_max`` the
size of the largest (rank 0) class.
"""
import copy
import logging
import math
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import force_full_init
from mmengine.logging import print_log

from mmpretrain.registry import DATASETS

__all__ = ['LongTailDataset', 'long_tail_counts']

# A computed n_max * rho**(-r/(C-1)) that lies within this distance *below* an integer is
# taken to be that integer (float64 rounding must not turn e.g. 6000/100 = 60 into 59).
_FLOOR_TOL = 1e-9


def long_tail_counts(n_max: int, num_classes: int, imbalance_ratio: float) -> np.ndarray:
    """Per-rank sample counts of the exponential long-tail profile (CIFAR-LT recipe).

    .. math::

        n_r = \\left\\lfloor n_{max} \\cdot \\rho^{-r/(C-1)} \\right\\rfloor,
        \\qquad r = 0, \\dots, C-1

    (Cui et al. 2019; Cao et al. 2019). For ``C == 1`` the single class keeps ``n_max``.
    Evaluated in float64; a value within 1e-9 below an integer is rounded up to it before the
    floor, so exact cases such as ``n_max / rho`` are not truncated by rounding error.

    Args:
        n_max (int): Size of the largest (rank 0) class, >= 1.
        num_classes (int): Number of classes ``C``, >= 1.
        imbalance_ratio (float): ``rho = n_0 / n_{C-1}`` (>= 1; 1 gives a balanced set).

    Returns:
        np.ndarray: int64 array of shape ``(C,)``, entry ``r`` is the count of rank ``r``
        (non-increasing; may contain zeros when ``n_max < rho``).

    Raises:
        ValueError: ``imbalance_ratio < 1`` (or not finite), ``n_max < 1`` or
            ``num_classes < 1``.

    Example:
        >>> long_tail_counts(6000, 10, 100).tolist()
        [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]
    """
    rho = float(imbalance_ratio)
    if not math.isfinite(rho) or rho < 1:
        raise ValueError(f'imbalance_ratio must be a finite number >= 1 (rho = n_max / n_min), '
                         f'got {imbalance_ratio!r}; use 1 for a balanced subset or e.g. 100 '
                         f'for the CIFAR-LT recipe')
    if int(n_max) != n_max or n_max < 1:
        raise ValueError(f'max_per_class (n_max) must be an integer >= 1, got {n_max!r}')
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f'num_classes must be an integer >= 1, got {num_classes!r}')
    num_classes = int(num_classes)
    if num_classes == 1:
        return np.array([int(n_max)], dtype=np.int64)
    ranks = np.arange(num_classes, dtype=np.float64)
    values = float(n_max) * rho ** (-ranks / (num_classes - 1))
    return np.floor(values + _FLOOR_TOL).astype(np.int64)


def _labels_of(dataset) -> np.ndarray:
    """All single labels of ``dataset`` as an int64 array of shape (N,)."""
    if hasattr(dataset, 'get_gt_labels'):
        labels = dataset.get_gt_labels()
    elif hasattr(dataset, 'get_cat_ids'):
        labels = []
        for i in range(len(dataset)):
            cat_ids = dataset.get_cat_ids(i)
            if len(cat_ids) != 1:
                raise ValueError(f'LongTailDataset needs single-label data, but sample {i} of '
                                 f'{type(dataset).__name__} has labels {list(cat_ids)}')
            labels.append(cat_ids[0])
    else:
        raise TypeError(f'LongTailDataset needs a dataset with get_gt_labels() or '
                        f'get_cat_ids(idx); {type(dataset).__name__} has neither')
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f'LongTailDataset needs one integer label per sample, but '
                         f'{type(dataset).__name__}.get_gt_labels() returned an array of '
                         f'shape {labels.shape} and dtype {labels.dtype}')
    return labels.astype(np.int64)


@DATASETS.register_module()
class LongTailDataset:
    """Deterministic long-tailed subset of any single-label classification dataset.

    Class of rank ``r`` keeps

    .. math:: n_r = \\lfloor n_{max} \\cdot \\rho^{-r/(C-1)} \\rfloor

    samples (CIFAR-LT recipe of Cui et al., CVPR 2019 and Cao et al., NeurIPS 2019; see
    :func:`long_tail_counts`). The rank of class ``c`` is ``c`` itself (class-index order) or
    its position in ``class_order``. ``C`` is ``len(metainfo['classes'])`` of the wrapped
    dataset (or ``max(label) + 1`` when it has no class names).

    Selection: for every class ``c`` the indices of its samples (ascending) are shuffled with a
    private generator ``np.random.default_rng([seed, c])`` and the first ``n_c`` are kept; the
    kept indices are then sorted, so the subset keeps the wrapped dataset's order. The result
    depends only on the labels, ``seed`` and the arguments: never on the global ``random`` /
    NumPy / torch RNG state, and it is the same on every rank and in every run. For a fixed
    ``seed`` the subsets are nested: a larger ``n_c`` keeps a superset of a smaller one.

    Args:
        dataset (dict | Dataset): The dataset to subsample, a config dict (built with
            mmpretrain's ``DATASETS``) or an object with ``__len__``, ``__getitem__``,
            ``metainfo`` and ``get_gt_labels()`` or ``get_cat_ids(idx)``.
        imbalance_ratio (float): ``rho = n_0 / n_{C-1} >= 1``. Defaults to 100.
        max_per_class (int, optional): ``n_max``, the size of the rank-0 class. Defaults to
            None: the largest class size in the wrapped dataset.
        class_order (Sequence[int | str], optional): All class indices (or class names) from
            the most to the least frequent class. Defaults to None: class-index order.
        seed (int): Seed of the per-class selection. Defaults to 0.
        lazy_init (bool): Defer loading the wrapped dataset and selecting the subset until
            first use (``full_init()``). Defaults to False.

    Attributes:
        class_counts (np.ndarray): int64, shape ``(C,)``: kept samples of class ``c`` (class
            index order, not rank order).

    Raises:
        ValueError: ``imbalance_ratio < 1``; a class has fewer samples than its ``n_r`` (the
            message names the class, the number needed and available); ``class_order`` is not
            a permutation of the classes; labels outside ``[0, C)``.
        TypeError: ``dataset`` is neither a dict nor a dataset-like object.

    Example:
        >>> train = dict(type='LongTailDataset', imbalance_ratio=100, seed=0,
        ...              dataset=dict(type='CIFAR10', data_root='data/cifar10',
        ...                           split='train', pipeline=[...]))
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 imbalance_ratio: float = 100.,
                 max_per_class: Optional[int] = None,
                 class_order: Optional[Sequence[Union[int, str]]] = None,
                 seed: int = 0,
                 lazy_init: bool = False):
        # Validate cheap arguments before building anything.
        rho = float(imbalance_ratio)
        if not math.isfinite(rho) or rho < 1:
            raise ValueError(f'LongTailDataset: imbalance_ratio must be >= 1 (rho = n_max / '
                             f'n_min), got {imbalance_ratio!r}; use 1 for a balanced subset or '
                             f'e.g. 100 for the CIFAR-LT recipe')
        if max_per_class is not None and (int(max_per_class) != max_per_class
                                          or max_per_class < 1):
            raise ValueError(f'LongTailDataset: max_per_class must be an integer >= 1 or None, '
                             f'got {max_per_class!r}')
        if int(seed) != seed or seed < 0:
            raise ValueError(f'LongTailDataset: seed must be an integer >= 0, got {seed!r}')

        if isinstance(dataset, dict):
            self.dataset = DATASETS.build(dataset)
        elif hasattr(dataset, '__getitem__') and hasattr(dataset, '__len__'):
            self.dataset = dataset
        else:
            raise TypeError(f'LongTailDataset: dataset must be a config dict or a dataset '
                            f'object, got {type(dataset).__name__}')

        self.imbalance_ratio = rho
        self.max_per_class = None if max_per_class is None else int(max_per_class)
        self.class_order = None if class_order is None else list(class_order)
        self.seed = int(seed)
        self._metainfo = copy.deepcopy(getattr(self.dataset, 'metainfo', {}) or {})
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    # ------------------------------------------------------------------ init
    @property
    def metainfo(self) -> dict:
        """Meta information of the wrapped dataset (a copy)."""
        return copy.deepcopy(self._metainfo)

    @property
    def CLASSES(self):
        """Class names of the wrapped dataset (None if it has none)."""
        return self._metainfo.get('classes', None)

    @property
    def class_to_idx(self) -> dict:
        """Mapping from class name to class index."""
        return {cat: i for i, cat in enumerate(self.CLASSES)}

    def _ranks(self, num_classes: int) -> np.ndarray:
        """Class indices in rank order (rank 0 = largest class)."""
        if self.class_order is None:
            return np.arange(num_classes)
        order = []
        names = self.CLASSES
        for item in self.class_order:
            if isinstance(item, str):
                if not names or item not in names:
                    raise ValueError(f'LongTailDataset: class_order names unknown class '
                                     f'{item!r}; known classes: {list(names or [])}')
                order.append(list(names).index(item))
            else:
                order.append(int(item))
        if sorted(order) != list(range(num_classes)):
            raise ValueError(f'LongTailDataset: class_order must list every class index 0..'
                             f'{num_classes - 1} exactly once, got {self.class_order}')
        return np.asarray(order)

    def full_init(self) -> None:
        """Load the wrapped dataset and select the long-tailed subset (idempotent)."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        labels = _labels_of(self.dataset)
        classes = self.CLASSES
        if classes is not None:
            num_classes = len(classes)
        else:
            num_classes = int(labels.max()) + 1 if labels.size else 0
        if num_classes < 1:
            raise ValueError(f'LongTailDataset: the wrapped {type(self.dataset).__name__} is '
                             f'empty (no samples, no classes)')
        bad = (labels < 0) | (labels >= num_classes)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f'LongTailDataset: sample {i} has label {labels[i]} outside '
                             f'[0, {num_classes}) ({num_classes} classes in metainfo)')

        available = np.bincount(labels, minlength=num_classes)
        ranks = self._ranks(num_classes)
        n_max = self.max_per_class
        if n_max is None:
            n_max = int(available.max())
        per_rank = long_tail_counts(n_max, num_classes, self.imbalance_ratio)
        wanted = np.zeros(num_classes, dtype=np.int64)
        wanted[ranks] = per_rank

        short = np.flatnonzero(wanted > available)
        if short.size:
            c = int(short[0])
            name = f" ('{classes[c]}')" if classes is not None else ''
            raise ValueError(
                f'LongTailDataset: class {c}{name} needs {wanted[c]} samples (rank '
                f'{int(np.flatnonzero(ranks == c)[0])}, n_max={n_max}, imbalance_ratio='
                f'{self.imbalance_ratio:g}) but the dataset has only {available[c]}; lower '
                f'max_per_class or imbalance_ratio, or pass a class_order that ranks it lower')
        empty = np.flatnonzero(wanted == 0)
        if empty.size:
            print_log(f'LongTailDataset: classes {empty.tolist()} keep 0 samples (n_max='
                      f'{n_max} < imbalance_ratio={self.imbalance_ratio:g})',
                      logger='current', level=logging.WARNING)

        order = np.argsort(labels, kind='stable')  # indices grouped by class, ascending
        starts = np.concatenate([[0], np.cumsum(available)])
        keep: List[np.ndarray] = []
        for c in range(num_classes):
            idx_c = order[starts[c]:starts[c + 1]]
            rng = np.random.default_rng([self.seed, c])
            keep.append(rng.permutation(idx_c)[:wanted[c]])
        indices = np.sort(np.concatenate(keep)).astype(np.int64)

        self._indices = indices
        self._labels = labels[indices]
        self._class_counts = np.bincount(self._labels, minlength=num_classes).astype(np.int64)
        self.n_max = n_max
        self._fully_initialized = True
        print_log(f'LongTailDataset: {len(indices)} of {len(labels)} samples kept, '
                  f'imbalance_ratio={self.imbalance_ratio:g}, seed={self.seed}, class counts '
                  f'{self._class_counts.tolist()}', logger='current')

    # ---------------------------------------------------------------- access
    @force_full_init
    def __len__(self) -> int:
        return len(self._indices)

    @force_full_init
    def __getitem__(self, idx: int):
        """The ``idx``-th kept sample after the wrapped dataset's pipeline."""
        return self.dataset[int(self._indices[idx])]

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Annotation of the ``idx``-th kept sample (before the pipeline)."""
        return self.dataset.get_data_info(int(self._indices[idx]))

    @force_full_init
    def get_ori_index(self, idx: int) -> int:
        """Index in the wrapped dataset of the ``idx``-th kept sample."""
        return int(self._indices[idx])

    @property
    @force_full_init
    def indices(self) -> np.ndarray:
        """Indices in the wrapped dataset of all kept samples, ascending, shape (N,)."""
        return self._indices.copy()

    @property
    @force_full_init
    def class_counts(self) -> np.ndarray:
        """Kept samples per class (class-index order), int64, shape ``(C,)``."""
        return self._class_counts.copy()

    @force_full_init
    def get_gt_labels(self) -> np.ndarray:
        """Labels of the kept samples, int64, shape (N,)."""
        return self._labels.copy()

    @force_full_init
    def get_cat_ids(self, idx: int) -> List[int]:
        """Category of the ``idx``-th kept sample, as a one-element list."""
        return [int(self._labels[idx])]

    def __repr__(self) -> str:
        body = [f'Imbalance ratio: \t{self.imbalance_ratio:g}', f'Seed: \t{self.seed}']
        if self._fully_initialized:
            body.append(f'Number of samples: \t{len(self)}')
            body.append(f'Class counts: \t{self.class_counts.tolist()}')
        else:
            body.append("Haven't been initialized")
        body.append(f'Wrapped dataset: \t{type(self.dataset).__name__}')
        return '\n'.join([f'Dataset {type(self).__name__}'] + ['    ' + b for b in body])
