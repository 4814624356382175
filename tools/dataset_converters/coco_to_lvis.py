#!/usr/bin/env python
"""Convert a COCO-format subset (e.g. $GATED_MM_DATA/coco-mini) into LVIS v1-format files.

    python tools/dataset_converters/coco_to_lvis.py SRC_ROOT OUT_DIR
        [--train-split train2017] [--val-split val2017] [--rare-max 1] [--common-max 3]
    python tools/dataset_converters/coco_to_lvis.py SRC_ROOT OUT_DIR
        --lvis-categories LVIS_CATEGORIES.json [--coco-to-synset coco_to_synset.json]
        [--num-train-images 99388]

Two label spaces:

* default (mini-LVIS): the COCO file's own categories, groups from this subset's counts
  (below);
* ``--lvis-categories``: LVIS v1's real label space, so the unchanged 1,203-class LVIS v1
  configs run on these photos. The file holds LVIS v1's ``categories`` (``id``, ``name``,
  ``synset``, ``synonyms``, ``frequency``, ``image_count``): the LVIS v1 training annotations
  ``lvis_v1_train.json`` (https://www.lvisdataset.org/dataset, only its ``categories`` are
  used) or a file with just that list. Categories, ``image_count``s and r/c/f groups are
  LVIS's; COCO labels are mapped through WordNet synsets with lvis-api's
  ``data/coco_to_synset.json`` (github.com/lvis-dataset/lvis-api; ``--coco-to-synset``, or a
  ``coco_to_lvis`` list in the category file); 79 of COCO's 80 classes map ('hot dog' does not).
  The training file carries ``num_images`` (default 99,388, LVIS v1's training images with
  annotations), the N of GOL / DropLoss's class frequencies image_count / N. Read the files with
  mmdet's own ``LVISV1Dataset``. With the real LVIS v1 files none of this is needed.

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
                   help='rare: <= this many training images (LVIS: 10; mini-LVIS only)')
    p.add_argument('--common-max', type=int, default=3,
                   help='common: <= this many training images, frequent above (LVIS: 100; '
                   'mini-LVIS only)')
    p.add_argument('--lvis-categories', metavar='JSON',
                   help="LVIS v1's categories (lvis_v1_train.json or a file with its "
                   '"categories"): write the files in the real 1,203-class LVIS v1 label space')
    p.add_argument('--coco-to-synset', metavar='JSON',
                   help="lvis-api's data/coco_to_synset.json (COCO class -> WordNet synset), "
                   'if the --lvis-categories file has no "coco_to_lvis" list')
    p.add_argument('--num-train-images', type=int, default=None,
                   help='with --lvis-categories: training-set size N of the class frequencies '
                   'image_count / N stored as "num_images" (default 99388, LVIS v1)')
    args = p.parse_args(argv)
    if args.lvis_categories is None and (args.coco_to_synset or args.num_train_images):
        p.error('--coco-to-synset and --num-train-images need --lvis-categories')
    return args


def _load_json(path, what):
    if not osp.isfile(path):
        _fail(f'{what} not found: {path}')
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        _fail(f'{path}: not a JSON file ({e})')


def _read(src_root, split):
    path = osp.join(src_root, 'annotations', f'instances_{split}.json')
    data = _load_json(path, 'annotation file')
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
    lvis_convert = _lvis_convert()
    train = _read(args.src_root, args.train_split)
    val = _read(args.src_root, args.val_split)
    try:
        if args.lvis_categories:
            vocabulary = _load_json(args.lvis_categories, 'LVIS category file')
            if not isinstance(vocabulary, dict) or 'categories' not in vocabulary:
                _fail(f'{args.lvis_categories}: no "categories" list; expected LVIS v1\'s '
                      f'lvis_v1_train.json or a file with its "categories"')
            synsets = (_load_json(args.coco_to_synset, 'COCO -> synset map')
                       if args.coco_to_synset else None)
            lvis_train, lvis_val = lvis_convert.convert_coco_to_lvis_v1(
                train, val, vocabulary, coco_to_synset=synsets,
                num_train_images=args.num_train_images or lvis_convert.LVIS_V1_TRAIN_IMAGES,
                train_dir=args.train_split, val_dir=args.val_split,
                source=osp.abspath(args.src_root))
        else:
            lvis_train, lvis_val = lvis_convert.convert_coco_to_lvis(
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
    groups = f'{info["groups"]["r"]}/{info["groups"]["c"]}/{info["groups"]["f"]}'
    if args.lvis_categories:
        print(f'{len(lvis_train["categories"])} categories ({info["label_space"]}); groups '
              f'rare/common/frequent = {groups}; class frequencies image_count / '
              f'{info["num_train_images"]} (num_images)')
    else:
        print(f'{len(lvis_train["categories"])} categories; {info["frequency_thresholds"]}; '
              f'groups rare/common/frequent = {groups}; {info["num_train_images"]} training '
              f'images with annotations')


if __name__ == '__main__':
    main()
