r"""Fixed AP and pooled AP for LVIS (Dave et al., "Evaluating Large-Vocabulary Object
Detectors: The Devil is in the Details", arXiv:2102.01066; public code
``achalddave/large-vocab-devil``, ``scripts/evaluate_ap_fixed.py``,
``scripts/evaluate_ap_pooled.py``, ``lvdevil/eval_wrapper.py``), driven through lvis-api 0.5.3
(and, for AP-fixed, optionally faster-coco-eval's LVIS mode).

Standard LVIS AP keeps the 300 highest-scoring detections of each image over all categories
(``LVISResults(max_dets=300)``), so a category's AP depends on the other categories' scores in
the same image: a per-image cap can cut a category's true positives, and re-ranking across
categories changes AP. The two metrics of the paper remove or measure that dependence:

* **AP-fixed**: keep the top ``K`` = 10,000 detections of every category over
  the whole evaluation set (stable sort by score, descending; no per-image cap), then
  standard LVIS AP (federated matching, IoU 0.50:0.95, 101 recall points, mean over
  categories; APr / APc / APf over the categories of each frequency group)::

      dets_c ← top_K(score, {d : category(d) = c})           for every category c
      AP-fixed = LVISEval(LVISResults(gt, ∪_c dets_c, max_dets=-1), params.max_dets=-1)

  A category with fewer than K detections is scored on what it has (the public script
  warns; so does :func:`fixed_ap`, through ``short_categories`` in its result).
* **AP-pool**: the same matching per (image, category), but one
  precision/recall curve per *pool* of categories (all, r, c, f): the detections of every
  category of the pool are ranked together by score, TP / FP counted over the pool and the
  recall normalised by the pool's ground truth; the 101-point interpolated precision
  averaged over the IoU thresholds, area 'all' only. Unlike AP-fixed it changes when the
  scores of one category are rescaled relative to the others (cross-category calibration).
  Also with top-K per category and no per-image cap (the public script's defaults).

For ``segm`` the box is dropped from each detection before evaluation (as the public
scripts do), so lvis-api computes the detection's area from its mask; this changes only
the area-range APs, which are not reported here.

Implementation: AP-fixed is lvis-api's ``LVISEval`` (or faster-coco-eval, same numbers)
on the per-category top-K; AP-pool runs ``LVISEval.evaluate`` (per image and category
matching, unchanged) and then lvis-api's own ``LVISEval.accumulate`` on the per-image
evaluation records merged per (pool, image) — category order inside an image, images in
lvis-api's order, which is the order in which the public ``LVISPooledEval.accumulate``
concatenates them, so the stable sort breaks ties the same way.

Test-time setting: AP-fixed needs up to K detections *per category*, not 300 per image;
with mmdet's Mask R-CNN that means a low ``model.test_cfg.rcnn.score_thr`` (the public
inference script keeps scores down to 1e-7; detectron2's LVIS default is 1e-4) and no
per-image cap (``max_per_img=-1``). ``tools/test.py --fixed-ap`` sets both (overridable)
and reports AP-fixed and AP-pool beside the standard metrics (``docs/detection_benchmark.md``).
"""
import copy
import json
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np

DETS_PER_CATEGORY = 10000
POOLS = ('all', 'r', 'c', 'f')


def limit_dets_per_category(anns: List[dict], topk: int = DETS_PER_CATEGORY
                            ) -> Tuple[List[dict], List[int]]:
    """The ``topk`` highest-scoring detections of every category (stable sort by score,
    descending, as ``scripts/evaluate_ap_fixed.py``), categories in first-appearance order.

    Returns ``(kept, short)``: the kept detections and the ids of the categories that had
    fewer than ``topk`` (their AP-fixed is a lower bound of what K detections would give).

    Raises:
        ValueError: ``topk`` < 1.
    """
    if topk < 1:
        raise ValueError(f'dets_per_cat must be >= 1 (Dave et al.: 10000), got {topk}')
    by_cat = defaultdict(list)
    for ann in anns:
        by_cat[ann['category_id']].append(ann)
    kept, short = [], []
    for cat, cat_anns in by_cat.items():
        if len(cat_anns) < topk:
            short.append(cat)
        kept.extend(sorted(cat_anns, key=lambda a: a['score'], reverse=True)[:topk])
    return kept, short


