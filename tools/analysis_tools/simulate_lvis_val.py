#!/usr/bin/env python
"""A simulated LVIS v1 val evaluation: ground truth in LVIS v1's real label space and a
detector's test output (300 boxes + RLE masks per image), written to disk as a stream.

    python tools/analysis_tools/simulate_lvis_val.py LVIS_CATEGORIES_JSON OUT_DIR
        [--num-images 19809] [--dets-per-image 300] [--seed 0]

LVIS_CATEGORIES_JSON: the LVIS v1 vocabulary, a JSON list of the 1,203 categories (``id``,
``name``, ``frequency`` r/c/f, ``image_count``) or an object with a ``categories`` list, e.g.
the ``categories`` of ``lvis_v1_val.json`` (LVIS v1, https://www.lvisdataset.org).

Writes to OUT_DIR:

* ``lvis_v1_val_sim.json``: LVIS v1 annotation file (images with ``neg_category_ids`` and
  ``not_exhaustive_category_ids``, polygon instance masks, the categories as given);
* ``predictions.pkl``: one pickle per image, in image order, of the ``(gt, result)`` pair
  that mmdet 3.3's ``LVISMetric.process`` keeps for it (``result``: ``img_id``, ``bboxes``
  (300, 4) float32 x1y1x2y2, ``scores`` (300,) float32, ``labels`` (300,) int64 indices into
  the categories sorted by id, ``masks``: 300 RLE dicts with bytes ``counts``, as mmdet's
  ``encode_mask_results``); read it with :func:`iter_predictions`;
* ``summary.json``: the counts.

The model of LVIS v1 val (the choices, each a stated approximation):

* 19,809 images of 480 x 640 (LVIS images are COCO images, at most 640 on the long side);
* categories present in an image: 1 + Poisson(2.4) (mean 3.4), drawn without replacement
  with probability proportional to the category's LVIS v1 train ``image_count``, so the
  per-category image counts follow LVIS's long tail and rare categories are rare;
* instances per present category: Geometric(0.27) on 1, 2, ... (mean 3.7), at most 120 per image:
  a mean of about 12.5 instances per image, as LVIS v1 train (1.27 M instances on 100 K
  images);
* ``neg_category_ids``: Poisson(7) categories absent from the image (drawn as above);
  ``not_exhaustive_category_ids``: each present category with probability 0.1; both are
  truthful (negatives are never present, not-exhaustive ones always are);
* instance masks: ellipses (24-vertex polygons) of sqrt(area) ~ lognormal(log 32, 0.9),
  clipped to 6..300 px, aspect ratio lognormal(0, 0.4), any rotation (about 40 / 35 / 25 %
  small / medium / large, as COCO);
* predictions, exactly ``--dets-per-image`` per image: for 90 % of the instances a hit (the
  instance's mask translated by N(0, 6 % of its size) px per axis, box from it jittered by
  3 %; score Beta(5, 2), 15 % of them below 0.05), for half of them a copy with another
  category (score Beta(2, 5)), the rest false positives (random shapes and places; 40 % with
  a category annotated or negative in the image, so they count, 60 % any category; score
  Beta(1.2, 6)).

Images are generated from ``default_rng([seed, index])``: the first N images of any run
are the same, so a run with ``--num-images N`` is a prefix of the full set. Memory is
bounded by one image's data (about 40 MiB in all); time is about 10 ms per image.
"""
import argparse
import json
import os
import os.path as osp
import pickle
import sys
import time

import numpy as np

H, W = 480, 640
N_VERTS = 24
POOL = 1024


def load_categories(path):
    """The LVIS categories of ``path`` (a list, or an object with ``categories``), sorted by id.

    Raises:
        SystemExit: the file lacks a category list with id / frequency / image_count.
    """
    with open(path) as f:
        data = json.load(f)
    cats = data.get('categories') if isinstance(data, dict) else data
    need = ('id', 'name', 'frequency', 'image_count')
    if not isinstance(cats, list) or not cats or any(k not in cats[0] for k in need):
        raise SystemExit(f'{path}: expected a JSON list of LVIS categories (or an object '
                         f'with "categories") whose entries have {", ".join(need)}')
    return sorted(cats, key=lambda c: c['id'])


def _runs(mask):
    """Uncompressed column-major RLE counts (first run: zeros) of a binary mask."""
    flat = np.asfortranarray(mask).reshape(-1, order='F').astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(edges)
    if flat[0] == 1:
        counts = np.concatenate([[0], counts])
    return counts.astype(np.int64)


