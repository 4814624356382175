r"""LVIS-format helpers without OpenMMLab imports (standard library only, so that
``tools/dataset_converters/coco_to_lvis.py`` starts fast): COCO-format subsets as LVIS v1,
class frequencies for GOL/DropLoss.

* :func:`convert_coco_to_lvis` turns a COCO-format train/val pair (e.g.
  ``$GATED_MM_DATA/coco-mini``) into LVIS v1-format dicts with the subset's own categories
  (mini-LVIS; ``tools/dataset_converters/coco_to_lvis.py`` is its command line);
* :func:`convert_coco_to_lvis_v1` lays the same photos out in LVIS v1's real 1,203-class
  label space (LVIS's categories, ``image_count``s and groups; COCO labels mapped through
  WordNet synsets), for mmdet's own ``LVISV1Dataset`` and the unchanged LVIS v1 configs
  (``coco_to_lvis.py --lvis-categories``);
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

COCO → LVIS mapping (COCO annotates its 80 classes exhaustively), both label spaces:

* ``neg_category_ids`` of an image: every category COCO annotates (all of mini-LVIS's; the 79
  mapped ones of LVIS v1) with no annotation (crowd or not) there;
* a COCO crowd annotation (``iscrowd=1``) is dropped and its category put in the image's
  ``not_exhaustive_category_ids``: unmatched detections there are ignored, as COCO ignores
  detections on crowd regions;
* mini-LVIS only: frequency groups from the training split's image counts with thresholds
  ``rare_max`` and ``common_max``; subsets of ~100 images need them scaled (LVIS's 10/100 of
  ~100k images would make every class rare): the mini-LVIS recipe uses ≤ 1 / 2–3 / ≥ 4
  images. In the LVIS v1 label space the groups and counts are LVIS's own.
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
    label_map = {c['id']: c['id'] for c in lvis_cats}
    return tuple(None if d is None else _lvis_split(
        d, img_dir, split, lvis_cats, label_map, exhaustive=[c['id'] for c in lvis_cats],
        info=dict(info, split=split))
        for d, img_dir, split in ((train, train_dir, 'train'), (val, val_dir, 'val')))


#: LVIS v1 vocabulary size (Gupta et al., CVPR 2019; LVIS v1 annotation files).
LVIS_V1_NUM_CLASSES = 1203
#: LVIS v1 training-set size the class frequencies f_c = image_count_c / N divide by: the
#: LVIS v1 train images that carry annotations (what :func:`load_category_frequency` counts in
#: the real ``lvis_v1_train.json``). With LVIS's ``image_count``s, DropLoss's λ = 0.0011 then
#: marks the 815 tail classes the APA / GOL LVIS v1 configs state.
LVIS_V1_TRAIN_IMAGES = 99388


def lvis_v1_label_map(vocabulary: dict, coco_categories: Sequence[dict],
                      coco_to_synset: Optional[dict] = None) -> Dict[int, Optional[int]]:
    """COCO category id -> LVIS v1 category id (None: no LVIS v1 category), through synsets.

    Args:
        vocabulary: ``{'categories': [...]}`` with LVIS's ``id`` and ``synset`` per category,
            optionally ``coco_to_lvis``: ``[{'coco_category_id', 'synset', ...}, ...]``.
        coco_categories: the COCO file's categories (``id``, ``name``).
        coco_to_synset: lvis-api's ``data/coco_to_synset.json`` (``{coco name: {'coco_cat_id',
            'synset', ...}}``); used when ``vocabulary`` has no ``coco_to_lvis`` list.

    Raises:
        ValueError: no COCO -> synset map, or a COCO category the map does not name.
    """
    if coco_to_synset is not None:
        synset_of = {int(v['coco_cat_id']): v['synset'] for v in coco_to_synset.values()}
    elif vocabulary.get('coco_to_lvis'):
        synset_of = {int(e['coco_category_id']): e['synset'] for e in vocabulary['coco_to_lvis']}
    else:
        raise ValueError('coco_to_lvis: the LVIS category file has no "coco_to_lvis" list; give '
                         "lvis-api's data/coco_to_synset.json (--coco-to-synset)")
    lvis_of = {c['synset']: c['id'] for c in vocabulary['categories']}
    unknown = [c['id'] for c in coco_categories if c['id'] not in synset_of]
    _check(not unknown, f'coco_to_lvis: COCO category id(s) {unknown} not in the COCO -> LVIS '
           f'synset map')
    return {c['id']: lvis_of.get(synset_of[c['id']]) for c in coco_categories}


def convert_coco_to_lvis_v1(train: dict,
                            val: Optional[dict],
                            vocabulary: dict,
                            coco_to_synset: Optional[dict] = None,
                            num_train_images: int = LVIS_V1_TRAIN_IMAGES,
                            train_dir: str = 'train2017',
                            val_dir: str = 'val2017',
                            source: str = '') -> Tuple[dict, Optional[dict]]:
    """COCO-format train (and val) dicts → files in the real LVIS v1 label space.

    The categories are LVIS v1's 1,203 (``vocabulary['categories']``, file order kept: mmdet's
    ``LVISV1Dataset`` labels them 0..1202 in this order) with LVIS's own ``frequency`` and
    training ``image_count`` (and any other key the vocabulary carries, e.g. ``def``,
    ``instance_count`` of a real LVIS annotation file), so RFS thresholds, GOL / DropLoss class
    frequencies and the r/c/f groups are LVIS's. COCO annotations are relabelled through the
    COCO -> WordNet synset -> LVIS v1 map (:func:`lvis_v1_label_map`; with lvis-api's map 79 of
    COCO's 80 classes map, 'hot dog' = ``frank.n.02`` is no LVIS v1 category: its annotations
    are dropped). Per image, ``neg_category_ids`` are the mapped LVIS categories COCO
    annotates exhaustively and the image does not show (verified absent, as LVIS's negatives);
    the other 1,124 categories are unverified there, so LVIS's federated evaluation ignores
    detections of them on that image. Crowd annotations become ``not_exhaustive_category_ids``
    as in :func:`convert_coco_to_lvis`. The training file carries ``num_images`` =
    ``num_train_images``, the training-set size the class frequencies divide by
    (:func:`load_category_frequency`): LVIS v1's by default, not the number of images in it.

    Args:
        train, val: COCO instance annotation dicts; val may be None.
        vocabulary: ``{'categories': [...], 'coco_to_lvis': [...]}``: LVIS v1's categories
            (``id``, ``name``, ``synset``, ``synonyms``, ``frequency``, ``image_count``), e.g.
            the ``categories`` of LVIS's ``lvis_v1_train.json``.
        coco_to_synset: lvis-api's ``data/coco_to_synset.json`` when ``vocabulary`` has no
            ``coco_to_lvis`` list.
        num_train_images: N of f_c = image_count_c / N (LVIS v1: 99,388).
        train_dir, val_dir, source: as :func:`convert_coco_to_lvis`.

    Returns:
        (lvis_train, lvis_val) in the LVIS v1 schema (``info``, ``licenses``, ``images`` with
        ``coco_url``, ``neg_category_ids``, ``not_exhaustive_category_ids``; ``annotations``
        without ``iscrowd``; ``categories``), plus ``num_images`` in the training file.

    Raises:
        ValueError: not 1,203 categories, a category without ``id`` / ``synset`` /
            ``frequency`` / ``image_count``, an unmapped COCO category, unknown ids.
    """
    cats = vocabulary.get('categories') or []
    _check(len(cats) == LVIS_V1_NUM_CLASSES,
           f'coco_to_lvis: the LVIS category file has {len(cats)} categories, LVIS v1 has '
           f'{LVIS_V1_NUM_CLASSES}')
    need = ('id', 'name', 'synset', 'frequency', 'image_count')
    bad = [c.get('id') for c in cats if any(k not in c for k in need)]
    _check(not bad, f'coco_to_lvis: LVIS categories {bad[:5]} lack one of {list(need)}')
    _check(int(num_train_images) > 0,
           f'coco_to_lvis: num_train_images must be > 0, got {num_train_images}')
    for name, d in (('train', train), ('val', val)):
        if d is not None:
            missing = {'images', 'annotations', 'categories'} - set(d)
            _check(not missing, f'coco_to_lvis: {name} annotations lack key(s) {sorted(missing)}')
    label_map = lvis_v1_label_map(vocabulary, train['categories'], coco_to_synset)
    if val is not None:
        _check({c['id'] for c in val['categories']} == set(label_map),
               'coco_to_lvis: train and val annotation files have different categories')
    lvis_cats = [{k: copy.deepcopy(v) for k, v in c.items()} for c in cats]
    exhaustive = sorted({i for i in label_map.values() if i is not None})
    unmapped = sorted(c['name'] for c in train['categories'] if label_map[c['id']] is None)
    groups = {g: sum(c['frequency'] == g for c in lvis_cats) for g in 'rcf'}
    info = dict(
        description=f'COCO-format images in the LVIS v1 label space {source}'.strip(),
        label_space=f'LVIS v1 ({len(lvis_cats)} categories, LVIS v1 train image_count and '
                    f'frequency); {len(exhaustive)} COCO categories mapped via WordNet '
                    f'synsets, unmapped (annotations dropped): {unmapped}',
        groups=groups, num_train_images=int(num_train_images))
    out = [None if d is None else _lvis_split(
        d, img_dir, split, lvis_cats, label_map, exhaustive, dict(info, split=split))
        for d, img_dir, split in ((train, train_dir, 'train'), (val, val_dir, 'val'))]
    out[0]['num_images'] = int(num_train_images)
    return out[0], out[1]


def _lvis_split(d: dict, img_dir: str, split: str, categories: List[dict],
                label_map: Dict[int, Optional[int]], exhaustive: Sequence[int],
                info: dict, prefix: str = 'coco_to_lvis') -> dict:
    """One COCO-format split as an LVIS v1-format dict.

    ``label_map``: COCO category id -> LVIS category id, or None for a COCO category with no
    LVIS counterpart (its annotations are dropped). ``exhaustive``: the LVIS category ids the
    source annotates exhaustively (every image not showing one of them has it in
    ``neg_category_ids``). Crowd annotations are dropped and their (mapped) category put in
    ``not_exhaustive_category_ids``.
    """
    img_ids = {img['id'] for img in d['images']}
    present, crowd = defaultdict(set), defaultdict(set)
    annotations = []
    for ann in d['annotations']:
        _check(ann['image_id'] in img_ids,
               f'{prefix}: {split} annotation {ann.get("id")} has unknown image_id '
               f'{ann["image_id"]}')
        _check(ann['category_id'] in label_map,
               f'{prefix}: {split} annotation {ann.get("id")} has unknown category_id '
               f'{ann["category_id"]}')
        cat_id = label_map[ann['category_id']]
        if cat_id is None:
            continue
        if ann.get('iscrowd', 0):
            crowd[ann['image_id']].add(cat_id)
            continue
        present[ann['image_id']].add(cat_id)
        annotations.append(dict(id=ann['id'], image_id=ann['image_id'], category_id=cat_id,
                                bbox=list(ann['bbox']), area=ann['area'],
                                segmentation=copy.deepcopy(ann['segmentation'])))
    images = []
    for img in sorted(d['images'], key=lambda i: i['id']):
        seen = present[img['id']] | crowd[img['id']]
        out = dict(id=img['id'], height=img['height'], width=img['width'],
                   coco_url=f'{LVIS_URL_PREFIX}{img_dir}/{img["file_name"]}',
                   neg_category_ids=[c for c in exhaustive if c not in seen],
                   not_exhaustive_category_ids=sorted(crowd[img['id']]))
        for key in ('license', 'flickr_url', 'date_captured'):
            if key in img:
                out[key] = img[key]
        images.append(out)
    return dict(info=info, licenses=copy.deepcopy(d.get('licenses', [])), images=images,
                annotations=annotations, categories=copy.deepcopy(categories))


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


