"""Fashion-MNIST with data-root lookup, and its long-tailed version Fashion-MNIST-LT.

Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017; Zalando, MIT licence): 28x28 grey images of
10 clothing classes, 6000 train / 1000 test images per class, stored as four IDX files.

Lookup order for the IDX files (:func:`find_fashion_mnist`):

1. the given ``data_root``, if it holds the four files (extracted, or ``.gz``: these are
   decompressed next to them, or into the cache when the folder is read-only);
2. ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``: ``.gz``
   files in a read-only folder), decompressed once into ``$GATED_MM_CACHE/data/fashion-mnist``
   (``GATED_MM_CACHE`` defaults to ``~/.cache/gated_mm``);
3. files already decompressed or downloaded into that cache folder;
4. mmpretrain's download (``download=True``) into ``data_root`` if given, else the cache folder.
"""
import gzip
import hashlib
import logging
import os
import os.path as osp
import shutil
import socket
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log

from mmpretrain.datasets import FashionMNIST
from mmpretrain.datasets.utils import download_and_extract_archive
from mmpretrain.registry import DATASETS
from .long_tail import LongTailDataset

__all__ = [
    'GatedFashionMNIST', 'FashionMNISTLT', 'find_fashion_mnist', 'fashion_mnist_cache_dir',
    'FASHION_MNIST_FILES', 'DEBIAN_DIRS'
]

#: Extracted IDX file names mmpretrain's ``FashionMNIST`` reads (train images/labels, test ...).
FASHION_MNIST_FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
                       't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
#: System folders searched after ``data_root`` (Debian package ``dataset-fashion-mnist``).
DEBIAN_DIRS = ('/usr/share/datasets/fashion-mnist', )
_IDX_MAGIC = {'images': 0x00000803, 'labels': 0x00000801}
_DOWNLOAD_TIMEOUT_S = 60


def fashion_mnist_cache_dir() -> str:
    """Writable folder for decompressed / downloaded files:
    ``$GATED_MM_CACHE/data/fashion-mnist`` (``GATED_MM_CACHE`` defaults to
    ``~/.cache/gated_mm``)."""
    cache = os.environ.get('GATED_MM_CACHE') or osp.join('~', '.cache', 'gated_mm')
    return osp.join(osp.expanduser(cache), 'data', 'fashion-mnist')


def _state(folder: str) -> Optional[str]:
    """'extracted' if all four files are there uncompressed, 'gz' if each is there either
    uncompressed or as ``.gz``, else None."""
    if not folder or not osp.isdir(folder):
        return None
    plain = [osp.isfile(osp.join(folder, f)) for f in FASHION_MNIST_FILES]
    if all(plain):
        return 'extracted'
    if all(p or osp.isfile(osp.join(folder, f + '.gz'))
           for p, f in zip(plain, FASHION_MNIST_FILES)):
        return 'gz'
    return None


def _check_idx(path: str) -> None:
    kind = 'images' if 'images' in osp.basename(path) else 'labels'
    with open(path, 'rb') as f:
        magic = int.from_bytes(f.read(4), 'big')
    if magic != _IDX_MAGIC[kind]:
        raise ValueError(f'{path} is not an IDX {kind} file (magic {magic:#010x}, expected '
                         f'{_IDX_MAGIC[kind]:#010x}); delete it and retry')


def _extract(src: str, dst: str) -> None:
    """Decompress ``src/<name>.gz`` to ``dst/<name>`` for each missing file (atomic rename, so
    concurrent processes and interrupted runs never leave a partial file)."""
    os.makedirs(dst, exist_ok=True)
    for name in FASHION_MNIST_FILES:
        out = osp.join(dst, name)
        if osp.isfile(out):
            continue
        plain = osp.join(src, name)
        tmp = f'{out}.tmp-{os.getpid()}'
        try:
            if osp.isfile(plain):
                shutil.copyfile(plain, tmp)
            else:
                with gzip.open(osp.join(src, name + '.gz'), 'rb') as fin, open(tmp, 'wb') as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
            _check_idx(tmp)
            os.replace(tmp, out)
        finally:
            if osp.exists(tmp):
                os.remove(tmp)
        print_log(f'Fashion-MNIST: decompressed {name} from {src} into {dst}', logger='current')


