"""Fashion-MNIST look-up and Fashion-MNIST-LT, on the real files of the Debian package
``dataset-fashion-mnist`` (and on small synthetic IDX files for the look-up rules)."""
import gzip
import logging
import os
import os.path as osp
from decimal import ROUND_FLOOR, Decimal, getcontext

import numpy as np
import pytest

import gated_mm.datasets.fashion_mnist as fm
from gated_mm.datasets.fashion_mnist import (FASHION_MNIST_FILES, FashionMNISTLT,
                                             GatedFashionMNIST, find_fashion_mnist)

DEBIAN = '/usr/share/datasets/fashion-mnist'
HAVE_DEBIAN = all(osp.isfile(osp.join(DEBIAN, f + '.gz')) for f in FASHION_MNIST_FILES)
needs_debian = pytest.mark.skipif(
    not HAVE_DEBIAN, reason='real Fashion-MNIST missing: run `apt-get install -y '
    'dataset-fashion-mnist` (Debian package, files in /usr/share/datasets/fashion-mnist)')
PACK = [dict(type='PackInputs')]
DOCUMENTED_TRAIN_COUNTS = [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]


def exact_counts(n_max, num_classes, rho):
    getcontext().prec = 50
    return [
        int((Decimal(n_max) * Decimal(rho)**(Decimal(-i) / Decimal(num_classes - 1))
             ).to_integral_value(rounding=ROUND_FLOOR)) for i in range(num_classes)
    ]


