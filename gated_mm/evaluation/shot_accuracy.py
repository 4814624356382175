"""Many/medium/few-shot accuracy for long-tailed classification (OLTR / ImageNet-LT protocol).

Liu et al., "Large-Scale Long-Tailed Recognition in an Open World" (CVPR 2019) split the
classes by their number of *training* images: many-shot (> 100), medium-shot (20-100) and
few-shot (< 20), and report the per-class accuracy averaged over the classes of each group.
"""
import logging
import math
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmpretrain.registry import METRICS
from ..datasets.class_counts import class_counts_from

__all__ = ['ShotAccuracy', 'shot_groups']


def shot_groups(class_counts: Sequence[int], many_thr: float = 100,
                few_thr: float = 20) -> Dict[str, np.ndarray]:
    """Class indices of each shot group, by training count ``n_c``.

    many: ``n_c > many_thr``; medium: ``few_thr <= n_c <= many_thr``; few: ``n_c < few_thr``
    (Liu et al. 2019, ImageNet-LT: ``many_thr=100``, ``few_thr=20``).

    Args:
        class_counts (Sequence[int]): Training images per class, shape ``(C,)``.
        many_thr (float): Classes with more training images are many-shot. Defaults to 100.
        few_thr (float): Classes with fewer training images are few-shot. Defaults to 20.

    Returns:
        dict[str, np.ndarray]: ``{'many': idx, 'medium': idx, 'few': idx}`` (int64 arrays).
    """
    counts = np.asarray(class_counts)
    return {
        'many': np.flatnonzero(counts > many_thr),
        'medium': np.flatnonzero((counts >= few_thr) & (counts <= many_thr)),
        'few': np.flatnonzero(counts < few_thr),
    }