def make_pool(rng):
    """Ellipse shapes centred in the image: polygons, uncompressed RLE counts, boxes, areas."""
    import pycocotools.mask as mask_utils
    pool = []
    while len(pool) < POOL:
        side = float(np.clip(np.exp(rng.normal(np.log(32), 0.9)), 6, 300))
        ratio = float(np.exp(rng.normal(0, 0.4)))
        a = side * np.sqrt(ratio / np.pi)
        b = side / np.sqrt(ratio * np.pi)
        a, b = min(a, W / 2 - 4), min(b, H / 2 - 4)
        theta = rng.uniform(0, np.pi)
        t = np.linspace(0, 2 * np.pi, N_VERTS, endpoint=False)
        x = a * np.cos(t) * np.cos(theta) - b * np.sin(t) * np.sin(theta)
        y = a * np.cos(t) * np.sin(theta) + b * np.sin(t) * np.cos(theta)
        x = np.clip(x + W / 2, 2, W - 3)
        y = np.clip(y + H / 2, 2, H - 3)
        poly = np.stack([x, y], 1).reshape(-1).round(2)
        rle = mask_utils.merge(mask_utils.frPyObjects([poly.tolist()], H, W))
        mask = mask_utils.decode(rle)
        if mask.sum() < 4:
            continue
        ys, xs = np.nonzero(mask)
        box = np.array([xs.min(), ys.min(), xs.max(), ys.max()])  # inclusive pixels
        pool.append(dict(poly=poly, counts=_runs(mask).tolist(), box=box,
                         area=float(mask.sum())))
    return pool


def _shift_range(box):
    """Integer translations (dx, dy) that keep a shape 1 px inside the image."""
    return (1 - box[0], W - 2 - box[2]), (1 - box[1], H - 2 - box[3])


def _shifted_counts(counts, dx, dy):
    """RLE counts of a shape translated by (dx, dy): column-major, the pixel (x, y) is at
    x * H + y, so a translation that keeps the shape inside adds dx * H + dy to the first
    (background) run and takes it from the last."""
    k = int(dx) * H + int(dy)
    out = list(counts)
    out[0] += k
    out[-1] -= k
    return out


def simulate_image(index, seed, cats, probs, pool, dets_per_image, img_id, ann_id0):
    """Ground truth (image dict, annotation dicts) and the (gt, result) pair of one image."""
    import pycocotools.mask as mask_utils
    rng = np.random.default_rng([seed, index])
    n_cat = len(cats)
    k = min(1 + rng.poisson(2.4), n_cat)
    present = rng.choice(n_cat, size=k, replace=False, p=probs)
    per_cat = rng.geometric(0.27, size=k)
    labels = np.repeat(present, per_cat)[:120]
    n_gt = len(labels)
    absent = np.setdiff1d(np.arange(n_cat), present)
    p_abs = probs[absent] / probs[absent].sum()
    n_neg = min(rng.poisson(7), len(absent))
    neg = np.sort(rng.choice(absent, size=n_neg, replace=False, p=p_abs))
    ne = np.sort(present[rng.random(k) < 0.1])
    cat_ids = np.array([c['id'] for c in cats])
    image = dict(id=img_id, height=H, width=W, file_name=f'{img_id:012d}.jpg',
                 neg_category_ids=cat_ids[neg].tolist(),
                 not_exhaustive_category_ids=cat_ids[np.unique(ne)].tolist())

    # ground truth: a pool shape translated
    gt_base = rng.integers(len(pool), size=n_gt)
    gt_shift = np.zeros((n_gt, 2), dtype=np.int64)
    anns = []
    for j in range(n_gt):
        shape = pool[gt_base[j]]
        (lx, hx), (ly, hy) = _shift_range(shape['box'])
        dx, dy = rng.integers(lx, hx + 1), rng.integers(ly, hy + 1)
        gt_shift[j] = dx, dy
        poly = shape['poly'] + np.tile([dx, dy], N_VERTS)
        x0, y0, x1, y1 = shape['box'] + [dx, dy, dx, dy]
        anns.append(dict(id=ann_id0 + j, image_id=img_id,
                         category_id=int(cat_ids[labels[j]]),
                         bbox=[float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)],
                         area=shape['area'], segmentation=[poly.round(2).tolist()]))

    # predictions: hits, confused copies, false positives
    base, shift, lab, score = [], [], [], []
    hit = rng.random(n_gt) < 0.9
    for j in np.flatnonzero(hit):
        shape = pool[gt_base[j]]
        box = shape['box']
        size = np.array([box[2] - box[0] + 1, box[3] - box[1] + 1])
        (lx, hx), (ly, hy) = _shift_range(box)
        d = gt_shift[j] + np.round(rng.normal(0, 0.06 * size)).astype(np.int64)
        d = np.array([np.clip(d[0], lx, hx), np.clip(d[1], ly, hy)])
        s = rng.uniform(0, 0.05) if rng.random() < 0.15 else rng.beta(5, 2)
        base.append(gt_base[j]), shift.append(d), lab.append(labels[j]), score.append(s)
        if rng.random() < 0.5 and len(base) < dets_per_image:
            other = int(rng.choice(n_cat, p=probs))
            base.append(gt_base[j]), shift.append(d), lab.append(other)
            score.append(rng.beta(2, 5))
        if len(base) >= dets_per_image:
            break
    n_fp = dets_per_image - len(base)
    fp_base = rng.integers(len(pool), size=n_fp)
    listed = np.concatenate([present, neg])
    fp_lab = np.where(rng.random(n_fp) < 0.4, rng.choice(listed, size=n_fp),
                      rng.choice(n_cat, size=n_fp, p=probs))
    for j in range(n_fp):
        (lx, hx), (ly, hy) = _shift_range(pool[fp_base[j]]['box'])
        base.append(fp_base[j])
        shift.append(np.array([rng.integers(lx, hx + 1), rng.integers(ly, hy + 1)]))
        lab.append(fp_lab[j]), score.append(rng.beta(1.2, 6))
    shift = np.array(shift, dtype=np.int64).reshape(-1, 2)
    boxes = np.array([pool[b]['box'] for b in base], dtype=np.float64).reshape(-1, 4)
    boxes = boxes + np.concatenate([shift, shift], 1) + [0, 0, 1, 1]
    wh = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, 1)
    boxes = boxes + rng.normal(0, 0.03, boxes.shape) * wh
    boxes = np.clip(boxes, 0, [W, H, W, H])
    masks = mask_utils.frPyObjects(
        [dict(counts=_shifted_counts(pool[b]['counts'], *d), size=[H, W])
         for b, d in zip(base, shift)], H, W)
    result = dict(img_id=img_id, bboxes=boxes.astype(np.float32),
                  scores=np.array(score, dtype=np.float32),
                  labels=np.array(lab, dtype=np.int64), masks=masks)
    gt = dict(width=W, height=H, img_id=img_id)
    return image, anns, (gt, result)


