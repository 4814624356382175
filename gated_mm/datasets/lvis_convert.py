r"""LVIS-format helpers without OpenMMLab imports (standard library only, so that
``tools/dataset_converters/coco_to_lvis.py`` starts fast): COCO-format subsets as LVIS v1,
class frequencies for GOL/DropLoss.

* :func:`convert_coco_to_lvis` turns a COCO-format train/val pair (e.g.
  ``$GATED_MM_DATA/coco-mini``) into LVIS v1-format dicts (``tools/dataset_converters/
  coco_to_lvis.py`` is its command line);
* :class:`~gated_mm.datasets.lvis_subset.LVISSubsetDataset` (in ``lvis_subset.py``) is mmdet's
  ``LVISV1Dataset`` whose class names come from the annotation file;
* :func:`load_category_frequency` reads per-class training image counts for
  :class:`gated_mm.models.losses.GumbelDropLoss`.

LVIS v1 format (Gupta et al., CVPR 2019; lvis-api 0.5.3): images carry ``coco_url``
(mmdet's ``LVISV1Dataset`` derives the file path from it), ``neg_category_ids`` (verified
absent: their detections are evaluated as false positives) and
``not_exhaustive_category_ids`` (false positives of these classes are ignored); categories
carry ``image_count``, ``instance_count`` and ``frequency`` ('r', 'c', 'f' from the
*training* image count: LVIS uses ≤ 10 / 11–100 / > 100 images); annotations have no
``iscrowd``.

COCO → LVIS mapping (COCO annotates its 80 classes exhaustively):

* ``neg_category_ids`` of an image: every category with no annotation (crowd or not) there;
* a COCO crowd annotation (``iscrowd=1``) is dropped and its category put in the image's
  ``not_exhaustive_category_ids``: unmatched detections there are ignored, as COCO ignores
  detections on crowd regions;
* frequency groups from the training split's image counts with thresholds ``rare_max`` and
  ``common_max``; subsets of ~100 images need them scaled (LVIS's 10/100 of ~100k images
  would make every class rare): the mini-LVIS recipe uses ≤ 1 / 2–3 / ≥ 4 images.
"""
import copy
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

LVIS_URL_PREFIX = 'http://images.cocodataset.org/'


def _count(annotations: Sequence[dict]) -> Tuple[Dict[int, set], Dict[int, int]]:
    images, instances = defaultdict(set), defaultdict(int)
    for ann in annotations:
        images[ann['category_id']].add(ann['image_id'])
        instances[ann['category_id']] += 1
    return images, instances


def frequency_group(image_count: int, rare_max: int, common_max: int) -> str:
    """'r' if image_count ≤ rare_max, 'c' if ≤ common_max, else 'f'."""
    return 'r' if image_count <= rare_max else 'c' if image_count <= common_max else 'f'


def _check(cond: bool, msg: str):
    if not cond:
        raise ValueError(msg)


