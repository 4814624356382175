"""Label re-indexing by descending training frequency (TxtListDataset / ImageNetLT
``frequency_ann_file``), checked against a hand-made mapping; IIF and shot counts follow it."""
import numpy as np
import pytest

from gated_mm.datasets.imagenet_lt import (ImageNetLT, TxtListDataset, frequency_order,
                                           read_txt_list)
from gated_mm.datasets import class_counts_from

# training counts per original label 0..4: 2, 5, 1, 5, 3
#   descending, ties by index: 1 (5), 3 (5), 4 (3), 0 (2), 2 (1)
#   so old -> new: 0 -> 3, 1 -> 0, 2 -> 4, 3 -> 1, 4 -> 2
TRAIN = [0] * 2 + [1] * 5 + [2] * 1 + [3] * 5 + [4] * 3
EXPECTED = {0: 3, 1: 0, 2: 4, 3: 1, 4: 2}


@pytest.fixture
def lists(tmp_path):
    (tmp_path / 'train.txt').write_text(
        ''.join(f'train/{c}/{i}.jpg {c}\n' for i, c in enumerate(TRAIN)))
    (tmp_path / 'test.txt').write_text(''.join(f'val/{c}.jpg {c}\n' for c in range(5)))
    return tmp_path


def test_frequency_order_ties_and_errors():
    counts = np.bincount(TRAIN)
    assert frequency_order(counts).tolist() == [1, 3, 4, 0, 2]
    assert sorted(frequency_order(counts, 'numpy').tolist()) == [0, 1, 2, 3, 4]
    assert frequency_order(counts, 'numpy').tolist() == np.argsort(-counts).tolist()
    with pytest.raises(ValueError, match="tie_break must be 'index' or 'numpy'"):
        frequency_order(counts, 'random')


def test_train_and_test_relabelled_with_training_frequencies(lists):
    train = TxtListDataset(ann_file='train.txt', data_root=str(lists),
                           frequency_ann_file='train.txt')
    test = TxtListDataset(ann_file='test.txt', data_root=str(lists),
                          frequency_ann_file='train.txt')
    assert train.get_gt_labels().tolist() == [EXPECTED[c] for c in TRAIN]
    assert test.get_gt_labels().tolist() == [EXPECTED[c] for c in range(5)]
    assert train.label_map.tolist() == [EXPECTED[c] for c in range(5)]
    # class names move with the labels; the counts are now descending
    assert train.metainfo['classes'] == ('1', '3', '4', '0', '2')
    counts = class_counts_from(train_dataset=train)
    assert counts.tolist() == [5, 5, 3, 2, 1]
    # paths are untouched
    assert test.get_data_info(2)['img_path'].endswith('val/2.jpg')
    plain = TxtListDataset(ann_file='test.txt', data_root=str(lists))
    assert plain.get_gt_labels().tolist() == [0, 1, 2, 3, 4] and plain.label_map is None


def test_imagenet_lt_names_follow_and_unseen_classes_go_last(lists):
    ds = ImageNetLT(ann_file='test.txt', data_root=str(lists), frequency_ann_file='train.txt')
    names = ds.metainfo['classes']
    assert len(names) == 1000
    from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
    assert names[0] == IMAGENET_CATEGORIES[1] and names[4] == IMAGENET_CATEGORIES[2]
    assert names[5] == IMAGENET_CATEGORIES[5]  # count 0: after every seen class, index order
    # a config-built training set gives IIF / ShotAccuracy counts in the new order
    counts = class_counts_from(train_dataset=dict(
        type='ImageNetLT', ann_file='train.txt', data_root=str(lists),
        frequency_ann_file='train.txt'))
    assert counts[:6].tolist() == [5, 5, 3, 2, 1, 0] and len(counts) == 1000


def test_bad_frequency_file_is_named(lists):
    (lists / 'bad.txt').write_text('a.jpg 0\nb.jpg x\n')
    with pytest.raises(ValueError, match=r'bad.txt, line 2'):
        TxtListDataset(ann_file='test.txt', data_root=str(lists), frequency_ann_file='bad.txt')
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        TxtListDataset(ann_file='test.txt', data_root=str(lists), frequency_ann_file='nope.txt')
    assert len(read_txt_list(str(lists / 'train.txt'))) == len(TRAIN)