def _load(results: Union[str, List[dict]], iou_type: str) -> List[dict]:
    if iou_type not in ('bbox', 'segm'):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    if isinstance(results, str):
        with open(results) as f:
            anns = json.load(f)
    else:
        anns = [dict(a) for a in results]
    if not anns:
        raise ValueError('no detections to evaluate')
    if iou_type == 'segm':
        for a in anns:
            a.pop('bbox', None)
    return anns


def _lvis(gt):
    from lvis import LVIS
    return gt if isinstance(gt, LVIS) else LVIS(gt)


def _evaluated(gt, results, iou_type: str, dets_per_cat: int):
    """lvis-api ``LVISEval`` after ``evaluate()`` (per image and category matching) of the
    top-K detections per category, no per-image cap; also the kept count and the short
    categories."""
    from lvis import LVISEval, LVISResults
    anns, short = limit_dets_per_category(_load(results, iou_type), dets_per_cat)
    gt = _lvis(gt)
    ev = LVISEval(gt, LVISResults(gt, anns, max_dets=-1), iou_type)
    ev.params.max_dets = -1  # no per-image cap (lvis-api only reads it in summaries)
    ev.evaluate()
    return ev, len(anns), short


def _fixed_from(ev) -> Dict[str, float]:
    ev.accumulate()
    ev.summarize()
    return {k: float(ev.results[k]) for k in ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf')}


def _merge_records(records: Sequence[dict]) -> dict:
    """One lvis-api ``evaluate_img`` record from several (same image and area range)."""
    return {
        'dt_ids': [i for r in records for i in r['dt_ids']],
        'dt_scores': [s for r in records for s in r['dt_scores']],
        'dt_matches': np.concatenate([r['dt_matches'] for r in records], axis=1),
        'dt_ignore': np.concatenate([r['dt_ignore'] for r in records], axis=1),
        'gt_ignore': np.concatenate([r['gt_ignore'] for r in records]),
    }


def _pooled_from(ev, pools: Sequence[str]) -> Dict[str, float]:
    """AP-pool of each pool from an evaluated ``LVISEval`` (area 'all' records)."""
    n_img, n_area = len(ev.params.img_ids), len(ev.params.area_rng)
    members = {'all': list(range(len(ev.params.cat_ids)))}
    for name, idx in zip(ev.params.img_count_lbl, ev.freq_groups):
        members[name] = list(idx)
    merged = []
    for pool in pools:
        for img_idx in range(n_img):
            recs = [ev.eval_imgs[c * n_area * n_img + img_idx] for c in members[pool]]
            recs = [r for r in recs if r is not None]
            merged.append(_merge_records(recs) if recs else None)
    pooled = copy.copy(ev)                 # lvis-api's accumulate, one "category" per pool
    pooled.params = copy.copy(ev.params)
    pooled.params.cat_ids = list(pools)
    pooled.params.area_rng = ev.params.area_rng[:1]           # 'all' only, as the public code
    pooled.params.area_rng_lbl = ev.params.area_rng_lbl[:1]
    pooled.eval_imgs = merged
    pooled.accumulate()
    prec = pooled.eval['precision']        # (iou, recall, pool, area)
    out = {}
    for i, pool in enumerate(pools):
        p = prec[:, :, i, 0]
        p = p[p > -1]
        key = 'AP-pool' if pool == 'all' else f'AP{pool}-pool'
        out[key] = float(np.mean(p)) if p.size else -1.0
    return out


def fixed_ap(gt, results: Union[str, List[dict]], iou_type: str,
             dets_per_cat: int = DETS_PER_CATEGORY, backend: str = 'lvis') -> Dict:
    """AP-fixed with its r/c/f breakdown (see the module docstring).

    Args:
        gt: the LVIS annotation file path, or an lvis-api ``LVIS`` (backend ``'lvis'``).
        results: LVIS-format detections (list or JSON path).
        iou_type: ``'bbox'`` or ``'segm'``.
        dets_per_cat: K, detections kept per category over the set (paper: 10,000).
        backend: ``'lvis'`` (lvis-api) or ``'faster'`` (faster-coco-eval's LVIS mode, needs
            ``gt`` as a path or a faster-coco-eval ``COCO``; same numbers).

    Returns:
        ``{'AP': .., 'AP50': .., 'AP75': .., 'APr': .., 'APc': .., 'APf': ..,
        'num_dets': kept detections, 'short_categories': [ids with < K detections]}``
        (APs in [0, 1]; −1 for a group without ground truth, as lvis-api).

    Raises:
        ValueError: bad ``iou_type``/``backend``/``dets_per_cat``, or no detections.
    """
    if backend == 'lvis':
        ev, n, short = _evaluated(gt, results, iou_type, dets_per_cat)
        out = _fixed_from(ev)
    elif backend == 'faster':
        from .faster_lvis import faster_lvis_evaluate
        anns, short = limit_dets_per_category(_load(results, iou_type), dets_per_cat)
        res, _ = faster_lvis_evaluate(gt, anns, iou_type, max_dets=len(anns),
                                      print_function=lambda *a: None)
        out = {k: float(res[k]) for k in ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf')}
        n = len(anns)
    else:
        raise ValueError(f"backend must be 'lvis' or 'faster', got {backend!r}")
    out.update(num_dets=n, short_categories=sorted(short))
    return out


def pooled_ap(gt, results: Union[str, List[dict]], iou_type: str,
              dets_per_cat: int = DETS_PER_CATEGORY, pools: Sequence[str] = POOLS) -> Dict:
    """AP-pool of each pool of categories (``'all'``, ``'r'``, ``'c'``, ``'f'``; see the
    module docstring), with lvis-api's matching and accumulation.

    Args:
        gt, results, iou_type, dets_per_cat: as :func:`fixed_ap` (lvis-api only).
        pools: which pools to report.

    Returns:
        ``{'AP-pool': .., 'APr-pool': .., 'APc-pool': .., 'APf-pool': ..}`` (the pools asked
        for; −1 for a pool without ground truth).

    Raises:
        ValueError: unknown pool, bad ``iou_type`` / ``dets_per_cat``, or no detections.
    """
    bad = [p for p in pools if p not in POOLS]
    if bad:
        raise ValueError(f'unknown pool(s) {bad}; expected a subset of {POOLS}')
    ev, _, _ = _evaluated(gt, results, iou_type, dets_per_cat)
    return _pooled_from(ev, pools)


def fixed_and_pooled_ap(ann_file: str, result_files: Dict[str, str],
                        dets_per_cat: int = DETS_PER_CATEGORY) -> Dict[str, float]:
    """``{'<task>_AP-fixed', '<task>_APr-fixed', ..., '<task>_AP-pool', ...}`` for each
    ``task → result JSON`` (bbox / segm) with lvis-api, from one matching pass per task; a
    task without detections is skipped. ``'<task>_fixed_short_categories'`` counts the
    categories with fewer than ``dets_per_cat`` detections."""
    gt = _lvis(ann_file)
    out = {}
    for task, path in result_files.items():
        with open(path) as f:
            anns = json.load(f)
        if not anns:
            continue
        ev, _, short = _evaluated(gt, anns, task, dets_per_cat)
        for k, v in _pooled_from(ev, POOLS).items():
            out[f'{task}_{k}'] = v
        for k, v in _fixed_from(ev).items():
            out[f'{task}_{k}-fixed'] = v
        out[f'{task}_fixed_short_categories'] = len(short)
    return out
