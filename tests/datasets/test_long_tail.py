"""LongTailDataset and the CIFAR-LT count formula."""
import random
from decimal import ROUND_FLOOR, Decimal, getcontext

import numpy as np
import pytest
import torch
from mmpretrain.datasets import BaseDataset

from gated_mm.datasets.long_tail import LongTailDataset, long_tail_counts


def exact_counts(n_max, num_classes, rho):
    """floor(n_max * rho ** (-i / (C - 1))) in 50-digit decimal arithmetic."""
    getcontext().prec = 50
    out = []
    for i in range(num_classes):
        value = Decimal(n_max) * Decimal(rho) ** (Decimal(-i) / Decimal(num_classes - 1))
        out.append(int(value.to_integral_value(rounding=ROUND_FLOOR)))
    return out


class ToyDataset(BaseDataset):
    """In-memory dataset: sample i is dict(gt_label=labels[i], value=i)."""

    def __init__(self, labels, num_classes=None, **kwargs):
        self._labels = list(labels)
        num_classes = num_classes or max(self._labels) + 1
        super().__init__(ann_file='', classes=[f'c{i}' for i in range(num_classes)], **kwargs)

    def load_data_list(self):
        return [dict(gt_label=int(c), value=i) for i, c in enumerate(self._labels)]


def toy_labels(per_class, seed=123):
    labels = np.repeat(np.arange(len(per_class)), per_class)
    np.random.default_rng(seed).shuffle(labels)  # classes interleaved, not in blocks
    return labels.tolist()


@pytest.mark.parametrize('n_max,num_classes,rho', [(6000, 10, 100), (5000, 10, 100),
                                                   (500, 100, 100), (500, 100, 10),
                                                   (1000, 7, 3.5), (60, 10, 1),
                                                   (1000, 6, 32), (1024, 6, 32)])
def test_counts_match_exact_arithmetic(n_max, num_classes, rho):
    assert long_tail_counts(n_max, num_classes, rho).tolist() == exact_counts(
        n_max, num_classes, rho)


