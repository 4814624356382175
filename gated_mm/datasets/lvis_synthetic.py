r"""Omniglot-LVIS: a small long-tailed detection benchmark in LVIS v1 format built from real
handwritten characters (Omniglot, Lake et al., Science 2015; github.com/brendenlake/omniglot,
``python/images_background_small{1,2}.zip``: 105×105 binary PNGs, 20 drawers per character).

Each category is one Omniglot character. Character drawings are cropped to their ink, dilated
by one pixel (3×3 maximum), scaled so that their long side is ``size_range`` pixels and pasted
in a random dark colour on a light, noisy canvas of ``canvas_size``² pixels, without overlap.
The instance mask is the pasted drawing's own ink pixels (compressed RLE), the box its tight
bounding box, the area its pixel count; ``omniglot_file`` records the source drawing.

Split (no drawing is shared between the splits):

* train canvases use the drawings of the first ``num_train_drawers`` drawers (file order)
  of each character; val canvases only the remaining, held-out drawers' drawings;
* training instances of class i (classes in a fixed, seeded random order):
  n_i = round(n_max · ρ^{−i/(C−1)}) (the CIFAR-LT / ImageNet-LT exponential profile), ρ =
  ``imbalance``; val has ``val_per_class`` instances of every class (balanced, as the LVIS
  val set is exhaustively annotated for the classes it evaluates);
* a class appears at most once per canvas, so its training image count equals n_i;
* frequency groups from the training image counts: rare ≤ ``rare_max`` < common ≤
  ``common_max`` < frequent (LVIS v1: 10 / 100 of 100k images; the default keeps LVIS's rare
  threshold and scales the frequent one to a ~600-image training set).

Everything is drawn from one ``numpy.random.Generator(seed)``: the same arguments give
byte-identical files. LVIS fields written: images with ``coco_url`` (mmdet's
``LVISV1Dataset`` finds ``<data_root>/<split>/<file>``), ``neg_category_ids`` (every
absent category: annotation is exhaustive) and empty ``not_exhaustive_category_ids``;
categories with ``image_count``, ``instance_count`` and ``frequency``.
"""
import io
import json
import os
import os.path as osp
import zipfile
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .lvis_convert import LVIS_URL_PREFIX, frequency_group

#: Omniglot zips of the small background sets (brendenlake/omniglot, python/).
OMNIGLOT_ZIPS = ('images_background_small1.zip', 'images_background_small2.zip')


def _fail(msg: str):
    raise ValueError(f'omniglot_lvis: {msg}')


def load_omniglot(root: str) -> Dict[str, List[Tuple[str, bytes]]]:
    """``{'Alphabet/characterNN': [(file name, PNG bytes), ...]}`` (files sorted) from the
    Omniglot zips in ``root``; an alphabet present in both zips is read once.

    Raises:
        FileNotFoundError: none of :data:`OMNIGLOT_ZIPS` in ``root``.
    """
    paths = [osp.join(root, z) for z in OMNIGLOT_ZIPS if osp.isfile(osp.join(root, z))]
    if not paths:
        raise FileNotFoundError(
            f'omniglot_lvis: no Omniglot zip ({", ".join(OMNIGLOT_ZIPS)}) in {root}; set '
            f'--omniglot-root (default $GATED_MM_DATA/omniglot-small)')
    chars: Dict[str, List[Tuple[str, bytes]]] = {}
    for path in paths:
        with zipfile.ZipFile(path) as zf:
            found = defaultdict(list)
            for name in zf.namelist():
                parts = name.split('/')
                if len(parts) == 4 and parts[3].endswith('.png'):
                    found[f'{parts[1]}/{parts[2]}'].append((parts[3], zf.read(name)))
            for key, files in found.items():
                chars.setdefault(key, sorted(files))
    return chars


