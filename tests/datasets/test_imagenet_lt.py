"""TxtListDataset / ImageNetLT on a tiny ImageNet-LT style tree written with PIL."""
import numpy as np
import pytest
from PIL import Image

from gated_mm.datasets.imagenet_lt import ImageNetLT, TxtListDataset, read_txt_list

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


@pytest.fixture
def tree(tmp_path):
    """data_root/train/<wnid>/<name>.{png,JPEG} plus ImageNet-LT style list files."""
    rng = np.random.default_rng(0)
    samples = [('train/n01440764/n01440764_1.png', 0), ('train/n01440764/n01440764_2.png', 0),
               ('train/n01443537/n01443537_7.png', 1), ('train/n01484850/n01484850_3.JPEG', 2),
               ('train/n01484850/with space.png', 2)]
    arrays = {}
    for rel, _ in samples:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        h, w = rng.integers(8, 20, size=2)
        arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        Image.fromarray(arr).save(path, quality=95)
        arrays[rel] = arr
    lines = ['# ImageNet-LT style list', ''] + [f'{rel} {label}' for rel, label in samples]
    (tmp_path / 'ImageNet_LT_train.txt').write_text('\n'.join(lines) + '\n')
    return tmp_path, samples, arrays


def test_parse_and_load_real_images(tree):
    root, samples, arrays = tree
    ds = TxtListDataset(ann_file='ImageNet_LT_train.txt', data_root=str(root),
                        pipeline=PIPELINE)
    assert len(ds) == len(samples)
    assert ds.get_gt_labels().tolist() == [label for _, label in samples]
    assert ds.metainfo['classes'] == ('0', '1', '2')
    for i, (rel, label) in enumerate(samples):
        info = ds.get_data_info(i)
        assert info['img_path'] == str(root / rel)
        out = ds[i]
        img = out['inputs'].numpy().transpose(1, 2, 0)  # CHW BGR uint8 -> HWC
        assert out['data_samples'].gt_label.tolist() == [label]
        assert img.shape == arrays[rel].shape
        if rel.endswith('.png'):  # lossless: exact pixels (mmcv loads BGR)
            assert np.array_equal(img[..., ::-1], arrays[rel])
        else:  # JPEG is lossy: compare with PIL's decoding of the same file
            decoded = np.asarray(Image.open(root / rel).convert('RGB')).astype(int)
            assert np.abs(img[..., ::-1].astype(int) - decoded).max() <= 3


def test_data_prefix_and_imagenet_classes(tree):
    root, samples, _ = tree
    (root / 'lists').mkdir()
    (root / 'lists' / 'train.txt').write_text(''.join(
        f"{rel[len('train/'):]} {label}\n" for rel, label in samples))
    ds = ImageNetLT(ann_file='lists/train.txt', data_root=str(root), data_prefix='train')
    assert len(ds.metainfo['classes']) == 1000
    assert ds.metainfo['classes'][0].startswith('tench')
    assert ds.get_data_info(3)['img_path'] == str(root / samples[3][0])


def test_label_out_of_range_for_imagenet(tmp_path):
    ann = tmp_path / 'list.txt'
    ann.write_text('a.jpg 0\nb.jpg 1000\n')
    with pytest.raises(ValueError, match=r'list\.txt, line 2: label 1000 is out of range '
                       r'for 1000 classes'):
        ImageNetLT(ann_file=str(ann))


@pytest.mark.parametrize('bad', ['only_a_path.jpg', 'img.jpg cat', 'img.jpg -1', 'img.jpg 2.0'])
def test_bad_line_names_file_and_line(tmp_path, bad):
    ann = tmp_path / 'bad_list.txt'
    ann.write_text(f'ok.jpg 0\n\n{bad}\nok2.jpg 1\n')
    with pytest.raises(ValueError) as err:
        TxtListDataset(ann_file=str(ann))
    msg = str(err.value)
    assert msg.startswith(f'{ann}, line 3: expected')
    assert '<integer class label >= 0>' in msg and repr(bad) in msg
    assert '\n' not in msg


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        TxtListDataset(ann_file='nope/ImageNet_LT_train.txt', data_root=str(tmp_path))
    assert str(tmp_path / 'nope' / 'ImageNet_LT_train.txt') in str(err.value)
    assert '\n' not in str(err.value)


def test_read_txt_list_entries(tmp_path):
    ann = tmp_path / 'l.txt'
    ann.write_text('# c\n\n  a/b c.jpg   7  \nx.png 0\n')
    entries = read_txt_list(str(ann))
    assert [(e.path, e.label, e.line) for e in entries] == [('a/b c.jpg', 7, 3), ('x.png', 0, 4)]


def test_registered():
    from mmpretrain.registry import DATASETS
    assert DATASETS.get('TxtListDataset') is TxtListDataset
    assert DATASETS.get('ImageNetLT') is ImageNetLT


def test_corrupt_image_error_names_the_file(tree):
    root, samples, _ = tree
    bad = root / samples[1][0]
    bad.write_bytes(b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4)  # header, then garbage
    ds = TxtListDataset(ann_file='ImageNet_LT_train.txt', data_root=str(root),
                        pipeline=PIPELINE, test_mode=True)
    assert ds[0]['inputs'].shape[0] == 3  # the others still load
    with pytest.raises(Exception, match=f'failed to load image: {bad}'):
        ds[1]