def test_counts_match_published_cifar_lt_sizes():
    # Published CIFAR-LT training-set sizes (Cao et al. 2019 / Cui et al. 2019).
    assert long_tail_counts(5000, 10, 100).tolist() == [
        5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert long_tail_counts(5000, 10, 100).sum() == 12406
    assert long_tail_counts(5000, 10, 10).sum() == 20431
    assert long_tail_counts(500, 100, 100).sum() == 10847
    assert long_tail_counts(500, 100, 10).sum() == 19573
    # Fashion-MNIST-LT (n_max 6000, rho 100), as documented in FashionMNISTLT.
    assert long_tail_counts(6000, 10, 100).tolist() == [
        6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]


def test_exact_integers_are_not_truncated_by_rounding_error():
    # 1000 * 32 ** (-i / 5) = 1000 / 2 ** i exactly; float64 gives 249.99999999999997 at i = 2
    assert long_tail_counts(1000, 6, 32).tolist() == [1000, 500, 250, 125, 62, 31]


def test_single_class_and_bad_ratio():
    assert long_tail_counts(7, 1, 100).tolist() == [7]
    with pytest.raises(ValueError, match='imbalance_ratio must be'):
        long_tail_counts(10, 3, 0.5)


def test_subset_counts_labels_and_items():
    labels = toy_labels([50] * 5)
    inner = ToyDataset(labels)
    lt = LongTailDataset(inner, imbalance_ratio=10)
    expected = exact_counts(50, 5, 10)  # [50, 28, 15, 8, 5]
    assert expected == [50, 28, 15, 8, 5]
    assert lt.class_counts.tolist() == expected
    assert len(lt) == sum(expected)
    assert np.bincount(lt.get_gt_labels(), minlength=5).tolist() == expected
    assert lt.metainfo['classes'] == tuple(f'c{i}' for i in range(5))

    idx = lt.indices
    assert (np.diff(idx) > 0).all(), 'kept indices must be unique and in dataset order'
    for k in range(len(lt)):
        item = lt[k]  # through the inner pipeline (empty here): the data info dict
        assert item['value'] == idx[k]
        assert item['gt_label'] == labels[idx[k]] == lt.get_cat_ids(k)[0]
        assert lt.get_data_info(k)['value'] == idx[k]


def test_inner_pipeline_is_applied():

    def tag(results):
        results['tagged'] = results['value'] * 10
        return results

    lt = LongTailDataset(ToyDataset(toy_labels([6, 6, 6]), pipeline=[tag]), imbalance_ratio=2)
    assert lt.class_counts.tolist() == exact_counts(6, 3, 2)  # [6, 4, 3]
    assert all(lt[k]['tagged'] == 10 * lt.indices[k] for k in range(len(lt)))


def test_deterministic_and_independent_of_global_rngs():
    labels = toy_labels([40] * 4)
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    first = LongTailDataset(ToyDataset(labels), imbalance_ratio=8).indices
    random.seed(999)
    np.random.seed(999)
    torch.manual_seed(999)
    np.random.rand(17), torch.rand(5), random.random()
    second = LongTailDataset(ToyDataset(labels), imbalance_ratio=8).indices
    assert np.array_equal(first, second)

    other_seed = LongTailDataset(ToyDataset(labels), imbalance_ratio=8, seed=1)
    assert other_seed.class_counts.tolist() == exact_counts(40, 4, 8)
    assert not np.array_equal(first, other_seed.indices)
    # Subsampled classes really are random subsets, not the first n_i of each class.
    lab = np.asarray(labels)
    first_of_class3 = np.flatnonzero(lab == 3)[:exact_counts(40, 4, 8)[3]]
    assert not np.array_equal(np.intersect1d(first, np.flatnonzero(lab == 3)), first_of_class3)


def test_nested_subsets_for_same_seed():
    labels = toy_labels([30] * 4)
    small = set(LongTailDataset(ToyDataset(labels), imbalance_ratio=20).indices.tolist())
    large = set(LongTailDataset(ToyDataset(labels), imbalance_ratio=2).indices.tolist())
    assert small < large


def test_max_per_class_and_class_order():
    labels = toy_labels([30] * 4)
    lt = LongTailDataset(ToyDataset(labels), imbalance_ratio=4, max_per_class=20,
                         class_order=[2, 0, 3, 1])
    ranks = exact_counts(20, 4, 4)  # [20, 12, 7, 5]
    expected = [0] * 4
    for rank, c in enumerate([2, 0, 3, 1]):
        expected[c] = ranks[rank]
    assert lt.class_counts.tolist() == expected
    by_name = LongTailDataset(ToyDataset(labels), imbalance_ratio=4, max_per_class=20,
                              class_order=['c2', 'c0', 'c3', 'c1'])
    assert np.array_equal(by_name.indices, lt.indices)
    with pytest.raises(ValueError, match='class_order must list every class'):
        LongTailDataset(ToyDataset(labels), class_order=[0, 1, 1, 3])


def test_dict_config_and_lazy_init(tmp_path):
    ann = tmp_path / 'list.txt'
    labels = toy_labels([12, 12, 12])
    ann.write_text(''.join(f'img_{i}.png {c}\n' for i, c in enumerate(labels)))
    cfg = dict(type='TxtListDataset', ann_file=str(ann))
    lt = LongTailDataset(cfg, imbalance_ratio=4, lazy_init=True)
    assert not lt._fully_initialized
    assert lt.class_counts.tolist() == exact_counts(12, 3, 4)  # forces full_init
    assert lt._fully_initialized
    eager = LongTailDataset(cfg, imbalance_ratio=4)
    assert np.array_equal(eager.indices, lt.indices)
    assert lt.get_data_info(0)['img_path'] == f'img_{lt.indices[0]}.png'


def test_error_when_a_class_is_too_small():
    labels = toy_labels([50, 50, 50, 3, 50])
    with pytest.raises(ValueError) as err:
        LongTailDataset(ToyDataset(labels), imbalance_ratio=10)
    msg = str(err.value)
    # class 3 needs floor(50 * 10 ** (-3/4)) = 8 but has 3
    assert "class 3 ('c3') needs 8 samples" in msg and 'has only 3' in msg
    assert '\n' not in msg
    with pytest.raises(ValueError, match='needs 40 samples.*has only 30'):
        LongTailDataset(ToyDataset(toy_labels([30, 30])), max_per_class=40)


def test_error_for_ratio_below_one():
    with pytest.raises(ValueError, match=r'imbalance_ratio must be >= 1.*got 0\.5'):
        LongTailDataset(ToyDataset([0, 1]), imbalance_ratio=0.5)


def test_registered():
    from mmpretrain.registry import DATASETS
    assert DATASETS.get('LongTailDataset') is LongTailDataset