def _ink(png: bytes) -> np.ndarray:
    """Binary ink mask (True = stroke) of an Omniglot PNG, cropped to the ink, dilated 3×3."""
    from PIL import Image
    img = np.asarray(Image.open(io.BytesIO(png)).convert('L'))
    ink = img < 128
    pad = np.pad(ink, 1)
    dil = np.zeros_like(ink)
    for dy in range(3):
        for dx in range(3):
            dil |= pad[dy:dy + ink.shape[0], dx:dx + ink.shape[1]]
    ys, xs = np.nonzero(dil)
    if ys.size == 0:
        _fail('an Omniglot image has no ink')
    return dil[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _scaled(ink: np.ndarray, long_side: int) -> np.ndarray:
    from PIL import Image
    h, w = ink.shape
    s = long_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    im = Image.fromarray(ink.astype(np.uint8) * 255).resize(size, Image.BILINEAR)
    return np.asarray(im) >= 128


def long_tail_counts(num_classes: int, n_max: int, imbalance: float,
                     n_min: int = 1) -> List[int]:
    """n_i = max(n_min, round(n_max · ρ^{−i/(C−1)})), i = 0..C−1 (C = 1: [n_max])."""
    if num_classes == 1:
        return [n_max]
    return [max(n_min, int(round(n_max * imbalance ** (-i / (num_classes - 1)))))
            for i in range(num_classes)]


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _compose(rng: np.random.Generator, items: Sequence[Tuple[int, np.ndarray]],
             canvas_size: int, size_range: Tuple[int, int], max_tries: int = 60):
    """Paste (category, source file, ink) items without box overlap; returns (RGB uint8,
    annotations, leftover items that did not fit)."""
    bg = rng.uniform(185, 245)
    img = bg + rng.normal(0, 6, size=(canvas_size, canvas_size, 1))
    img = np.repeat(img, 3, axis=2) + rng.normal(0, 3, size=(canvas_size, canvas_size, 3))
    occupied = np.zeros((canvas_size, canvas_size), bool)
    anns, left = [], []
    for cat, source, ink in items:
        mask_small = _scaled(ink, int(rng.integers(size_range[0], size_range[1] + 1)))
        h, w = mask_small.shape
        placed = False
        for _ in range(max_tries):
            y = int(rng.integers(0, canvas_size - h + 1))
            x = int(rng.integers(0, canvas_size - w + 1))
            y0, x0 = max(0, y - 2), max(0, x - 2)
            if occupied[y0:y + h + 2, x0:x + w + 2].any():
                continue
            occupied[y0:y + h + 2, x0:x + w + 2] = True
            colour = rng.uniform(0, 110, size=3)
            region = img[y:y + h, x:x + w]
            region[mask_small] = colour + rng.normal(0, 4, size=(int(mask_small.sum()), 3))
            full = np.zeros((canvas_size, canvas_size), bool)
            full[y:y + h, x:x + w] = mask_small
            ys, xs = np.nonzero(full)
            anns.append(dict(category_id=cat, omniglot_file=source,
                             bbox=[float(xs.min()), float(ys.min()),
                                   float(xs.max() - xs.min() + 1),
                                   float(ys.max() - ys.min() + 1)],
                             area=float(full.sum()), segmentation=_rle(full)))
            placed = True
            break
        if not placed:
            left.append((cat, source, ink))
    return np.clip(img, 0, 255).astype(np.uint8), anns, left


def build_omniglot_lvis(omniglot_root: str,
                        out_dir: str,
                        num_classes: int = 24,
                        n_max: int = 300,
                        imbalance: float = 60.0,
                        val_per_class: int = 12,
                        num_train_drawers: int = 14,
                        objects_per_image: Tuple[int, int] = (2, 4),
                        canvas_size: int = 128,
                        size_range: Tuple[int, int] = (28, 56),
                        rare_max: int = 10,
                        common_max: int = 60,
                        seed: int = 0) -> Dict[str, dict]:
    """Write ``out_dir/{train,val}/*.png`` and ``out_dir/annotations/lvis_v1_{train,val}.json``.

    Classes: ``num_classes`` characters drawn at random (seeded) across all alphabets of the
    zips, round-robin over alphabets so that every alphabet contributes.

    Returns:
        ``{'train': lvis_dict, 'val': lvis_dict}`` (as written).

    Raises:
        FileNotFoundError: no Omniglot zip. ValueError: impossible sizes (too many classes,
        drawers out of range, canvas smaller than the objects, bad thresholds).
    """
    chars = load_omniglot(omniglot_root)
    if not 0 <= rare_max < common_max:
        _fail(f'need 0 <= rare_max < common_max, got {rare_max}, {common_max}')
    if not 1 <= num_classes <= len(chars):
        _fail(f'num_classes must be in [1, {len(chars)}] (characters found), got {num_classes}')
    if not size_range[0] <= size_range[1] <= canvas_size - 4:
        _fail(f'size_range {size_range} must be increasing and fit the canvas {canvas_size}')
    if not 1 <= objects_per_image[0] <= objects_per_image[1]:
        _fail(f'objects_per_image {objects_per_image} must be 1 <= low <= high')
    rng = np.random.default_rng(seed)
    by_alphabet = defaultdict(list)
    for key in sorted(chars):
        by_alphabet[key.split('/')[0]].append(key)
    for a in by_alphabet.values():
        rng.shuffle(a)
    alphabets = sorted(by_alphabet)
    chosen = []
    while len(chosen) < num_classes:
        for a in alphabets:
            if by_alphabet[a] and len(chosen) < num_classes:
                chosen.append(by_alphabet[a].pop())
    rng.shuffle(chosen)  # class i gets the i-th largest training count
    min_drawers = min(len(chars[k]) for k in chosen)
    if not 1 <= num_train_drawers < min_drawers:
        _fail(f'num_train_drawers must be in [1, {min_drawers - 1}], got {num_train_drawers}')
    counts = long_tail_counts(num_classes, n_max, imbalance)
    inks = {k: [(f'{k}/{name}', _ink(png)) for name, png in chars[k]] for k in chosen}

    def split_items(split: str, per_class: Sequence[int]):
        items = []
        for c, k in enumerate(chosen):
            pool = inks[k][:num_train_drawers] if split == 'train' else \
                inks[k][num_train_drawers:]
            for _ in range(per_class[c]):
                items.append((c + 1, ) + pool[int(rng.integers(len(pool)))])
        order = rng.permutation(len(items))
        return [items[i] for i in order]

    def make(split: str, items):
        os.makedirs(osp.join(out_dir, split), exist_ok=True)
        from PIL import Image
        images, annotations = [], []
        queue = list(items)
        while queue:
            n = int(rng.integers(objects_per_image[0], objects_per_image[1] + 1))
            batch, rest, seen = [], [], set()
            for it in queue:  # one instance per class per canvas
                if len(batch) < n and it[0] not in seen:
                    batch.append(it)
                    seen.add(it[0])
                else:
                    rest.append(it)
            img, anns, left = _compose(rng, batch, canvas_size, size_range)
            queue = left + rest
            if not anns:
                _fail('an object does not fit on an empty canvas')
            img_id = len(images) + 1
            fname = f'{img_id:06d}.png'
            Image.fromarray(img).save(osp.join(out_dir, split, fname))
            present = {a['category_id'] for a in anns}
            images.append(dict(id=img_id, width=canvas_size, height=canvas_size,
                               coco_url=f'{LVIS_URL_PREFIX}{split}/{fname}',
                               neg_category_ids=[c for c in range(1, num_classes + 1)
                                                 if c not in present],
                               not_exhaustive_category_ids=[]))
            for a in anns:
                annotations.append(dict(id=len(annotations) + 1, image_id=img_id, **a))
        return images, annotations

    train_imgs, train_anns = make('train', split_items('train', counts))
    val_imgs, val_anns = make('val', split_items('val', [val_per_class] * num_classes))
    image_sets, instances = defaultdict(set), defaultdict(int)
    for a in train_anns:
        image_sets[a['category_id']].add(a['image_id'])
        instances[a['category_id']] += 1
    categories = []
    for c, k in enumerate(chosen):
        n_img = len(image_sets[c + 1])
        name = k.replace('/', '_').replace('(', '').replace(')', '').lower()
        categories.append(dict(id=c + 1, name=name, synonyms=[name], def_=k,
                               image_count=n_img, instance_count=instances[c + 1],
                               frequency=frequency_group(n_img, rare_max, common_max)))
    for cat in categories:
        cat['def'] = cat.pop('def_')
    groups = {g: sum(c['frequency'] == g for c in categories) for g in 'rcf'}
    info = dict(description='Omniglot-LVIS: Omniglot characters on canvases, LVIS v1 format '
                            '(gated_mm/datasets/lvis_synthetic.py)',
                frequency_thresholds=f'rare <= {rare_max} < common <= {common_max} < '
                                     f'frequent (training images per category; LVIS: 10 / 100)',
                groups=groups, num_train_images=len(train_imgs),
                args=dict(num_classes=num_classes, n_max=n_max, imbalance=imbalance,
                          val_per_class=val_per_class, num_train_drawers=num_train_drawers,
                          objects_per_image=list(objects_per_image), canvas_size=canvas_size,
                          size_range=list(size_range), seed=seed))
    out = {}
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    for split, imgs, anns in (('train', train_imgs, train_anns), ('val', val_imgs, val_anns)):
        d = dict(info=dict(info, split=split), licenses=[], images=imgs, annotations=anns,
                 categories=categories)
        with open(osp.join(out_dir, 'annotations', f'lvis_v1_{split}.json'), 'w') as f:
            json.dump(d, f)
        out[split] = d
    return out


def class_table(lvis_train: dict, lvis_val: Optional[dict] = None) -> str:
    """Markdown table: id, name, group, train images / instances (val instances)."""
    val_counts = defaultdict(int)
    for a in (lvis_val or {}).get('annotations', []):
        val_counts[a['category_id']] += 1
    rows = ['| id | class (alphabet_character) | group | train images | train instances |'
            ' val instances |', '|---|---|---|---|---|---|']
    for c in lvis_train['categories']:
        rows.append(f"| {c['id']} | {c['name']} | {c['frequency']} | {c['image_count']} | "
                    f"{c['instance_count']} | {val_counts[c['id']]} |")
    return '\n'.join(rows)


def shuffle_instance_labels(labels: Sequence[int], seed: int) -> np.ndarray:
    """The randomised-label control (Zhang et al., "Understanding deep learning requires
    rethinking generalization", ICLR 2017): the training instances' labels permuted over all
    instances of the split with ``numpy.random.default_rng(seed)``. Boxes and masks stay,
    each class keeps its instance count (the long tail and RFS's class frequencies are
    unchanged), only the link between an object's appearance and its class is broken, so a
    detector can localise but not classify above the class prior.

    Args:
        labels: (N,) labels of all training instances, in data-list order.
        seed: permutation seed (deterministic).

    Returns:
        (N,) int64 array, a permutation of ``labels``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    return labels[np.random.default_rng(seed).permutation(len(labels))]


try:  # mmdet is optional for the rest of gated_mm
    from mmdet.registry import DATASETS

    from .lvis_subset import LVISSubsetDataset
except ImportError:  # pragma: no cover
    LVISSubsetDataset = None

if LVISSubsetDataset is not None:

    @DATASETS.register_module()
    class LabelShuffledLVISDataset(LVISSubsetDataset):
        """:class:`~gated_mm.datasets.LVISSubsetDataset` whose instance labels are permuted
        over the whole split by :func:`shuffle_instance_labels` (``label_shuffle_seed``):
        the negative control of the Omniglot-LVIS learning test (a detector trained on it
        must stay below the test's AP threshold). For training splits only; the image's
        ``neg_category_ids`` are left as they are (lvis-api reads them from the file at
        evaluation, not from here).
        """

        def __init__(self, *args, label_shuffle_seed: int = 0, **kwargs):
            self.label_shuffle_seed = label_shuffle_seed
            super().__init__(*args, **kwargs)

        def load_data_list(self):
            data_list = super().load_data_list()
            insts = [i for d in data_list for i in d['instances']]
            new = shuffle_instance_labels([i['bbox_label'] for i in insts],
                                          self.label_shuffle_seed)
            for inst, label in zip(insts, new):
                inst['bbox_label'] = int(label)
            return data_list


__all__ = ['build_omniglot_lvis', 'load_omniglot', 'long_tail_counts', 'class_table',
           'OMNIGLOT_ZIPS', 'shuffle_instance_labels', 'LabelShuffledLVISDataset']