def convert_coco_to_lvis(train: dict,
                         val: Optional[dict] = None,
                         train_dir: str = 'train2017',
                         val_dir: str = 'val2017',
                         rare_max: int = 1,
                         common_max: int = 3,
                         source: str = '') -> Tuple[dict, Optional[dict]]:
    """COCO-format train (and val) dicts → LVIS v1-format dicts (inputs are not modified).

    Args:
        train, val: COCO instance annotation dicts (``images``, ``annotations``,
            ``categories``); val may be None.
        train_dir, val_dir: image folders relative to the data root; each image's
            ``coco_url`` becomes ``http://images.cocodataset.org/<dir>/<file_name>`` so that
            mmdet's ``LVISV1Dataset`` finds ``<data_root>/<dir>/<file_name>``.
        rare_max, common_max: frequency thresholds on the training image count
            (LVIS: 10, 100).
        source: recorded in ``info``.

    Returns:
        (lvis_train, lvis_val): categories sorted by id with the *training* counts and
        groups in both; every annotation and image of the input kept except crowd
        annotations (see the module docstring).

    Raises:
        ValueError: missing keys, annotations of unknown images/categories, bad thresholds.
    """
    _check(0 <= rare_max < common_max,
           f'coco_to_lvis: need 0 <= rare_max < common_max, got {rare_max}, {common_max}')
    for name, d in (('train', train), ('val', val)):
        if d is None:
            continue
        missing = {'images', 'annotations', 'categories'} - set(d)
        _check(not missing, f'coco_to_lvis: {name} annotations lack key(s) {sorted(missing)}')
    categories = sorted(train['categories'], key=lambda c: c['id'])
    if val is not None:
        _check({c['id'] for c in val['categories']} == {c['id'] for c in categories},
               'coco_to_lvis: train and val annotation files have different categories')
    kept = [a for a in train['annotations'] if not a.get('iscrowd', 0)]
    image_sets, instance_counts = _count(kept)
    num_train_images = len({a['image_id'] for a in kept})
    lvis_cats = []
    for cat in categories:
        n_img = len(image_sets.get(cat['id'], ()))
        lvis_cats.append(dict(
            id=cat['id'], name=cat['name'], synonyms=[cat['name']],
            frequency=frequency_group(n_img, rare_max, common_max), image_count=n_img,
            instance_count=instance_counts.get(cat['id'], 0),
            **({'supercategory': cat['supercategory']} if 'supercategory' in cat else {})))
    groups = {g: sum(c['frequency'] == g for c in lvis_cats) for g in 'rcf'}
    info = dict(
        description=f'LVIS v1-format conversion of a COCO-format subset {source}'.strip(),
        frequency_thresholds=f'rare <= {rare_max} < common <= {common_max} < frequent '
                             f'(training images per category; LVIS: 10 / 100)',
        groups=groups, num_train_images=num_train_images)

    def convert(d: dict, img_dir: str, split: str) -> dict:
        cat_ids = [c['id'] for c in lvis_cats]
        cat_set = set(cat_ids)
        img_ids = {img['id'] for img in d['images']}
        present, crowd = defaultdict(set), defaultdict(set)
        annotations = []
        for ann in d['annotations']:
            _check(ann['image_id'] in img_ids,
                   f'coco_to_lvis: {split} annotation {ann.get("id")} has unknown image_id '
                   f'{ann["image_id"]}')
            _check(ann['category_id'] in cat_set,
                   f'coco_to_lvis: {split} annotation {ann.get("id")} has unknown category_id '
                   f'{ann["category_id"]}')
            if ann.get('iscrowd', 0):
                crowd[ann['image_id']].add(ann['category_id'])
                continue
            present[ann['image_id']].add(ann['category_id'])
            annotations.append(dict(id=ann['id'], image_id=ann['image_id'],
                                    category_id=ann['category_id'], bbox=list(ann['bbox']),
                                    area=ann['area'],
                                    segmentation=copy.deepcopy(ann['segmentation'])))
        images = []
        for img in sorted(d['images'], key=lambda i: i['id']):
            seen = present[img['id']] | crowd[img['id']]
            out = dict(id=img['id'], height=img['height'], width=img['width'],
                       coco_url=f'{LVIS_URL_PREFIX}{img_dir}/{img["file_name"]}',
                       neg_category_ids=[c for c in cat_ids if c not in seen],
                       not_exhaustive_category_ids=sorted(crowd[img['id']]))
            for key in ('license', 'flickr_url', 'date_captured'):
                if key in img:
                    out[key] = img[key]
            images.append(out)
        return dict(info=dict(info, split=split), licenses=copy.deepcopy(d.get('licenses', [])),
                    images=images, annotations=annotations,
                    categories=copy.deepcopy(lvis_cats))

    return (convert(train, train_dir, 'train'),
            None if val is None else convert(val, val_dir, 'val'))


def load_category_frequency(path: str) -> Tuple[List[int], int]:
    """Per-class training image counts (file order of ``categories``) and N_images.

    ``path`` is an LVIS training annotation file or a category file: a JSON with
    ``categories`` (each with ``image_count``) and optionally ``num_images``. Counts come from
    ``image_count`` when every category has it, else from ``annotations``. N_images is
    ``num_images`` if given, else the number of distinct images with annotations (GOL/EQL
    public code), else ``len(images)``.

    Raises:
        FileNotFoundError: no such file. ValueError: not JSON, or lacks what is needed.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'class frequency file not found: {path}')
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: not a JSON file ({e})') from None
    cats = data.get('categories') if isinstance(data, dict) else None
    _check(bool(cats), f'{path}: no "categories" list; expected an LVIS annotation or '
           f'category file')
    anns = data.get('annotations')
    if all('image_count' in c for c in cats):
        counts = [int(c['image_count']) for c in cats]
    else:
        _check(anns is not None, f'{path}: categories have no "image_count" and there are no '
               f'"annotations" to count them from')
        image_sets, _ = _count(a for a in anns if not a.get('iscrowd', 0))
        counts = [len(image_sets.get(c['id'], ())) for c in cats]
    if 'num_images' in data:
        num_images = int(data['num_images'])
    elif anns is not None:
        num_images = len({a['image_id'] for a in anns})
    elif 'images' in data:
        num_images = len(data['images'])
    else:
        raise ValueError(f'{path}: cannot tell the number of training images; add '
                         f'"num_images" to the file')
    _check(num_images > 0, f'{path}: number of training images is {num_images}')
    return counts, num_images


