"""Datasets' labels and class count vs the head's num_classes, checked before training/testing.

Before: a list-file label >= num_classes was found only by torch mid-epoch (``IndexError:
Target 7 is out of bounds``), and a head with more classes than the training set trained a
whole epoch before ``ShotAccuracy`` refused it."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from gated_mm.engine import ClassCountMismatchError, check_dataset_classes

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS_CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_cls.py')


class _Set:
    def __init__(self, labels, classes=None, ann_file='data/x/train.txt'):
        self._labels = labels
        self.metainfo = {'classes': classes} if classes is not None else {}
        self.ann_file = ann_file

    def get_gt_labels(self):
        return self._labels


def test_label_outside_the_head_names_file_numbers_and_fix():
    ds = _Set([0, 1, 2, 7, 7], classes=tuple(str(i) for i in range(8)))
    with pytest.raises(ClassCountMismatchError) as e:
        check_dataset_classes(3, ds, 'train_dataloader.dataset', training=True)
    msg = str(e.value)
    assert msg == ('train_dataloader.dataset (_Set, data/x/train.txt): label 7 (sample 3; 2 of 5 '
                   'labels outside 0..2) does not fit model.head.num_classes=3: set '
                   'model.head.num_classes=8 (and data_preprocessor.num_classes) or fix the '
                   'labels of the dataset')


def test_head_with_more_classes_than_the_training_set():
    named = _Set([0, 1, 2], classes=('a', 'b', 'c'))
    with pytest.raises(ClassCountMismatchError, match=r'^model.head.num_classes=5 but '
                       r'train_dataloader.dataset \(_Set, data/x/train.txt\) has 3 classes: '
                       r'set model.head.num_classes=3'):
        check_dataset_classes(5, named, 'train_dataloader.dataset', training=True)
    # unnamed classes (counted from the labels): the hint says how to keep num_classes
    counted = _Set([0, 1, 2], classes=('0', '1', '2'))
    with pytest.raises(ClassCountMismatchError, match=r"counted from the labels.*name all 5 "
                       r"classes with the dataset's classes="):
        check_dataset_classes(5, counted, 'train_dataloader.dataset', training=True)
    # a validation set may lack classes, but not have more
    check_dataset_classes(5, named, 'val_dataloader.dataset', training=False)
    with pytest.raises(ClassCountMismatchError, match='has 3 classes'):
        check_dataset_classes(2, _Set([0, 1, 1], classes=('a', 'b', 'c')),
                              'val_dataloader.dataset', training=False)
    check_dataset_classes(3, named, 'train_dataloader.dataset', training=True)  # fits
    check_dataset_classes(3, _Set([[0, 1], [2]]), 'train_dataloader.dataset', True)  # multi-label


# ---------------------------------------------------------------- real runs of the tools
@pytest.fixture(scope='module')
def list_data(tmp_path_factory):
    """6 PNG images and list files: labels 0..2 (fits 3 classes) and one with label 7."""
    from PIL import Image
    root = tmp_path_factory.mktemp('list_cls')
    rng = np.random.default_rng(0)
    lines = []
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
            root / f'{i}.png')
        lines.append(f'{i}.png {i % 3}')
    (root / 'ok.txt').write_text('\n'.join(lines) + '\n')
    lines[4] = '4.png 7'
    (root / 'bad.txt').write_text('\n'.join(lines) + '\n')
    return str(root)


def _tool(name, *args):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', name), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def _list_options(root, train='ok.txt', test='ok.txt', **extra):
    opts = []
    for split, ann in (('train', train), ('val', 'ok.txt'), ('test', test)):
        opts += [f'{split}_dataloader.dataset.type=TxtListDataset',
                 f'{split}_dataloader.dataset.data_root={root}',
                 f'{split}_dataloader.dataset.ann_file={ann}']
    return ['--cfg-options', *opts, *[f'{k}={v}' for k, v in extra.items()]]


def test_train_refuses_a_list_label_outside_the_head(list_data, tmp_path):
    proc = _tool('train.py', CLS_CONFIG, '--work-dir', str(tmp_path),
                 *_list_options(list_data, train='bad.txt'))
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (f'train.py: error: train_dataloader.dataset (TxtListDataset, '
                    f'{osp.join(list_data, "bad.txt")}): label 7 (sample 4; 1 of 6 labels '
                    f'outside 0..2) does not fit model.head.num_classes=3: set '
                    f'model.head.num_classes=8 (and data_preprocessor.num_classes) or fix the '
                    f'labels of the dataset')
    assert not osp.exists(tmp_path / 'iter_1.pth')  # stopped before the first iteration
    assert 'Iter(train)' not in proc.stdout + proc.stderr


def test_train_refuses_a_head_with_more_classes(list_data, tmp_path):
    proc = _tool('train.py', CLS_CONFIG, '--work-dir', str(tmp_path),
                 *_list_options(list_data, **{'model.head.num_classes': 5}))
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('train.py: error: model.head.num_classes=5 but '
                           'train_dataloader.dataset (TxtListDataset, ')
    assert 'has 3 classes (counted from the labels: max label + 1)' in last
    assert 'Iter(train)' not in proc.stdout + proc.stderr
    # the opt-out trains (the data preprocessor's num_classes=3 is not used by this model)
    proc = _tool('train.py', CLS_CONFIG, '--work-dir', str(tmp_path),
                 *_list_options(list_data, **{'model.head.num_classes': 5,
                                              'train_cfg.max_iters': 1,
                                              'check_class_counts': False}))
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_test_py_refuses_test_labels_outside_the_head(list_data, tmp_path):
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import gated_mm  # noqa: F401
    model = MODELS.build(Config.fromfile(CLS_CONFIG).model)
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    proc = _tool('test.py', CLS_CONFIG, ckpt, '--work-dir', str(tmp_path),
                 *_list_options(list_data, test='bad.txt'))
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('test.py: error: test_dataloader.dataset (TxtListDataset, ')
    assert 'label 7 (sample 4;' in last
    assert not osp.exists(tmp_path / 'test_metrics.json')
    proc = _tool('test.py', CLS_CONFIG, ckpt, '--work-dir', str(tmp_path),
                 *_list_options(list_data))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.exists(tmp_path / 'test_metrics.json')
