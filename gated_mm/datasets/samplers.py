r"""Re-balanced sampling for long-tailed training, an mmengine ``DATA_SAMPLERS`` sampler.

Kang et al., "Decoupling Representation and Classifier for Long-Tailed Recognition",
ICLR 2020, Eq. 1-2: an image of class ``j`` (``n_j`` training images, ``C`` classes) is drawn
with probability ``p_j / n_j`` where::

    p_j = n_j^q / Σ_i n_i^q      q = 1: instance-balanced, q = 1/2: square-root,
                                 q = 0: class-balanced
    progressive:  p_j(t) = (1 − t/T) p_j^{IB} + (t/T) p_j^{CB}    (epoch t of T)

Deferred re-sampling (Cao et al., NeurIPS 2019, Sec. 3.3, "DRS"): instance-balanced sampling
before epoch ``defer_epochs``, the chosen scheme from it on.
"""
import math
from typing import Iterator, Optional

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

__all__ = ['RebalancedSampler', 'SAMPLING_SCHEMES', 'sampling_class_probs']

#: Schemes of :class:`RebalancedSampler`, name -> q (None: progressive).
SAMPLING_SCHEMES = {'instance': 1.0, 'sqrt': 0.5, 'class_balanced': 0.0, 'progressive': None}


def sampling_class_probs(class_counts, scheme: str, epoch: int = 0,
                         total_epochs: Optional[int] = None) -> np.ndarray:
    """Class sampling probabilities ``p_j`` (float64, (C,), sum 1) of Kang et al. Eq. 1-2.

    Raises:
        ValueError: unknown scheme; 'progressive' without ``total_epochs`` >= 1.
    """
    if scheme not in SAMPLING_SCHEMES:
        raise ValueError(f'RebalancedSampler: unknown sampling {scheme!r}; expected one of '
                         f'{tuple(SAMPLING_SCHEMES)}')
    n = np.asarray(class_counts, dtype=np.float64)
    present = n > 0

    def probs(q):
        p = np.where(present, np.power(np.where(present, n, 1.0), q), 0.0)
        return p / p.sum()

    if scheme != 'progressive':
        return probs(SAMPLING_SCHEMES[scheme])
    if not total_epochs or total_epochs < 1:
        raise ValueError("RebalancedSampler: sampling='progressive' needs total_epochs >= 1 "
                         '(the T of p(t) = (1 - t/T) p_IB + t/T p_CB)')
    t = min(max(epoch, 0), total_epochs) / total_epochs
    return (1 - t) * probs(1.0) + t * probs(0.0)


@DATA_SAMPLERS.register_module()
class RebalancedSampler(Sampler):
    """Instance- / square-root- / class-balanced / progressive sampling, with replacement.

    Every epoch draws ``len(dataset)`` indices (``num_samples`` if given), each image of class
    ``j`` with probability ``p_j / n_j`` (module docstring), from a generator seeded by
    ``seed + epoch`` (the same on every rank; rank ``r`` of ``W`` takes draws ``r, r + W, ...``).
    The train loop calls :meth:`set_epoch`, so progressive and deferred schedules follow the
    epoch.

    Args:
        dataset: a dataset with ``get_gt_labels()`` (mmpretrain) or ``get_cat_ids(i)``.
        sampling: 'instance', 'sqrt', 'class_balanced' or 'progressive'.
        defer_epochs: instance-balanced sampling for epochs ``< defer_epochs``. Defaults to 0.
        total_epochs: T of the progressive schedule (its epochs start after ``defer_epochs``).
        num_samples: draws per epoch (all ranks). Defaults to ``len(dataset)``.
        seed: random seed (synchronised across ranks if None).

    Raises:
        ValueError: unknown sampling, progressive without total_epochs, negative
            defer_epochs, a dataset without labels.

    Example:
        >>> train_dataloader = dict(sampler=dict(type='RebalancedSampler',
        ...                                      sampling='class_balanced'))
    """

    def __init__(self, dataset, sampling: str = 'class_balanced', defer_epochs: int = 0,
                 total_epochs: Optional[int] = None, num_samples: Optional[int] = None,
                 seed: Optional[int] = None) -> None:
        if defer_epochs < 0:
            raise ValueError(f'RebalancedSampler: defer_epochs must be >= 0, got {defer_epochs}')
        sampling_class_probs([1], sampling, 0, total_epochs)  # validates the arguments
        self.dataset, self.sampling = dataset, sampling
        self.defer_epochs, self.total_epochs = int(defer_epochs), total_epochs
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        if hasattr(dataset, 'get_gt_labels'):
            labels = np.asarray(dataset.get_gt_labels(), dtype=np.int64)
        elif hasattr(dataset, 'get_cat_ids'):
            labels = np.array([dataset.get_cat_ids(i)[0] for i in range(len(dataset))],
                              dtype=np.int64)
        else:
            raise ValueError(f'RebalancedSampler: {type(dataset).__name__} has neither '
                             'get_gt_labels() nor get_cat_ids(i); cannot read class labels')
        self.labels = labels
        self.class_counts = np.bincount(labels)
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else int(seed)
        total = len(dataset) if num_samples is None else int(num_samples)
        self.num_samples = math.ceil(total / self.world_size)
        self.total_size = self.num_samples * self.world_size
        self.epoch = 0

    def class_probs(self, epoch: Optional[int] = None) -> np.ndarray:
        """``p_j`` used at ``epoch`` (default: the current one)."""
        epoch = self.epoch if epoch is None else epoch
        if epoch < self.defer_epochs:
            return sampling_class_probs(self.class_counts, 'instance')
        return sampling_class_probs(self.class_counts, self.sampling, epoch - self.defer_epochs,
                                    self.total_epochs)

    def __iter__(self) -> Iterator[int]:
        p_class = self.class_probs()
        w = p_class[self.labels] / self.class_counts[self.labels]
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        idx = torch.multinomial(torch.as_tensor(w), self.total_size, replacement=True,
                                generator=g).tolist()
        return iter(idx[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (called by mmengine's train loop before each epoch)."""
        self.epoch = int(epoch)