def iter_predictions(path, limit=None):
    """The ``(gt, result)`` pairs of ``predictions.pkl``, one image at a time."""
    with open(path, 'rb') as f:
        n = 0
        while limit is None or n < limit:
            try:
                yield pickle.load(f)
            except EOFError:
                return
            n += 1


def image_id(index):
    """Image id of the index-th image (sparse, as LVIS's COCO ids)."""
    return 100_000 + 7 * index


def simulate(categories_json, out_dir, num_images=19809, dets_per_image=300, seed=0,
             log_every=1000):
    """Write the simulated set (see the module docstring); returns the summary dict."""
    cats = load_categories(categories_json)
    counts = np.array([max(c['image_count'], 1) for c in cats], dtype=np.float64)
    probs = counts / counts.sum()
    pool = make_pool(np.random.default_rng(seed))
    os.makedirs(out_dir, exist_ok=True)
    images_tmp = osp.join(out_dir, '.images.part')
    anns_tmp = osp.join(out_dir, '.annotations.part')
    n_ann = n_det = 0
    cat_images = np.zeros(len(cats), dtype=np.int64)
    cat_of = {c['id']: i for i, c in enumerate(cats)}
    t0 = time.perf_counter()
    with open(images_tmp, 'w') as fi, open(anns_tmp, 'w') as fa, \
            open(osp.join(out_dir, 'predictions.pkl'), 'wb') as fp:
        for i in range(num_images):
            image, anns, pair = simulate_image(i, seed, cats, probs, pool, dets_per_image,
                                               image_id(i), n_ann + 1)
            fi.write(('' if i == 0 else ',') + json.dumps(image))
            for a in anns:
                fa.write(('' if n_ann == 0 else ',') + json.dumps(a))
                n_ann += 1
            for c in {a['category_id'] for a in anns}:
                cat_images[cat_of[c]] += 1
            pickle.dump(pair, fp, protocol=pickle.HIGHEST_PROTOCOL)
            n_det += len(pair[1]['scores'])
            if log_every and (i + 1) % log_every == 0:
                print(f'{i + 1} images, {time.perf_counter() - t0:.0f} s', flush=True)
    gt_path = osp.join(out_dir, 'lvis_v1_val_sim.json')
    with open(gt_path, 'w') as f:
        f.write('{"info": {"description": "simulated LVIS v1 val (simulate_lvis_val.py)"}, '
                '"images": [')
        with open(images_tmp) as fi:
            f.write(fi.read())
        f.write('], "annotations": [')
        with open(anns_tmp) as fa:
            while True:
                chunk = fa.read(1 << 24)
                if not chunk:
                    break
                f.write(chunk)
        f.write('], "categories": ' + json.dumps(cats) + '}')
    os.remove(images_tmp), os.remove(anns_tmp)
    freq = np.array([c['frequency'] for c in cats])
    summary = dict(images=num_images, instances=n_ann, detections=n_det,
                   categories=len(cats), seed=seed, dets_per_image=dets_per_image,
                   categories_with_gt={g: int(((cat_images > 0) & (freq == g)).sum())
                                       for g in 'rcf'},
                   seconds=round(time.perf_counter() - t0, 1))
    with open(osp.join(out_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    return summary


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('categories', help='LVIS v1 categories JSON (list, or object with '
                                      '"categories")')
    p.add_argument('out_dir')
    p.add_argument('--num-images', type=int, default=19809)
    p.add_argument('--dets-per-image', type=int, default=300)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.num_images < 1 or args.dets_per_image < 1:
        raise SystemExit('--num-images and --dets-per-image must be >= 1')
    print(json.dumps(simulate(args.categories, args.out_dir, args.num_images,
                              args.dets_per_image, args.seed)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
