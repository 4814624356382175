"""Image-list datasets in the ImageNet-LT annotation format.

ImageNet-LT (Liu et al., "Large-Scale Long-Tailed Recognition in an Open World", CVPR 2019,
OLTR) ships its splits as text files (``ImageNet_LT_train.txt``, ``ImageNet_LT_val.txt``,
``ImageNet_LT_test.txt``), one sample per line::

    train/n01440764/n01440764_190.JPEG 0

i.e. an image path relative to the ImageNet root and an integer class label.
"""
from typing import List, NamedTuple, Optional, Sequence, Union

import numpy as np
from mmengine.fileio import exists, get_text, join_path
from mmengine.utils import is_abs

from mmpretrain.datasets import BaseDataset
from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
from mmpretrain.registry import DATASETS

__all__ = ['TxtListDataset', 'ImageNetLT', 'read_txt_list', 'TxtListEntry', 'frequency_order']

_EXPECTED = "'<relative/image/path> <integer class label >= 0>'"


class TxtListEntry(NamedTuple):
    """One parsed line of an image-list file."""
    path: str  #: image path as written in the file (relative to the image prefix)
    label: int  #: class index, >= 0
    line: int  #: 1-based line number in the file


def read_txt_list(ann_file: str) -> List[TxtListEntry]:
    """Parse an ImageNet-LT style list file: one ``<path> <label>`` per line.

    The label is the last whitespace-separated field (so paths may contain spaces); blank lines
    and lines starting with ``#`` are skipped.

    Args:
        ann_file (str): Path or URI of the list file (any mmengine file backend).

    Returns:
        list[TxtListEntry]: ``(path, label, line)`` for every sample, in file order.

    Raises:
        FileNotFoundError: The file does not exist (message names it).
        ValueError: A line is not ``<path> <integer label >= 0>`` (message names the file, the
            1-based line number, what was expected and what was found).
    """
    if not ann_file:
        raise FileNotFoundError('image-list annotation file not set: pass ann_file= (e.g. '
                                "'ImageNet_LT_train.txt', relative to data_root)")
    if not exists(ann_file):
        raise FileNotFoundError(f'image-list annotation file not found: {ann_file} (check '
                                f'ann_file and data_root)')
    entries = []
    for lineno, raw in enumerate(get_text(ann_file).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        parts = line.rsplit(None, 1)
        label = None
        if len(parts) == 2:
            try:
                label = int(parts[1])
            except ValueError:
                label = None
        if label is None or label < 0:
            raise ValueError(f'{ann_file}, line {lineno}: expected {_EXPECTED}, got {raw!r}')
        entries.append(TxtListEntry(parts[0], label, lineno))
    return entries


def frequency_order(class_counts: Sequence[int], tie_break: str = 'index') -> np.ndarray:
    """Class indices sorted by descending training count: ``order[new] = old``.

    Re-indexing ``new_label = rank[old_label]`` with ``rank = argsort(order)`` makes class 0
    the most frequent (the public APA code's ``LT_Dataset``: ``argsort(-counts)``).

    Args:
        class_counts: training images per class, shape (C,).
        tie_break: ``'index'``: classes with equal counts keep ascending original index
            (stable sort; the same on every machine); ``'numpy'``: ``np.argsort(-counts)`` with
            NumPy's default (unstable) sort, as the public code. Its tie order is not specified
            by NumPy and may differ between NumPy versions / CPUs: use it only to match a
            checkpoint trained that way, on the same software.

    Returns:
        np.ndarray: int64, shape (C,), a permutation of ``0..C-1``.

    Raises:
        ValueError: unknown ``tie_break``.
    """
    if tie_break not in ('index', 'numpy'):
        raise ValueError(f"frequency_order: tie_break must be 'index' or 'numpy', got "
                         f'{tie_break!r}')
    neg = -np.asarray(class_counts, dtype=np.int64)
    order = np.argsort(neg, kind='stable') if tie_break == 'index' else np.argsort(neg)
    return order.astype(np.int64)


@DATASETS.register_module()
class TxtListDataset(BaseDataset):
    """Classification dataset read from an image-list text file (ImageNet-LT format).

    Each non-blank line of ``ann_file`` is ``<relative/path.jpg> <label>``; sample ``i`` is
    ``dict(img_path=join(data_root, data_prefix, path), gt_label=label)``, so a pipeline
    starting with ``LoadImageFromFile`` reads it.

    Args:
        ann_file (str): The list file; relative paths are joined with ``data_root``.
        data_root (str): Root of ``ann_file`` and ``data_prefix``. Defaults to ''.
        data_prefix (str | dict): Folder the image paths are relative to (joined with
            ``data_root`` unless absolute). Defaults to '' (= ``data_root``).
        metainfo (dict, optional): Meta information, e.g. ``dict(classes=[...])``.
        classes (str | Sequence[str], optional): Class names or a file with one per line.
            Without class names (here or in ``METAINFO``) the classes are named ``'0'`` ..
            ``str(max_label)``.
        frequency_ann_file (str, optional): Re-index the labels by descending class frequency
            in this list file (the *training* list, for every split; joined with
            ``data_root`` like ``ann_file``): ``new = rank[old]`` with class 0 the most
            frequent, as the public APA code (needed to evaluate its checkpoints). Class
            names are permuted with the labels (``classes[new]`` is the old name), and
            ``label_map`` (old → new, int64 array) is stored. Defaults to None (file labels).
        tie_break (str): order of classes with equal counts, see :func:`frequency_order`
            (``'index'`` stable, default; ``'numpy'`` as the public code).
        **kwargs: Other arguments of mmpretrain's ``BaseDataset`` (``pipeline``,
            ``test_mode``, ``lazy_init``, ``indices``, ...).

    Raises:
        FileNotFoundError: ``ann_file`` does not exist (message names it).
        ValueError: A bad line (message names the file and line number), or a label
            ``>= len(classes)``.

    Example:
        >>> dataset = dict(type='TxtListDataset', data_root='data/imagenet',
        ...                ann_file='ImageNet_LT_train.txt', pipeline=[...])
    """

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 metainfo: Optional[dict] = None,
                 classes: Union[str, Sequence[str], None] = None,
                 frequency_ann_file: Optional[str] = None,
                 tie_break: str = 'index',
                 **kwargs):
        if tie_break not in ('index', 'numpy'):
            raise ValueError(f"{type(self).__name__}: tie_break must be 'index' or 'numpy', "
                             f'got {tie_break!r}')
        self.frequency_ann_file = frequency_ann_file
        if frequency_ann_file and data_root and not is_abs(frequency_ann_file):
            self.frequency_ann_file = join_path(data_root, frequency_ann_file)
        self.tie_break = tie_break
        self.label_map = None
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         metainfo=metainfo, classes=classes, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse ``ann_file`` into ``[dict(img_path=..., gt_label=...), ...]``."""
        entries = read_txt_list(self.ann_file)
        classes = self._metainfo.get('classes')
        if classes is not None:
            for e in entries:
                if e.label >= len(classes):
                    raise ValueError(f'{self.ann_file}, line {e.line}: label {e.label} is out '
                                     f'of range for {len(classes)} classes (labels must be '
                                     f'0..{len(classes) - 1})')
        elif entries and not self.frequency_ann_file:
            num_classes = max(e.label for e in entries) + 1
            self._metainfo['classes'] = tuple(str(i) for i in range(num_classes))
        if self.frequency_ann_file:
            entries = self._reindex_by_frequency(entries)
        prefix = self.img_prefix
        return [
            dict(img_path=join_path(prefix, e.path) if prefix else e.path,
                 gt_label=int(e.label)) for e in entries
        ]

    def _reindex_by_frequency(self, entries: List[TxtListEntry]) -> List[TxtListEntry]:
        """Relabel ``entries`` by descending frequency in ``frequency_ann_file``."""
        train = read_txt_list(self.frequency_ann_file)
        classes = self._metainfo.get('classes')
        num_classes = len(classes) if classes is not None else 1 + max(
            [e.label for e in train] + [e.label for e in entries] + [-1])
        bad = [e for e in train if e.label >= num_classes]
        if bad:
            raise ValueError(f'{self.frequency_ann_file}, line {bad[0].line}: label '
                             f'{bad[0].label} is out of range for {num_classes} classes')
        counts = np.bincount([e.label for e in train], minlength=num_classes)
        order = frequency_order(counts, self.tie_break)
        rank = np.empty_like(order)
        rank[order] = np.arange(num_classes)
        self.label_map = rank
        if classes is not None:
            self._metainfo['classes'] = tuple(classes[int(o)] for o in order)
        else:
            self._metainfo['classes'] = tuple(str(int(o)) for o in order)
        return [TxtListEntry(e.path, int(rank[e.label]), e.line) for e in entries]

    def get_gt_labels(self) -> np.ndarray:
        """Labels of all samples, int64, shape (N,)."""
        return np.array([self.get_data_info(i)['gt_label'] for i in range(len(self))],
                        dtype=np.int64)

    def extra_repr(self) -> List[str]:
        return [f'Annotation file: \t{self.ann_file}', f'Prefix of images: \t{self.img_prefix}']


@DATASETS.register_module()
class ImageNetLT(TxtListDataset):
    """ImageNet-LT (Liu et al., CVPR 2019): :class:`TxtListDataset` with the 1000 ImageNet
    class names; labels must be in ``[0, 1000)``.

    ImageNet-LT keeps 115.8k training images (1280 to 5 per class, Pareto-distributed) of
    ImageNet-2012; val 20k and test 50k are balanced (20 / 50 per class). Shot groups by training
    count: many > 100, medium 20-100, few < 20.

    Example:
        >>> train = dict(type='ImageNetLT', data_root='data/imagenet',
        ...              ann_file='ImageNet_LT_train.txt', pipeline=[...])
        >>> test = dict(type='ImageNetLT', data_root='data/imagenet',
        ...             ann_file='ImageNet_LT_test.txt', pipeline=[...], test_mode=True)
    """
    METAINFO = {'classes': IMAGENET_CATEGORIES}