@METRICS.register_module()
class ShotAccuracy(BaseMetric):
    """Top-1, mean per-class and many/medium/few-shot accuracy (OLTR, Liu et al. CVPR 2019).

    With ``correct_j = [argmax pred_j == y_j]`` over the ``N`` evaluated samples and
    ``acc_c = mean_{j: y_j = c} correct_j`` for each class ``c`` present in the evaluated set:

    * ``top1 = 100 * mean_j correct_j`` (per sample);
    * ``mean_class = 100 * mean_c acc_c`` (over classes present in the evaluated set);
    * ``many / medium / few = 100 * mean_{c in group} acc_c``, groups by *training* count
      ``n_c``: many ``n_c > many_thr``, medium ``few_thr <= n_c <= many_thr``, few
      ``n_c < few_thr`` (ImageNet-LT: 100 and 20).

    Values are percentages; keys are prefixed (default ``'shot'``): ``shot/top1``,
    ``shot/mean_class``, ``shot/many``, ``shot/medium``, ``shot/few``. A group with no class
    (by training counts, or none of its classes in the evaluated set) is reported as NaN and a
    warning names the group and thresholds. A table of the groups (classes, training-count
    range, evaluated samples, accuracy) is logged at every evaluation.

    Training counts come from exactly one of:

    * ``train_ann_file``: an ImageNet-LT style list (``<path> <label>`` lines);
    * ``train_dataset``: a dataset config dict or object (its ``class_counts`` if it has one,
      e.g. :class:`~gated_mm.datasets.LongTailDataset`, else the bincount of its gt labels);
    * ``class_counts``: an explicit list, index = class.

    Args:
        train_ann_file (str, optional): Training list file.
        train_dataset (dict | Dataset, optional): Training dataset (config).
        class_counts (Sequence[int], optional): Training images per class.
        num_classes (int, optional): Pad counts read from ``train_ann_file`` /
            ``train_dataset`` to this many classes (classes absent from training).
        many_thr (float): Many-shot: ``n_c > many_thr``. Defaults to 100.
        few_thr (float): Few-shot: ``n_c < few_thr``. Defaults to 20.
        collect_device (str): 'cpu' or 'gpu', for gathering results. Defaults to 'cpu'.
        prefix (str, optional): Key prefix. Defaults to 'shot'.
        collect_dir (str, optional): Folder for gathering results on CPU.

    Raises:
        ValueError: not exactly one count source; ``few_thr > many_thr``; negative counts;
            (at evaluation) number of predicted classes (score length) or a label not matching
            the number of counted classes.

    Example:
        >>> val_evaluator = dict(type='ShotAccuracy', many_thr=1000, few_thr=200,
        ...                      train_dataset=dict(type='FashionMNISTLT', split='train'))
    """
    default_prefix: Optional[str] = 'shot'

    def __init__(self,
                 train_ann_file: Optional[str] = None,
                 train_dataset: Union[dict, object, None] = None,
                 class_counts: Optional[Sequence[int]] = None,
                 num_classes: Optional[int] = None,
                 many_thr: float = 100,
                 few_thr: float = 20,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if few_thr > many_thr:
            raise ValueError(f'ShotAccuracy: few_thr ({few_thr}) must be <= many_thr '
                             f'({many_thr}); groups are few < few_thr <= medium <= many_thr '
                             f'< many')
        self.many_thr = many_thr
        self.few_thr = few_thr

        counts = class_counts_from(train_ann_file=train_ann_file, train_dataset=train_dataset,
                                   class_counts=class_counts, num_classes=num_classes,
                                   owner='ShotAccuracy')
        if (counts < 0).any():
            raise ValueError(f'ShotAccuracy: class_counts must be >= 0, got {counts.tolist()}')
        if num_classes is not None and len(counts) != num_classes:
            raise ValueError(f'ShotAccuracy: {len(counts)} class counts but num_classes='
                             f'{num_classes}')
        self.class_counts = counts
        self.groups = shot_groups(counts, many_thr, few_thr)
        self._rules = {
            'many': f'> {many_thr:g}',
            'medium': f'{few_thr:g}..{many_thr:g}',
            'few': f'< {few_thr:g}',
        }

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store ``pred_score`` (or ``pred_label``) and ``gt_label`` of each sample."""
        for data_sample in data_samples:
            result = dict()
            if 'pred_score' in data_sample:
                result['pred_score'] = data_sample['pred_score'].cpu()
            else:
                result['pred_label'] = data_sample['pred_label'].cpu()
            result['gt_label'] = data_sample['gt_label'].cpu()
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute ``top1``, ``mean_class``, ``many``, ``medium``, ``few`` (percent)."""
        num_classes = len(self.class_counts)
        target = torch.cat([r['gt_label'].reshape(-1)[:1] for r in results]).long()
        if 'pred_score' in results[0]:
            scores = torch.stack([r['pred_score'] for r in results])
            if scores.shape[-1] != num_classes:
                raise ValueError(f'ShotAccuracy: predictions have {scores.shape[-1]} classes '
                                 f'but there are {num_classes} training class counts; pass '
                                 f'counts for every class (num_classes=...)')
            pred = scores.argmax(dim=-1)
        else:
            pred = torch.cat([r['pred_label'].reshape(-1)[:1] for r in results]).long()
        for name, t in (('gt_label', target), ('pred_label', pred)):
            bad = t[(t < 0) | (t >= num_classes)]
            if bad.numel():
                raise ValueError(f'ShotAccuracy: {name} {int(bad[0])} outside [0, '
                                 f'{num_classes}) ({num_classes} training class counts)')

        correct = (pred == target).double().numpy()
        target = target.numpy()
        n_eval = np.bincount(target, minlength=num_classes)
        n_correct = np.bincount(target, weights=correct, minlength=num_classes)
        present = n_eval > 0
        class_acc = np.full(num_classes, np.nan)
        class_acc[present] = n_correct[present] / n_eval[present]

        metrics = {
            'top1': float(correct.mean() * 100) if correct.size else float('nan'),
            'mean_class': float(class_acc[present].mean() * 100) if present.any() else math.nan,
        }
        rows = []
        for group in ('many', 'medium', 'few'):
            idx = self.groups[group]
            idx_eval = idx[present[idx]]
            if idx.size == 0:
                value = math.nan
                print_log(f'ShotAccuracy: no class in the {group}-shot group (training count '
                          f'{self._rules[group]}; many_thr={self.many_thr:g}, few_thr='
                          f'{self.few_thr:g}); reporting NaN', logger='current',
                          level=logging.WARNING)
            elif idx_eval.size == 0:
                value = math.nan
                print_log(f'ShotAccuracy: none of the {idx.size} {group}-shot classes '
                          f'(training count {self._rules[group]}) is in the evaluated set; '
                          f'reporting NaN', logger='current', level=logging.WARNING)
            else:
                value = float(class_acc[idx_eval].mean() * 100)
            metrics[group] = value
            counts = self.class_counts[idx]
            span = f'{counts.min()}-{counts.max()}' if idx.size else '-'
            rows.append((group, self._rules[group], str(idx.size), span,
                         str(int(n_eval[idx].sum())), f'{value:.2f}'))
        print_log('ShotAccuracy groups by training count:\n' + _table(
            ('group', 'rule', 'classes', 'train count', 'eval samples', 'acc %'), rows),
                  logger='current')
        return metrics


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'
    fmt = '| ' + ' | '.join(f'{{:<{w}}}' for w in widths) + ' |'
    return '\n'.join([line, fmt.format(*header), line] + [fmt.format(*r) for r in rows] + [line])