def _download(root: str) -> None:
    """mmpretrain's Fashion-MNIST download (with md5 check and extraction) into ``root``."""
    os.makedirs(root, exist_ok=True)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    try:
        for filename, md5 in FashionMNIST.train_list + FashionMNIST.test_list:
            if osp.isfile(osp.join(root, filename[:-3])):
                continue
            download_and_extract_archive(FashionMNIST.url_prefix + filename,
                                         download_root=root, filename=filename, md5=md5)
    finally:
        socket.setdefaulttimeout(old)


def read_idx(path: str) -> np.ndarray:
    """Read an uncompressed IDX file of uint8 data (Fashion-MNIST / MNIST format).

    Layout (LeCun et al.): bytes 0-1 zero, byte 2 the type (0x08 = uint8), byte 3 the number
    of dimensions ``d``, then ``d`` big-endian uint32 sizes, then the data.

    Returns:
        np.ndarray: uint8, shape ``(N,)`` (labels) or ``(N, 28, 28)`` (images), writable.

    Raises:
        ValueError: Not a uint8 IDX file, or the data size does not match the header.
    """
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 4 or data[:3] != b'\x00\x00\x08':
        raise ValueError(f'{path} is not a uint8 IDX file (header {data[:4]!r}); delete it '
                         f'and retry')
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(dims)):
        raise ValueError(f'{path}: header says shape {tuple(dims)} ({int(np.prod(dims))} '
                         f'bytes) but the file holds {len(data) - offset}; delete it and retry')
    return np.frombuffer(data, np.uint8, offset=offset).reshape(dims).copy()


def _writable(folder: str) -> bool:
    probe = folder
    while probe and not osp.exists(probe):
        parent = osp.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return bool(probe) and os.access(probe, os.W_OK)


def find_fashion_mnist(data_root: Optional[str] = None,
                       download: bool = True,
                       cache_dir: Optional[str] = None) -> str:
    """Folder holding the four extracted Fashion-MNIST IDX files, preparing it if needed.

    Tries, in order: ``data_root`` (extracted files, or ``.gz`` decompressed next to them or,
    if that folder is read-only, into ``<cache_dir>-<hash of the path>``); each folder of
    :data:`DEBIAN_DIRS` (``.gz`` decompressed once into ``cache_dir``); ``cache_dir`` itself;
    and, if ``download``, mmpretrain's download into ``data_root`` (if it is an existing
    folder; a missing, e.g. misspelt, one is never created) or ``cache_dir``. The folder used
    is logged in one line, as a warning when ``data_root`` was given but another copy is used.

    Args:
        data_root (str, optional): Folder given by the user. Defaults to None.
        download (bool): Allow the download as the last resort. Defaults to True.
        cache_dir (str, optional): Writable folder; defaults to
            :func:`fashion_mnist_cache_dir` (``$GATED_MM_CACHE/data/fashion-mnist``).

    Returns:
        str: A folder containing ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``.

    Raises:
        FileNotFoundError: Nothing worked; the one-line message lists every folder tried and
            how to fix it (``apt-get install -y dataset-fashion-mnist`` or ``data_root=``).
    """
    cache_dir = osp.expanduser(cache_dir or fashion_mnist_cache_dir())
    tried: List[str] = []
    given = osp.abspath(osp.expanduser(str(data_root))) if data_root else None

    def used(folder: str) -> str:
        # one line saying which copy is used; a warning when it is not the given data_root
        if given is not None and folder != given:
            print_log(f'Fashion-MNIST: data_root {given} has no idx files (misspelt?); using '
                      f'the copy in {folder}', logger='current', level=logging.WARNING)
        else:
            print_log(f'Fashion-MNIST: using the copy in {folder}', logger='current')
        return folder

    if data_root:
        root = osp.abspath(osp.expanduser(str(data_root)))
        state = _state(root)
        if state == 'extracted':
            return used(root)
        if state == 'gz':
            dst = root if os.access(root, os.W_OK) else (
                f"{cache_dir}-{hashlib.sha1(root.encode()).hexdigest()[:8]}")
            _extract(root, dst)
            return used(dst)
        tried.append(f'{root} (data_root: no idx files)')

    for folder in DEBIAN_DIRS:
        state = _state(folder)
        if state == 'extracted':
            return used(folder)
        if state == 'gz':
            if _state(cache_dir) != 'extracted':
                _extract(folder, cache_dir)
            return used(cache_dir)
        tried.append(f'{folder} (Debian package dataset-fashion-mnist not installed)')

    if _state(cache_dir) == 'extracted':
        return used(cache_dir)
    tried.append(f'{cache_dir} (cache: empty)')

    if download:
        # a data_root that does not exist (e.g. misspelt) is never created: download into
        # the cache folder instead
        target = given if given is not None and osp.isdir(given) else cache_dir
        if not _writable(target):
            tried.append(f'download into {target} (not writable)')
        else:
            try:
                _download(target)
            except Exception as e:  # noqa: BLE001 - reported in the error below
                reason = ' '.join(f'{type(e).__name__}: {e}'.split())
                tried.append(f'download into {target} ({reason})')
            else:
                if _state(target) == 'extracted':
                    return used(target)
                tried.append(f'download into {target} (files missing afterwards)')
    else:
        tried.append('download disabled (download=False)')

    raise FileNotFoundError(
        'Fashion-MNIST idx files not found; tried: ' + '; '.join(tried) +
        '. Fix: `apt-get install -y dataset-fashion-mnist` (files in '
        '/usr/share/datasets/fashion-mnist), or pass data_root= a folder with '
        + ', '.join(f + '[.gz]' for f in FASHION_MNIST_FILES))


