"""Check the datasets' labels and class count against the classification head before training
or testing (instead of torch's ``IndexError: Target 7 is out of bounds`` mid-epoch, or a whole
epoch trained before ``ShotAccuracy`` refuses the class count).

Checked, for a model with ``head.num_classes`` (mmpretrain ``ImageClassifier`` heads and the
heads of :mod:`gated_mm.models.heads`):

* every label of the training, validation and test sets lies in ``[0, num_classes)``;
* the training set has exactly ``num_classes`` classes (``len(metainfo['classes'])``; a
  :class:`~gated_mm.datasets.TxtListDataset` without class names counts ``max(label) + 1``);
  validation / test sets may have fewer classes, not more;
* ``data_preprocessor.num_classes`` (batch augments, one-hot targets), when set, equals it.

Detectors (``roi_head`` / ``bbox_head``) are checked from the config against the annotation
file's categories before the runner is built
(:func:`gated_mm.evaluation.lvis_report.check_detection_config`); this hook skips them.
"""
from typing import List, Optional, Tuple

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['ClassCountCheckHook', 'ClassCountMismatchError', 'check_dataset_classes',
           'add_class_count_check_hook']


class ClassCountMismatchError(ValueError):
    """A dataset's labels or class count do not fit the head's ``num_classes``."""


def _describe(dataset) -> str:
    """``TypeName`` plus the annotation file (or data root) of ``dataset`` or what it wraps."""
    inner = dataset
    for _ in range(4):  # LongTailDataset, ClassBalancedDataset, ... keep theirs in .dataset
        src = getattr(inner, 'ann_file', None) or getattr(inner, 'data_root', None)
        if src:
            return f'{type(dataset).__name__}, {src}'
        inner = getattr(inner, 'dataset', None)
        if inner is None:
            break
    return type(dataset).__name__


def _labels(dataset) -> Optional[np.ndarray]:
    """All single labels of ``dataset`` (int64, (N,)); None for multi-label or unknown."""
    try:
        if hasattr(dataset, 'get_gt_labels'):
            labels = np.asarray(dataset.get_gt_labels())
        elif hasattr(dataset, 'get_cat_ids'):
            labels = np.asarray([dataset.get_cat_ids(i) for i in range(len(dataset))])
            labels = labels.reshape(len(labels)) if labels.size == len(labels) else labels
        else:
            return None
    except (TypeError, ValueError):  # ragged multi-label lists
        return None
    if labels.ndim != 1 or labels.dtype.kind not in 'iu':
        return None
    return labels.astype(np.int64)


def _named_classes(dataset) -> Tuple[Optional[int], bool]:
    """(``len(metainfo['classes'])`` or None, whether the names were counted from the labels,
    i.e. are ``'0' .. 'C-1'`` as TxtListDataset / LongTailDataset name unnamed classes)."""
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    if not classes:
        return None, True
    inferred = tuple(str(c) for c in classes) == tuple(str(i) for i in range(len(classes)))
    return len(classes), inferred


def check_dataset_classes(num_classes: int, dataset, key: str, training: bool,
                          head: str = 'model.head') -> None:
    """Raise :class:`ClassCountMismatchError` (one line with the fix) when ``dataset`` does
    not fit a head of ``num_classes`` classes.

    Args:
        num_classes: the head's class count C.
        dataset: a built dataset (labels from ``get_gt_labels()`` or ``get_cat_ids(i)``;
            class names from ``metainfo['classes']``).
        key: where the dataset is in the config, e.g. ``'train_dataloader.dataset'``.
        training: the training set must have exactly C classes; other sets at most C.
        head: the config path of the head, for the message.
    """
    what = f'{key} ({_describe(dataset)})'
    labels = _labels(dataset)
    if labels is not None and labels.size:
        bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
        if bad.size:
            first = int(labels[bad[0]])
            need = int(labels.max()) + 1
            raise ClassCountMismatchError(
                f'{what}: label {first} (sample {int(bad[0])}; {bad.size} of {labels.size} '
                f'labels outside 0..{num_classes - 1}) does not fit {head}.num_classes='
                f'{num_classes}: set {head}.num_classes={need} (and '
                f'data_preprocessor.num_classes) or fix the labels of the dataset')
    n_named, inferred = _named_classes(dataset)
    if n_named is None:
        return
    counted = ' (counted from the labels: max label + 1)' if inferred else ''
    if n_named > num_classes or (training and n_named != num_classes):
        fix = f'set {head}.num_classes={n_named} (and data_preprocessor.num_classes)'
        if inferred and n_named < num_classes:
            fix += (f', or name all {num_classes} classes with the dataset\'s classes=[...] '
                    f'if the list lacks the top classes')
        raise ClassCountMismatchError(
            f'{head}.num_classes={num_classes} but {what} has {n_named} classes{counted}: '
            f'{fix}')


def _head_num_classes(model) -> Optional[int]:
    if is_model_wrapper(model):
        model = model.module
    head = getattr(model, 'head', None)
    n = getattr(head, 'num_classes', None)
    return n if isinstance(n, int) else None


def add_class_count_check_hook(cfg) -> None:
    """Append ``ClassCountCheckHook`` to ``cfg.custom_hooks`` unless it is there or the config
    sets ``check_class_counts=False`` (the opt-out)."""
    if not cfg.get('check_class_counts', True):
        return
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') in ('ClassCountCheckHook', ClassCountCheckHook) for h in hooks):
        hooks.append(dict(type='ClassCountCheckHook'))
    cfg.custom_hooks = hooks


@HOOKS.register_module()
class ClassCountCheckHook(Hook):
    """Run :func:`check_dataset_classes` on the training and validation sets at
    ``before_train`` and on the test set at ``before_test``; a model without
    ``head.num_classes`` (e.g. a detector) is skipped.

    Raises:
        ClassCountMismatchError: one line naming the dataset (and its annotation file), the
            numbers and the fix; ``tools/train.py`` / ``tools/test.py`` print it and exit 1.
    """
    priority = 'VERY_HIGH'

    def _check(self, runner, loops: List[Tuple[str, str, bool]]) -> None:
        num_classes = _head_num_classes(runner.model)
        if num_classes is None:
            return
        for attr, key, training in loops:
            loop = getattr(runner, attr, None)
            loader = getattr(loop, 'dataloader', None)
            dataset = getattr(loader, 'dataset', None)
            if dataset is not None:
                check_dataset_classes(num_classes, dataset, key, training)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        pre = getattr(getattr(model, 'data_preprocessor', None), 'num_classes', None)
        if isinstance(pre, int) and pre != num_classes:
            raise ClassCountMismatchError(
                f'data_preprocessor.num_classes={pre} but model.head.num_classes='
                f'{num_classes}: set both to the number of classes of the dataset')

    def before_train(self, runner) -> None:
        self._check(runner, [('_train_loop', 'train_dataloader.dataset', True),
                             ('_val_loop', 'val_dataloader.dataset', False)])

    def before_test(self, runner) -> None:
        self._check(runner, [('_test_loop', 'test_dataloader.dataset', False)])
