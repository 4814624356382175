#!/usr/bin/env python
"""lvis-api vs faster-coco-eval (LVIS mode): the same LVIS bbox + segm evaluation, side by
side, each backend in its own process (wall time and peak RSS of that process), with the
difference of every LVIS result.

    python tools/analysis_tools/benchmark_lvis_eval.py ANN_FILE [--preds RESULTS.pkl |
        --results-json BBOX_JSON SEGM_JSON]
        [--replicate 20] [--dets-per-image 300] [--polygon-gt] [--federated] [--reps 1]
        [--work-dir DIR] [--seed 0]

Predictions: ``--preds`` takes mmdet's ``tools/test.py --out`` pickle, ``--results-json`` the
bbox and segm result JSONs that ``tools/test.py`` keeps (a detector's real detections on
ANN_FILE's images); without them they are made from the ground truth
(:func:`make_predictions`): per ground-truth instance a localised detection (box jittered,
mask shifted by the same offset, then dilated or thinned) and a confused-category copy,
then false positives (random boxes and blob masks of random categories) up to
``--dets-per-image`` + 20 per image, so that lvis-api's 300-per-image cap applies (15 % of
the localised detections score below 0.03, so the cap drops some of them). Scores are
continuous (no ties). ``--replicate N`` repeats every image N times under new ids
(ground truth and predictions), for an LVIS-sized evaluation. ``--polygon-gt`` rewrites RLE
ground-truth masks as polygons (as LVIS v1 stores them); ``--federated`` removes a third of
every image's ``neg_category_ids`` and marks a present category of every fourth image
not exhaustive, so the federated rules of both backends are exercised.

Prints one table (backend, load + bbox + segm seconds, peak RSS and its increase over the
RSS after the imports (both workers import both backends, torch included), AP / APr / APc / APf of
both iou types) and the largest |difference| over AP, AP50, AP75, APs, APm, APl, APr, APc,
APf, AR@300; exits 1 when it exceeds --tol (1e-4).
"""
import argparse
import copy
import json
import os
import os.path as osp
import pickle
import resource
import subprocess
import sys
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300']


def _mask_utils():
    import pycocotools.mask as mask_utils
    return mask_utils


def _gt_mask(ann, h, w):
    mu = _mask_utils()
    seg = ann['segmentation']
    if isinstance(seg, list):
        rle = mu.merge(mu.frPyObjects(seg, h, w))
    elif isinstance(seg['counts'], list):
        rle = mu.frPyObjects(seg, h, w)
    else:
        rle = seg
    return mu.decode(rle)


def _encode(mask):
    rle = _mask_utils().encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode()
    return rle


def _to_polygons(mask):
    import cv2
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    polys = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
    return polys


