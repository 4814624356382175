"""Long-tailed datasets, registered in mmpretrain's ``DATASETS``.

* :class:`LongTailDataset`: long-tailed subset of any dataset (CIFAR-LT recipe);
* :class:`TxtListDataset` / :class:`ImageNetLT`: ImageNet-LT style ``<path> <label>`` lists;
* :class:`GatedFashionMNIST` / :class:`FashionMNISTLT`: Fashion-MNIST with data-root look-up
  (Debian package ``dataset-fashion-mnist``), long-tailed train split;
* :class:`ToGrayscale` (``TRANSFORMS``): one-channel input from any image file.
"""
from .fashion_mnist import (FashionMNISTLT, GatedFashionMNIST, fashion_mnist_cache_dir,
                            find_fashion_mnist)
from .imagenet_lt import ImageNetLT, TxtListDataset, read_txt_list
from .long_tail import LongTailDataset, long_tail_counts
from .transforms import ToGrayscale
from .class_counts import class_counts_from  # noqa: F401
from .samplers import RebalancedSampler, sampling_class_probs  # noqa: F401
from .lvis_subset import LVISSubsetDataset, convert_coco_to_lvis, load_category_frequency  # noqa: F401,E501
from .lvis_convert import convert_coco_to_lvis_v1  # noqa: F401

__all__ = [
    'LongTailDataset', 'long_tail_counts', 'TxtListDataset', 'ImageNetLT', 'read_txt_list',
    'GatedFashionMNIST', 'FashionMNISTLT', 'find_fashion_mnist', 'fashion_mnist_cache_dir',
    'ToGrayscale'
]