def read_idx(path):
    """Independent IDX reader (gzip or plain): big-endian dims after a 4-byte magic."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    assert data[:3] == b'\x00\x00\x08'  # uint8 payload
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_idx(path, arr):
    header = bytes([0, 0, 8, arr.ndim]) + b''.join(int(d).to_bytes(4, 'big') for d in arr.shape)
    opener = gzip.open if str(path).endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes())


def synthetic_tree(folder, gz=True, per_class=2):
    """Small Fashion-MNIST-shaped IDX files; returns {name: array}."""
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (('train', 10 * per_class), ('t10k', 10)):
        labels = np.tile(np.arange(10, dtype=np.uint8), n // 10)
        rng.shuffle(labels)
        arrays[f'{split}-images-idx3-ubyte'] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f'{split}-labels-idx1-ubyte'] = labels
    for name, arr in arrays.items():
        write_idx(folder / (name + ('.gz' if gz else '')), arr)
    return arrays


@pytest.fixture
def no_system_data(tmp_path, monkeypatch):
    """No Debian folder and an empty cache; downloads fail loudly if attempted."""
    monkeypatch.setattr(fm, 'DEBIAN_DIRS', (str(tmp_path / 'no-debian'), ))
    monkeypatch.setenv('GATED_MM_CACHE', str(tmp_path / 'cache'))

    def no_download(*args, **kwargs):
        raise OSError('no network in this test')

    monkeypatch.setattr(fm, 'download_and_extract_archive', no_download)
    return tmp_path


@pytest.fixture(scope='module')
def real(tmp_path_factory):
    """Real data decompressed from the Debian package into a fresh cache (once)."""
    if not HAVE_DEBIAN:
        pytest.skip('real Fashion-MNIST missing: run `apt-get install -y dataset-fashion-mnist`')
    cache = tmp_path_factory.mktemp('gated_mm_cache')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('GATED_MM_CACHE', str(cache))
        mp.setattr(fm, 'download_and_extract_archive',
                   lambda *a, **k: pytest.fail('download attempted although Debian data exist'))
        train = FashionMNISTLT(split='train', pipeline=PACK)
        test = FashionMNISTLT(split='test', pipeline=PACK)
        yield dict(cache=str(cache), train=train, test=test,
                   raw={f: read_idx(osp.join(DEBIAN, f + '.gz')) for f in FASHION_MNIST_FILES})


@needs_debian
def test_real_train_split_is_long_tailed(real):
    train, raw = real['train'], real['raw']
    raw_labels = raw['train-labels-idx1-ubyte']
    assert np.bincount(raw_labels).tolist() == [6000] * 10  # the real balanced train set
    assert train.class_counts.tolist() == exact_counts(6000, 10, 100) == DOCUMENTED_TRAIN_COUNTS
    assert len(train) == sum(DOCUMENTED_TRAIN_COUNTS) == 14886
    assert np.array_equal(train.get_gt_labels(), raw_labels[train.indices])
    for k in (0, 1, len(train) // 2, len(train) - 1):
        out = train[k]
        ori = train.indices[k]
        assert tuple(out['inputs'].shape) == (1, 28, 28)
        assert np.array_equal(out['inputs'][0].numpy(), raw['train-images-idx3-ubyte'][ori])
        assert out['data_samples'].gt_label.item() == raw_labels[ori]


@needs_debian
def test_real_test_split_is_balanced_test_files(real):
    test, raw = real['test'], real['raw']
    assert len(test) == 10000
    assert test.class_counts.tolist() == [1000] * 10
    assert np.array_equal(test.indices, np.arange(10000))
    assert np.array_equal(test.get_gt_labels(), raw['t10k-labels-idx1-ubyte'])
    for k in (0, 4321, 9999):
        img = test[k]['inputs'][0].numpy()
        assert np.array_equal(img, raw['t10k-images-idx3-ubyte'][k])
    # really the test files (mmpretrain 1.2.0's FashionMNIST picks files by test_mode)
    assert not np.array_equal(test[0]['inputs'][0].numpy(), raw['train-images-idx3-ubyte'][0])
    assert test.dataset.test_mode is True


@needs_debian
def test_debian_files_decompressed_once_into_cache(real, monkeypatch):
    cache_dir = osp.join(real['cache'], 'data', 'fashion-mnist')
    for name in FASHION_MNIST_FILES:
        assert osp.isfile(osp.join(cache_dir, name))
        assert not osp.exists(osp.join(DEBIAN, name))  # system folder untouched
    assert np.array_equal(read_idx(osp.join(cache_dir, 't10k-labels-idx1-ubyte')),
                          real['raw']['t10k-labels-idx1-ubyte'])
    mtimes = [os.stat(osp.join(cache_dir, n)).st_mtime_ns for n in FASHION_MNIST_FILES]
    monkeypatch.setenv('GATED_MM_CACHE', real['cache'])
    monkeypatch.setattr(fm.gzip, 'open', lambda *a, **k: pytest.fail('decompressed again'))
    assert find_fashion_mnist() == cache_dir
    assert [os.stat(osp.join(cache_dir, n)).st_mtime_ns for n in FASHION_MNIST_FILES] == mtimes


@needs_debian
def test_shot_groups_from_fashion_mnist_lt_train(real):
    from gated_mm.evaluation import ShotAccuracy
    metric = ShotAccuracy(train_dataset=real['train'], many_thr=1000, few_thr=200)
    assert metric.class_counts.tolist() == DOCUMENTED_TRAIN_COUNTS
    assert {k: v.tolist() for k, v in metric.groups.items()} == {
        'many': [0, 1, 2, 3], 'medium': [4, 5, 6], 'few': [7, 8, 9]}


def test_given_data_root_with_gz_files_is_used_first(tmp_path, monkeypatch):
    monkeypatch.setenv('GATED_MM_CACHE', str(tmp_path / 'cache'))
    arrays = synthetic_tree(tmp_path / 'mine', gz=True)
    ds = GatedFashionMNIST(data_root=str(tmp_path / 'mine'), split='train', pipeline=PACK)
    for name in FASHION_MNIST_FILES:  # decompressed next to the .gz (writable folder)
        assert osp.isfile(tmp_path / 'mine' / name)
    assert not osp.exists(tmp_path / 'cache' / 'data')
    assert len(ds) == 20
    assert ds.get_gt_labels().tolist() == arrays['train-labels-idx1-ubyte'].tolist()
    assert np.array_equal(ds[5]['inputs'][0].numpy(), arrays['train-images-idx3-ubyte'][5])
    test = GatedFashionMNIST(data_root=str(tmp_path / 'mine'), split='test')
    assert test.get_gt_labels().tolist() == arrays['t10k-labels-idx1-ubyte'].tolist()


def test_read_only_data_root_with_gz_extracts_into_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('GATED_MM_CACHE', str(tmp_path / 'cache'))
    synthetic_tree(tmp_path / 'ro', gz=True)
    ro = str(tmp_path / 'ro')
    real_access = os.access
    monkeypatch.setattr(fm.os, 'access',
                        lambda p, m: False if str(p) == ro else real_access(p, m))
    root = find_fashion_mnist(ro)
    assert root.startswith(str(tmp_path / 'cache' / 'data' / 'fashion-mnist-'))
    assert sorted(os.listdir(root)) == sorted(FASHION_MNIST_FILES)
    assert not osp.exists(osp.join(ro, FASHION_MNIST_FILES[0]))


def test_extracted_data_root_and_long_tail_on_it(tmp_path, no_system_data):
    arrays = synthetic_tree(tmp_path / 'plain', gz=False, per_class=4)
    assert find_fashion_mnist(str(tmp_path / 'plain')) == str(tmp_path / 'plain')
    lt = FashionMNISTLT(data_root=str(tmp_path / 'plain'), imbalance_ratio=4)
    assert lt.class_counts.tolist() == exact_counts(4, 10, 4)  # [4, 3, 3, 2, ...]
    labels = arrays['train-labels-idx1-ubyte']
    assert np.array_equal(lt.get_gt_labels(), labels[lt.indices])


def test_download_is_last_resort(tmp_path, no_system_data, monkeypatch):
    calls = []
    src = synthetic_tree(tmp_path / 'server', gz=True)

    def fake_download(url, download_root, filename, md5):
        calls.append(filename)
        assert url.endswith(filename)
        name = filename[:-3]
        write_idx(osp.join(download_root, name), src[name])

    monkeypatch.setattr(fm, 'download_and_extract_archive', fake_download)
    root = find_fashion_mnist()
    assert root == str(tmp_path / 'cache' / 'data' / 'fashion-mnist')
    assert sorted(calls) == sorted(f + '.gz' for f in FASHION_MNIST_FILES)
    calls.clear()
    assert find_fashion_mnist() == root and calls == []  # found in the cache next time


def test_missing_data_error_lists_folders_and_fix(tmp_path, no_system_data):
    with pytest.raises(FileNotFoundError) as err:
        find_fashion_mnist(str(tmp_path / 'empty'), download=False)
    msg = str(err.value)
    assert '\n' not in msg
    for part in (str(tmp_path / 'empty'), str(tmp_path / 'no-debian'),
                 str(tmp_path / 'cache' / 'data' / 'fashion-mnist'), 'download=False',
                 'apt-get install -y dataset-fashion-mnist', 'pass data_root='):
        assert part in msg, part
    with pytest.raises(FileNotFoundError, match=r'download into .*OSError: no network in this '
                       r'test.*apt-get install -y dataset-fashion-mnist'):
        FashionMNISTLT(split='test')


def test_registered():
    from mmpretrain.registry import DATASETS
    assert DATASETS.get('FashionMNISTLT') is FashionMNISTLT
    assert DATASETS.get('GatedFashionMNIST') is GatedFashionMNIST


def test_misspelt_data_root_says_which_copy_and_is_never_created(tmp_path, no_system_data,
                                                                 monkeypatch):
    """A data_root that does not exist: the system copy is used with a warning naming both
    folders; a download goes to the cache, never into a newly created misspelt folder."""
    logged = []
    monkeypatch.setattr(fm, 'print_log', lambda msg, **kw: logged.append((msg, kw.get('level'))))
    system = tmp_path / 'system'
    synthetic_tree(system, gz=False)
    monkeypatch.setattr(fm, 'DEBIAN_DIRS', (str(system), ))
    typo = tmp_path / 'fahsion-mnist'
    assert find_fashion_mnist(str(typo)) == str(system)
    assert logged == [(f'Fashion-MNIST: data_root {typo} has no idx files (misspelt?); using '
                       f'the copy in {system}', logging.WARNING)]
    logged.clear()
    assert find_fashion_mnist(str(system)) == str(system)
    assert logged == [(f'Fashion-MNIST: using the copy in {system}', None)]

    monkeypatch.setattr(fm, 'DEBIAN_DIRS', (str(tmp_path / 'no-debian'), ))
    src = synthetic_tree(tmp_path / 'server', gz=True)
    monkeypatch.setattr(fm, 'download_and_extract_archive', lambda url, download_root, filename,
                        md5: write_idx(osp.join(download_root, filename[:-3]),
                                       src[filename[:-3]]))
    cache = str(tmp_path / 'cache' / 'data' / 'fashion-mnist')
    assert find_fashion_mnist(str(typo)) == cache
    assert not osp.exists(typo)