def make_gt(ann_file, replicate=1, polygon=False, federated=False, seed=0):
    """LVIS ground truth dict of ``ann_file`` (see the module docstring for the options)."""
    with open(ann_file) as f:
        gt = json.load(f)
    rng = np.random.default_rng(seed)
    if polygon:
        sizes = {im['id']: (im['height'], im['width']) for im in gt['images']}
        anns = []
        for ann in gt['annotations']:
            polys = _to_polygons(_gt_mask(ann, *sizes[ann['image_id']]))
            if polys:
                ann = dict(ann, segmentation=polys)
                anns.append(ann)
        gt['annotations'] = anns
    if federated:
        present = {}
        for ann in gt['annotations']:
            present.setdefault(ann['image_id'], set()).add(ann['category_id'])
        for k, im in enumerate(gt['images']):
            neg = list(im.get('neg_category_ids', []))
            drop = set(rng.choice(neg, size=len(neg) // 3, replace=False).tolist()) if neg else set()
            im['neg_category_ids'] = [c for c in neg if c not in drop]
            if k % 4 == 0 and present.get(im['id']):
                im['not_exhaustive_category_ids'] = [min(present[im['id']])]
    if replicate > 1:
        n_img = max(im['id'] for im in gt['images'])
        n_ann = max(a['id'] for a in gt['annotations'])
        images, anns = [], []
        for r in range(replicate):
            images += [dict(im, id=im['id'] + r * n_img) for im in gt['images']]
            anns += [dict(a, id=a['id'] + r * n_ann, image_id=a['image_id'] + r * n_img)
                     for a in gt['annotations']]
        gt['images'], gt['annotations'] = images, anns
    return gt


def make_predictions(gt, dets_per_image=300, seed=0):
    """(bbox results, segm results) in lvis-api's result format, deterministic in ``seed``."""
    from scipy import ndimage
    rng = np.random.default_rng(seed)
    cat_ids = [c['id'] for c in gt['categories']]
    per_img = {}
    for ann in gt['annotations']:
        per_img.setdefault(ann['image_id'], []).append(ann)
    sizes = {im['id']: (im['height'], im['width']) for im in gt['images']}
    h0, w0 = next(iter(sizes.values()))
    # a pool of false-positive blobs (random ellipses), encoded once
    pool = []
    yy, xx = np.mgrid[:h0, :w0]
    for _ in range(512):
        cy, cx = rng.uniform(0, h0), rng.uniform(0, w0)
        ry, rx = rng.uniform(3, h0 / 4), rng.uniform(3, w0 / 4)
        m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        if m.sum() < 4:
            continue
        ys, xs = np.nonzero(m)
        box = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
               float(ys.max() - ys.min() + 1)]
        pool.append((box, _encode(m)))
    bbox, segm = [], []

    def add(img_id, cat, box, rle, score):
        bbox.append(dict(image_id=img_id, category_id=cat, bbox=box, score=score))
        segm.append(dict(image_id=img_id, category_id=cat, bbox=box, score=score,
                         segmentation=rle))

    for im in gt['images']:
        img_id = im['id']
        h, w = sizes[img_id]
        n = 0
        for ann in per_img.get(img_id, []):
            x, y, bw, bh = ann['bbox']
            dx, dy = rng.normal(0, 0.04 * bw), rng.normal(0, 0.04 * bh)
            sw, sh = np.exp(rng.normal(0, 0.06, 2))
            box = [float(x + dx), float(y + dy), float(bw * sw), float(bh * sh)]
            m = np.roll(_gt_mask(ann, h, w), (int(round(dy)), int(round(dx))), axis=(0, 1))
            op = rng.integers(3)
            if op == 1:
                m = ndimage.binary_dilation(m)
            elif op == 2:
                m = m & (rng.random(m.shape) < 0.85)
            rle = _encode(m)
            # 15 % low-confidence hits, some ranked past the 300-per-image cap
            score = rng.uniform(0, 0.03) if rng.random() < 0.15 else rng.beta(5, 2)
            add(img_id, ann['category_id'], box, rle, float(score))
            other = int(rng.choice([c for c in cat_ids if c != ann['category_id']]))
            add(img_id, other, box, rle, float(rng.beta(2, 5)))
            n += 2
        for _ in range(max(0, dets_per_image + 20 - n)):
            box, rle = pool[rng.integers(len(pool))]
            box = [b + float(rng.normal(0, 1)) for b in box[:2]] + box[2:]
            add(img_id, int(rng.choice(cat_ids)), box, rle, float(rng.beta(1.2, 6)))
    return bbox, segm


def predictions_from_pkl(path, gt):
    """lvis-api results of mmdet's ``tools/test.py --out`` pickle (labels index the
    categories in annotation-file order, as ``LVISMetric.results2json``)."""
    with open(path, 'rb') as f:
        samples = pickle.load(f)
    cat_ids = [c['id'] for c in gt['categories']]
    bbox, segm = [], []
    for s in samples:
        pred = s['pred_instances']
        boxes = np.asarray(pred['bboxes'], dtype=float)
        scores = np.asarray(pred['scores'], dtype=float)
        labels = np.asarray(pred['labels'])
        masks = pred.get('masks')
        for i in range(len(scores)):
            x1, y1, x2, y2 = boxes[i].tolist()
            d = dict(image_id=s['img_id'], category_id=cat_ids[int(labels[i])],
                     bbox=[x1, y1, x2 - x1, y2 - y1], score=float(scores[i]))
            bbox.append(d)
            if masks is not None:
                rle = dict(masks[i])
                if isinstance(rle['counts'], bytes):
                    rle['counts'] = rle['counts'].decode()
                segm.append(dict(d, segmentation=rle))
    return bbox, segm


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mib():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


def worker(backend, gt_path, bbox_path, segm_path):
    """Evaluate both iou types with one backend; JSON {times, rss, results} on stdout."""
    sys.path.insert(0, REPO)
    import gated_mm  # noqa: F401  (compat: lvis-api on NumPy >= 1.24)
    import logging
    logging.disable(logging.WARNING)
    from lvis import LVIS, LVISEval, LVISResults
    from gated_mm.evaluation.faster_lvis import faster_lvis_evaluate, load_lvis_gt
    # both backends imported in both workers: the same baseline, subtracted from the peak
    out = dict(backend=backend, results={}, seconds={}, base_rss_mib=_rss_mib())
    t0 = time.perf_counter()
    gt = LVIS(gt_path) if backend == 'lvis-api' else load_lvis_gt(gt_path)
    out['seconds']['load'] = time.perf_counter() - t0
    for iou_type, path in (('bbox', bbox_path), ('segm', segm_path)):
        with open(path) as f:
            dets = json.load(f)
        t0 = time.perf_counter()
        if backend == 'lvis-api':
            ev = LVISEval(gt, LVISResults(gt, dets, max_dets=300), iou_type)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            res = {k: float(v) for k, v in ev.get_results().items()}
        else:
            res, _ = faster_lvis_evaluate(gt, dets, iou_type, print_function=lambda *a: None)
        out['seconds'][iou_type] = time.perf_counter() - t0
        out['results'][iou_type] = {k: res[k] for k in KEYS}
        del dets
    out['peak_rss_mib'] = _peak_rss_mib()
    out['peak_extra_mib'] = out['peak_rss_mib'] - out['base_rss_mib']
    return out


def run_worker(backend, paths):
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, osp.abspath(__file__), '--worker', backend,
                           *paths], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f'{backend} worker failed (exit {proc.returncode}):\n'
                         f'{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('ann_file', nargs='?')
    p.add_argument('--preds', help="tools/test.py --out pickle (mmdet's data samples)")
    p.add_argument('--results-json', nargs=2, metavar=('BBOX_JSON', 'SEGM_JSON'),
                   help='LVIS result files of a detector (LVISMetric outfile_prefix, e.g. '
                        '<work_dir>/test/lvis_results/results.{bbox,segm}.json of tools/test.py)')
    p.add_argument('--replicate', type=int, default=1)
    p.add_argument('--dets-per-image', type=int, default=300)
    p.add_argument('--polygon-gt', action='store_true')
    p.add_argument('--federated', action='store_true')
    p.add_argument('--reps', type=int, default=1, help='interleaved repetitions (median)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--tol', type=float, default=1e-4)
    p.add_argument('--work-dir', default=None)
    p.add_argument('--worker', nargs=4, metavar=('BACKEND', 'GT', 'BBOX', 'SEGM'),
                   help=argparse.SUPPRESS)
    return p.parse_args(argv)