@DATASETS.register_module()
class GatedFashionMNIST(FashionMNIST):
    """mmpretrain's ``FashionMNIST`` with data-root lookup and split selection by ``split``.

    The data folder is found by :func:`find_fashion_mnist`: the given ``data_root``, the Debian
    package folder ``/usr/share/datasets/fashion-mnist`` (decompressed once into
    ``$GATED_MM_CACHE/data/fashion-mnist``), the cache, then mmpretrain's download.

    Samples are ``dict(img=uint8 array (28, 28), gt_label=int64)``; ``split='train'`` gives the
    60000 training images (6000 per class), ``split='test'`` the 10000 test images (1000 per
    class). Unlike mmpretrain 1.2.0's ``MNIST``/``FashionMNIST`` (which choose the files by
    ``test_mode``, so ``split='test'`` alone still loads the training files), the files follow
    ``split``; ``test_mode`` defaults to ``split == 'test'``.

    Args:
        data_root (str, optional): Preferred data folder. Defaults to None (look-up only).
        split (str): 'train' or 'test'. Defaults to 'train'.
        download (bool): Allow the download as the last resort. Defaults to True.
        test_mode (bool, optional): mmengine test mode (errors instead of re-sampling when the
            pipeline returns None). Defaults to None: ``split == 'test'``.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset`` (``pipeline``, ``metainfo``,
            ``indices``, ``lazy_init``, ...).

    Raises:
        FileNotFoundError: No data found (one line listing the folders tried and the fix).
        ValueError: ``split`` not in {'train', 'test'}.
    """

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 download: bool = True,
                 test_mode: Optional[bool] = None,
                 data_prefix: str = '',
                 **kwargs):
        if split not in ('train', 'test'):
            raise ValueError(f"GatedFashionMNIST: split must be 'train' or 'test', got {split!r}")
        if test_mode is None:
            test_mode = split == 'test'
        root = find_fashion_mnist(data_root or data_prefix or None, download=download)
        super().__init__(data_root=root, split=split, download=False, test_mode=test_mode,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the IDX files of ``self.split``."""
        root = self.data_prefix['root']
        if not self._check_exists():
            raise FileNotFoundError(f'Fashion-MNIST idx files missing in {root}: expected '
                                    + ', '.join(FASHION_MNIST_FILES))
        prefix = 'train' if self.split == 'train' else 't10k'
        imgs = read_idx(osp.join(root, f'{prefix}-images-idx3-ubyte'))
        labels = read_idx(osp.join(root, f'{prefix}-labels-idx1-ubyte'))
        if imgs.ndim != 3 or labels.ndim != 1 or len(imgs) != len(labels):
            raise ValueError(f'Fashion-MNIST {self.split} files in {root} disagree: '
                             f'images {imgs.shape}, labels {labels.shape}')
        return [
            dict(img=img, gt_label=np.array(label, dtype=np.int64))
            for img, label in zip(imgs, labels)
        ]


@DATASETS.register_module()
class FashionMNISTLT(LongTailDataset):
    """Fashion-MNIST-LT: long-tailed Fashion-MNIST train split, balanced test split.

    ``split='train'``: :class:`LongTailDataset` over :class:`GatedFashionMNIST` (CIFAR-LT
    recipe, Cui et al. 2019 / Cao et al. 2019): class ``c`` (class-index order, or position in
    ``class_order``) keeps ``n_c = floor(n_max * rho ** (-c / 9))`` images. With the defaults
    (``n_max`` = 6000, ``rho`` = 100) the counts are::

        class   0     1     2     3     4    5    6    7    8    9
        n_c   6000  3596  2156  1292   774  464  278  166  100   60   (total 14886)

    (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot).

    ``split='test'``: the balanced test set, all 10000 images (1000 per class) in file order;
    ``imbalance_ratio`` is ignored there (so train and test configs can share a base dict),
    while ``max_per_class`` still gives a smaller balanced subset (e.g. for quick runs).

    Args:
        split (str): 'train' or 'test'. Defaults to 'train'.
        imbalance_ratio (float, optional): ``rho >= 1`` of the train split. Defaults to None:
            100 for 'train'.
        max_per_class (int, optional): ``n_max`` (<= 6000 train, <= 1000 test). Defaults to
            None: all of the largest class.
        class_order (Sequence[int | str], optional): Classes from most to least frequent.
            Defaults to None: class-index order.
        seed (int): Selection seed (global RNGs are never used). Defaults to 0.
        data_root (str, optional): Preferred data folder (see :func:`find_fashion_mnist`).
        download (bool): Allow mmpretrain's download as the last resort. Defaults to True.
        pipeline (Sequence[dict]): Transforms applied to ``dict(img=(28, 28) uint8, ...)``.
        lazy_init (bool): Defer loading until first use. Defaults to False.
        **kwargs: Other arguments of :class:`GatedFashionMNIST` (``test_mode``, ...).

    Example:
        >>> train = dict(type='FashionMNISTLT', split='train', imbalance_ratio=100,
        ...              pipeline=[dict(type='PackInputs')])
        >>> test = dict(type='FashionMNISTLT', split='test', pipeline=[dict(type='PackInputs')])
    """

    def __init__(self,
                 split: str = 'train',
                 imbalance_ratio: Optional[float] = None,
                 max_per_class: Optional[int] = None,
                 class_order: Optional[Sequence[Union[int, str]]] = None,
                 seed: int = 0,
                 data_root: Optional[str] = None,
                 download: bool = True,
                 pipeline: Sequence = (),
                 lazy_init: bool = False,
                 **kwargs):
        if split == 'test':
            if imbalance_ratio not in (None, 1, 1.0):
                print_log(f'FashionMNISTLT: imbalance_ratio={imbalance_ratio} ignored for '
                          f"split='test' (the test split stays balanced)",
                          logger='current', level=logging.WARNING)
            rho = 1.0
        else:
            rho = 100.0 if imbalance_ratio is None else imbalance_ratio
        inner = GatedFashionMNIST(data_root=data_root, split=split, download=download,
                                  pipeline=pipeline, lazy_init=lazy_init, **kwargs)
        self.split = split
        super().__init__(dataset=inner, imbalance_ratio=rho, max_per_class=max_per_class,
                         class_order=class_order, seed=seed, lazy_init=lazy_init)
