#!/usr/bin/env python
"""Convert a COCO-format subset (e.g. $GATED_MM_DATA/coco-mini) into LVIS v1-format files.

    python tools/dataset_converters/coco_to_lvis.py SRC_ROOT OUT_DIR
        [--train-split train2017] [--val-split val2017] [--rare-max 1] [--common-max 3]

Reads ``SRC_ROOT/annotations/instances_<split>.json`` for both splits, checks that every
image is in ``SRC_ROOT/<split>/`` and writes ``OUT_DIR/lvis_v1_train.json`` and
``OUT_DIR/lvis_v1_val.json``: ``coco_url`` fields from which mmdet's ``LVISV1Dataset``
finds ``SRC_ROOT/<split>/<file>`` (so the images stay where they are: use
``data_root=SRC_ROOT`` and ``data_prefix=dict(img='')``), ``neg_category_ids`` /
``not_exhaustive_category_ids`` per image (COCO crowd regions become not-exhaustive),
``image_count`` / ``instance_count`` per category and rare/common/frequent groups from the
*training* image counts. LVIS's thresholds (<= 10 / 11-100 / > 100 images of ~100k) would
make every class of a ~100-image subset rare, so the defaults are scaled for such subsets:
rare <= 1, common 2-3, frequent >= 4 training images. The thresholds used and the group
sizes are printed and stored in each file's ``info``. Details:
``gated_mm/datasets/lvis_convert.py``.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _lvis_convert():
    """gated_mm/datasets/lvis_convert.py of this clone, loaded on its own (standard library
    only): importing the gated_mm package would import all of OpenMMLab (~10 s)."""
    path = osp.join(_REPO, 'gated_mm', 'datasets', 'lvis_convert.py')
    spec = importlib.util.spec_from_file_location('gated_mm_lvis_convert', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fail(msg):
    sys.exit(f'coco_to_lvis.py: error: {msg}')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='COCO-format subset -> LVIS v1-format files')
    p.add_argument('src_root', help='folder with annotations/instances_<split>.json and '
                   '<split>/ image folders')
    p.add_argument('out_dir', help='where lvis_v1_train.json and lvis_v1_val.json go')
    p.add_argument('--train-split', default='train2017')
    p.add_argument('--val-split', default='val2017')
    p.add_argument('--rare-max', type=int, default=1,
                   help='rare: <= this many training images (LVIS: 10)')
    p.add_argument('--common-max', type=int, default=3,
                   help='common: <= this many training images, frequent above (LVIS: 100)')
    return p.parse_args(argv)


def _read(src_root, split):
    path = osp.join(src_root, 'annotations', f'instances_{split}.json')
    if not osp.isfile(path):
        _fail(f'annotation file not found: {path}')
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        _fail(f'{path}: not a JSON file ({e})')
    for key in ('images', 'annotations', 'categories'):
        if key not in data:
            _fail(f'{path}: no "{key}" key; expected COCO instance annotations')
    missing = [img['file_name'] for img in data['images']
               if not osp.isfile(osp.join(src_root, split, img['file_name']))]
    if missing:
        _fail(f'{len(missing)} image(s) of {path} not in {osp.join(src_root, split)}, e.g. '
              f'{missing[0]}')
    return data


def main(argv=None):
    args = parse_args(argv)
    convert_coco_to_lvis = _lvis_convert().convert_coco_to_lvis
    train = _read(args.src_root, args.train_split)
    val = _read(args.src_root, args.val_split)
    try:
        lvis_train, lvis_val = convert_coco_to_lvis(
            train, val, train_dir=args.train_split, val_dir=args.val_split,
            rare_max=args.rare_max, common_max=args.common_max,
            source=osp.abspath(args.src_root))
    except ValueError as e:
        _fail(str(e))
    os.makedirs(args.out_dir, exist_ok=True)
    for name, d in (('lvis_v1_train.json', lvis_train), ('lvis_v1_val.json', lvis_val)):
        path = osp.join(args.out_dir, name)
        with open(path, 'w') as f:
            json.dump(d, f)
        print(f'{path}: {len(d["images"])} images, {len(d["annotations"])} instances')
    info = lvis_train['info']
    print(f'{len(lvis_train["categories"])} categories; {info["frequency_thresholds"]}; '
          f'groups rare/common/frequent = {info["groups"]["r"]}/{info["groups"]["c"]}/'
          f'{info["groups"]["f"]}; {info["num_train_images"]} training images with '
          f'annotations')


if __name__ == '__main__':
    main()