def prepare(args):
    """Write gt / bbox / segm JSON files under the work dir; return their paths and sizes."""
    import tempfile
    work = args.work_dir or tempfile.mkdtemp(prefix='lvis_eval_bench_')
    os.makedirs(work, exist_ok=True)
    gt = make_gt(args.ann_file, args.replicate, args.polygon_gt, args.federated, args.seed)
    if args.preds or args.results_json:
        if args.preds:
            bbox, segm = predictions_from_pkl(args.preds, gt)
        else:
            bbox, segm = [json.load(open(p)) for p in args.results_json]
        # copies of the detections on the replicated images, scores scaled by 1 - 1e-6 r
        # (no ties across copies: tie order is not part of the protocol)
        with open(args.ann_file) as f:
            n_img = max(im['id'] for im in json.load(f)['images'])
        bbox, segm = ([dict(d, image_id=d['image_id'] + r * n_img,
                            score=d['score'] * (1 - 1e-6 * r))
                       for r in range(args.replicate) for d in dets] for dets in (bbox, segm))
    else:
        bbox, segm = make_predictions(gt, args.dets_per_image, args.seed)
    paths = [osp.join(work, n) for n in ('gt.json', 'bbox.json', 'segm.json')]
    for path, obj in zip(paths, (gt, bbox, segm)):
        with open(path, 'w') as f:
            json.dump(obj, f)
    return paths, dict(images=len(gt['images']), gt_instances=len(gt['annotations']),
                       detections=len(bbox), categories=len(gt['categories']))


def compare(runs, tol):
    """Median seconds, max RSS per backend; largest |lvis-api - faster| per iou type."""
    by = {}
    for r in runs:
        by.setdefault(r['backend'], []).append(r)
    rows = {}
    for backend, rs in by.items():
        sec = {k: float(np.median([r['seconds'][k] for r in rs])) for k in rs[0]['seconds']}
        rows[backend] = dict(seconds=sec, peak_rss_mib=max(r['peak_rss_mib'] for r in rs),
                             peak_extra_mib=max(r['peak_extra_mib'] for r in rs),
                             results=rs[0]['results'])
    diff = {t: max(abs(rows['lvis-api']['results'][t][k] -
                       rows['faster-coco-eval']['results'][t][k]) for k in KEYS)
            for t in ('bbox', 'segm')}
    return rows, diff, all(d <= tol for d in diff.values())


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    if not args.ann_file:
        raise SystemExit('give ANN_FILE (an LVIS v1 annotation JSON)')
    t0 = time.perf_counter()
    paths, size = prepare(args)
    print(f'data: {size} ({time.perf_counter() - t0:.1f} s to make); files in '
          f'{osp.dirname(paths[0])}', flush=True)
    runs = []
    for _ in range(args.reps):
        for backend in ('lvis-api', 'faster-coco-eval'):
            runs.append(run_worker(backend, paths))
    rows, diff, ok = compare(runs, args.tol)
    head = (f"{'backend':<17} {'load s':>7} {'bbox s':>8} {'segm s':>8} {'peak RSS MiB':>12} {'(+ over imports)':>16} "
            + ' '.join(f'{t}_{k:<3}' for t in ('bbox', 'segm') for k in ('AP', 'APr', 'APc',
                                                                          'APf')))
    print(head)
    for backend, row in rows.items():
        s, res = row['seconds'], row['results']
        print(f"{backend:<17} {s['load']:>7.2f} {s['bbox']:>8.2f} {s['segm']:>8.2f} "
              f"{row['peak_rss_mib']:>12.0f} {row['peak_extra_mib']:>16.0f} "
              + ' '.join(f"{res[t][k]:>7.4f}" for t in ('bbox', 'segm')
                         for k in ('AP', 'APr', 'APc', 'APf')))
    a, b = rows['lvis-api'], rows['faster-coco-eval']
    print(f"ratio lvis-api / faster-coco-eval: bbox {a['seconds']['bbox'] / b['seconds']['bbox']:.1f}x, "
          f"segm {a['seconds']['segm'] / b['seconds']['segm']:.1f}x time; peak RSS "
          f"{a['peak_rss_mib'] / b['peak_rss_mib']:.2f}x, peak RSS over the imports "
          f"{a['peak_extra_mib'] / b['peak_extra_mib']:.2f}x")
    print(f"max |difference| over {KEYS}: bbox {diff['bbox']:.2e}, segm {diff['segm']:.2e} "
          f"({'parity' if ok else 'NO parity'} at {args.tol:g})")
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
