"""LVIS evaluation whose memory does not grow with the whole result set:
:class:`StreamedLVISMetric` (mmdet ``METRICS``) and the functions it is made of.

mmdet 3.3's ``LVISMetric`` (and :class:`~gated_mm.evaluation.faster_lvis.FasterLVISMetric`)
keep every image's boxes and RLE masks in ``self.results`` on each rank, pickle them to rank 0
(mmengine ``collect_results``, which holds rank 0's part twice), convert all of them to JSON
dicts (``CocoMetric.results2json``), dump them through an in-memory string, load them again
(``LVISResults`` / ``COCO.loadRes``) and evaluate all 1,203 categories at once: at LVIS v1 val
size (19,809 images x 300 detections) that is several copies of 5.9 M Python detection dicts.

Here instead:

1. ``process`` applies LVIS's per-image cap (the ``max_dets`` = 300 highest scores, stable,
   as lvis-api ``LVISResults.limit_dets_per_image``) and appends the image's detections to
   per-rank spill files, one per *category chunk* (categories sorted by id, split into
   ``num_chunks`` contiguous parts); ``self.results`` keeps only ``(rank, index)``;
2. mmengine's ``collect_results`` gathers those small keys (dropping the sampler's padding);
3. ``compute_metrics`` (rank 0) evaluates one chunk at a time: it builds the chunk's
   detection dicts exactly as ``results2json`` would (same values, same order), streams them
   to ``<outfile_prefix>.{bbox,segm}.json``, runs the backend (lvis-api ``LVISEval`` or
   faster-coco-eval's LVIS mode) on the chunk's categories over all images, and keeps the
   chunk's precision (T, R, K, A) and recall (T, K, A) arrays; the results are summarised once
   over the concatenated arrays by the backend's own ``summarize``.

Why this equals the one-shot evaluation: LVIS matching, the federated rules (negative and
not-exhaustive category lists) and accumulation are per category (lvis-api
``LVISEval.evaluate_img`` / ``accumulate``, github.com/lvis-dataset/lvis-api ``lvis/eval.py``);
only the 300-per-image cap mixes categories, and it is applied before the split. Within a
category the detections keep their relative order, so score ties break alike.
``tests/evaluation/test_lvis_streaming.py`` checks AP, AP50, AP75, APs/m/l, APr/c/f, AR@300
and the precision arrays against lvis-api's one-shot ``LVISEval`` (what mmdet's
``LVISMetric`` runs) and the results against ``FasterLVISMetric``, to 1e-12.

Select it in ``tools/test.py`` with ``--cfg-options test_evaluator.type=StreamedLVISMetric``
(``test_evaluator.backend='faster-coco-eval'`` for the C++ backend); with several ranks,
``spill_dir`` must be a directory all ranks share (default: a new temporary directory made
by rank 0 and broadcast, enough on one machine).
"""
import json
import os
import os.path as osp
import pickle
import shutil
import tempfile
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

LVIS_MAX_DETS = 300
BACKENDS = ('lvis-api', 'faster-coco-eval')
_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf')


def category_chunks(cat_ids: Sequence[int], num_chunks: int) -> List[List[int]]:
    """``cat_ids`` sorted and cut into ``num_chunks`` contiguous, near-equal parts."""
    if num_chunks < 1:
        raise ValueError(f'num_chunks must be >= 1, got {num_chunks}')
    ids = sorted(int(c) for c in cat_ids)
    return [part.tolist() for part in np.array_split(np.array(ids, dtype=np.int64),
                                                     min(num_chunks, len(ids)))]


def capped_order(scores: np.ndarray, max_dets: int = LVIS_MAX_DETS) -> np.ndarray:
    """Indices of an image's detections as lvis-api keeps them: all, in order, when there
    are at most ``max_dets``; else the ``max_dets`` highest scores, highest first, ties in
    order (``sorted(..., key=score, reverse=True)[:max_dets]``)."""
    n = len(scores)
    if n <= max_dets:
        return np.arange(n)
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind='stable')[:max_dets]


def image_records(result: dict, cat_ids: Sequence[int], chunk_of: Dict[int, int],
                  max_dets: int = LVIS_MAX_DETS) -> Dict[int, dict]:
    """One image's detections (mmdet ``LVISMetric.process`` result: ``img_id``, ``bboxes``
    (N, 4) x1y1x2y2, ``scores``, ``labels`` indexing ``cat_ids``, optional ``masks`` (RLE
    dicts) and ``mask_scores``), capped per iou type and split by category chunk.

    Returns ``{chunk: record}``; a record holds the kept detections' ``category_id`` (n,),
    ``bbox`` (n, 4) xywh float64 (``CocoMetric.xyxy2xywh``), ``score`` (n,), ``segm_score``
    (n,) or None, ``rle`` (list of str) or None, ``order_bbox`` / ``order_segm`` (n,): the
    position of each detection in that type's capped list, or -1 where the cap drops it.
    """
    labels = np.asarray(result['labels'], dtype=np.int64)
    scores = np.asarray(result['scores'], dtype=np.float32).astype(np.float64)
    boxes = np.asarray(result['bboxes'], dtype=np.float32).astype(np.float64).reshape(-1, 4)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)
    masks = result.get('masks')
    segm_scores = None
    if masks is not None:
        segm_scores = np.asarray(result.get('mask_scores', result['scores']),
                                 dtype=np.float32).astype(np.float64)
    n = len(labels)
    orders = {}
    for name, s in (('bbox', scores), ('segm', segm_scores)):
        pos = np.full(n, -1, dtype=np.int64)
        if s is not None:
            keep = capped_order(s, max_dets)
            pos[keep] = np.arange(len(keep))
        orders[name] = pos
    kept = np.flatnonzero((orders['bbox'] >= 0) | (orders['segm'] >= 0))
    cats = np.asarray(cat_ids, dtype=np.int64)[labels]
    chunk = np.array([chunk_of[int(c)] for c in cats[kept]], dtype=np.int64)
    out = {}
    for k in np.unique(chunk):
        idx = kept[chunk == k]
        rle = None
        if masks is not None:
            rle = [masks[i]['counts'].decode() if isinstance(masks[i]['counts'], bytes)
                   else masks[i]['counts'] for i in idx]
            rle = [dict(size=list(masks[i]['size']), counts=c) for i, c in zip(idx, rle)]
        out[int(k)] = dict(category_id=cats[idx], bbox=xywh[idx], score=scores[idx],
                           segm_score=None if segm_scores is None else segm_scores[idx],
                           rle=rle, order_bbox=orders['bbox'][idx],
                           order_segm=orders['segm'][idx])
    return out


def record_dicts(img_id: int, rec: dict, iou_type: str) -> List[dict]:
    """The LVIS result dicts of one record for ``iou_type``, in the capped list's order, with
    the keys and values of ``CocoMetric.results2json``."""
    pos = rec['order_bbox'] if iou_type == 'bbox' else rec['order_segm']
    idx = np.flatnonzero(pos >= 0)
    idx = idx[np.argsort(pos[idx], kind='stable')]
    score = rec['score'] if iou_type == 'bbox' else rec['segm_score']
    out = []
    for i in idx.tolist():
        d = dict(image_id=img_id, bbox=rec['bbox'][i].tolist(), score=float(score[i]),
                 category_id=int(rec['category_id'][i]))
        if iou_type == 'segm':
            d['segmentation'] = dict(rec['rle'][i])
        out.append(d)
    return out


class ResultSpill:
    """One rank's spill files: ``<dir>/rank{rank}_chunk{k}.pkl``, a stream of
    ``(rank, index, img_id, record)`` pickles per category chunk."""

    def __init__(self, directory: str, rank: int, cat_ids: Sequence[int], num_chunks: int,
                 max_dets: int = LVIS_MAX_DETS):
        self.directory, self.rank, self.max_dets = directory, rank, max_dets
        self.cat_ids = list(cat_ids)
        self.chunks = category_chunks(cat_ids, num_chunks)
        self.chunk_of = {c: k for k, part in enumerate(self.chunks) for c in part}
        self._files = {}
        self.count = 0

    def add(self, result: dict) -> Tuple[int, int]:
        """Spill one image's result; returns its key ``(rank, index)``."""
        key = (self.rank, self.count)
        for k, rec in image_records(result, self.cat_ids, self.chunk_of,
                                    self.max_dets).items():
            f = self._files.get(k)
            if f is None:
                os.makedirs(self.directory, exist_ok=True)
                f = self._files[k] = open(osp.join(self.directory,
                                                   f'rank{self.rank}_chunk{k}.pkl'), 'ab')
            pickle.dump((*key, int(result['img_id']), rec), f,
                        protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1
        return key

    def close(self):
        for f in self._files.values():
            f.close()
        self._files = {}


def read_chunk(directory: str, chunk: int, keys: Sequence[Tuple[int, int]],
               iou_type: str) -> List[dict]:
    """The result dicts of one category chunk, for the images ``keys`` (in that order,
    ``collect_results``' order; keys not listed, e.g. the sampler's padding, are dropped)."""
    records = {}
    wanted = set(map(tuple, keys))
    for name in sorted(os.listdir(directory)):
        if not name.endswith(f'_chunk{chunk}.pkl'):
            continue
        with open(osp.join(directory, name), 'rb') as f:
            while True:
                try:
                    rank, index, img_id, rec = pickle.load(f)
                except EOFError:
                    break
                if (rank, index) in wanted:
                    records[rank, index] = (img_id, rec)
    out = []
    for key in keys:
        item = records.get(tuple(key))
        if item is not None:
            out.extend(record_dicts(item[0], item[1], iou_type))
    return out


class _JSONListWriter:
    """Writes a JSON list one item at a time (the same content as ``json.dump(list)``)."""

    def __init__(self, path):
        self.f = open(path, 'w')
        self.f.write('[')
        self.first = True

    def extend(self, items):
        for item in items:
            self.f.write(('' if self.first else ', ') + json.dumps(item))
            self.first = False

    def close(self):
        self.f.write(']')
        self.f.close()


def _evaluate_chunk(gt, dets: List[dict], cats: List[int], iou_type: str, backend: str,
                    max_dets: int):
    """(precision (T, R, K, A), recall (T, K, A), evaluator) of one chunk's categories."""
    if backend == 'lvis-api':
        from lvis import LVISEval, LVISResults
        ev = LVISEval(gt, LVISResults(gt, dets, max_dets=max_dets), iou_type)
        ev.params.max_dets = max_dets
        ev.params.cat_ids = list(cats)
        ev.evaluate()
        ev.accumulate()
        return ev.eval['precision'], ev.eval['recall'], ev
    from .faster_lvis import COCOeval_faster
    dt = gt.loadRes(dets)
    ev = COCOeval_faster(gt, dt, iou_type, lvis_style=True, print_function=lambda *a: None)
    ev.params.maxDets = [max_dets]
    ev.params.imgIds = sorted(gt.getImgIds())
    ev.params.catIds = list(cats)
    ev.evaluate()
    ev.accumulate()
    return ev.eval['precision'][..., 0], ev.eval['recall'][..., 0], ev


def _placeholders(gt, cats: List[int], iou_type: str, backend: str) -> List[dict]:
    """One score-0, one-pixel detection at the image corner per category (for a chunk with
    no detections: the backends reject an empty result list). It matches no ground truth
    (IoU < 0.5 with any instance of more than 2 pixels), so precision and recall are those of
    no detections: 0 where the category has ground truth, -1 where it has none."""
    import pycocotools.mask as mask_utils
    img = min(gt.get_img_ids() if backend == 'lvis-api' else gt.getImgIds())
    info = (gt.load_imgs if backend == 'lvis-api' else gt.loadImgs)([img])[0]
    h, w = info['height'], info['width']
    pixel = mask_utils.frPyObjects(dict(size=[h, w], counts=[0, 1, h * w - 1]), h, w)
    out = []
    for c in cats:
        d = dict(image_id=img, category_id=int(c), bbox=[0.0, 0.0, 1.0, 1.0], score=0.0)
        if iou_type == 'segm':
            d['segmentation'] = dict(size=pixel['size'], counts=pixel['counts'].decode())
        out.append(d)
    return out


def per_category_ap(precision: np.ndarray) -> List[float]:
    """AP of every category (IoU 0.50:0.95, all areas) from a precision array (T, R, K, A):
    the mean of its entries > -1 (detectron2's and mmdet's ``classwise``), NaN without."""
    out = []
    for k in range(precision.shape[2]):
        p = precision[:, :, k, 0]
        p = p[p > -1]
        out.append(float(np.mean(p)) if p.size else float('nan'))
    return out


def listed_categories(gt) -> Dict[int, frozenset]:
    """Per image, the categories LVIS evaluates there: those with an instance in the image
    and its ``neg_category_ids``."""
    imgs, anns = gt.dataset['images'], gt.dataset['annotations']
    listed = {im['id']: set(im.get('neg_category_ids', [])) for im in imgs}
    for a in anns:
        listed[a['image_id']].add(a['category_id'])
    return {k: frozenset(v) for k, v in listed.items()}


def _summarize(ev, precision, recall, all_cats, backend, max_dets):
    """The backend's summary (lvis-api ``get_results`` keys) over the concatenated arrays."""
    if backend == 'lvis-api':
        ev.params.cat_ids = list(all_cats)
        ev.freq_groups = ev._prepare_freq_group()
        ev.eval = dict(ev.eval, precision=precision, recall=recall)
        ev.summarize()
        return {k: float(v) for k, v in ev.get_results().items()}
    from .faster_lvis import LVIS_RESULT_KEYS
    ev.params.catIds = list(all_cats)
    ev.freq_groups = ev._prepare_freq_group()
    ev.eval = dict(ev.eval, precision=precision[..., None], recall=recall[..., None])
    ev.summarize()
    stats = ev.stats_as_dict
    return {key.replace(f'@{LVIS_MAX_DETS}', f'@{max_dets}'): float(stats[label])
            for label, key in LVIS_RESULT_KEYS.items()}


def evaluate_chunked(gt, chunk_dets: Iterable[Tuple[List[int], List[dict]]], iou_type: str,
                     backend: str = 'faster-coco-eval', max_dets: int = LVIS_MAX_DETS):
    """LVIS evaluation one category chunk at a time.

    Args:
        gt: the ground truth: an lvis-api ``LVIS`` (backend ``'lvis-api'``) or a
            faster-coco-eval ``COCO`` (``'faster-coco-eval'``).
        chunk_dets: ``(category ids, detections)`` per chunk; the chunks partition the
            ground truth's categories (sorted by id, contiguous); detections in lvis-api's
            result format, already capped per image (:func:`capped_order`).
        iou_type: ``'bbox'`` or ``'segm'``.

    Returns:
        ``(results, precision)``: lvis-api ``get_results()`` keys (AP ... APf, AR@300,
        ARs/m/l@300) and the precision array (IoU 10, recall 101, categories, areas 4).

    Raises:
        ValueError: unknown backend or iou type, or chunks that do not cover the
            categories in order.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if iou_type not in ('bbox', 'segm'):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    all_cats = sorted(gt.get_cat_ids() if backend == 'lvis-api' else gt.getCatIds())
    listed = listed_categories(gt)
    precisions, recalls, seen, ev = [], [], [], None
    for cats, dets in chunk_dets:
        seen.extend(cats)
        # both backends drop these first (lvis-api LVISEval._prepare; faster-coco-eval
        # COCOeval._prepare, whose 1.8.0 then fails on an image that has only such
        # detections: "IndexError: unordered_map::at")
        dets = [d for d in dets if d['category_id'] in listed[d['image_id']]]
        ev = None  # the previous chunk's evaluator (its detections) goes first
        p, r, ev = _evaluate_chunk(gt, dets or _placeholders(gt, cats, iou_type, backend),
                                   list(cats), iou_type, backend, max_dets)
        precisions.append(p), recalls.append(r)
        del dets
    if seen != all_cats:
        raise ValueError('the chunks must list every category of the ground truth, sorted '
                         'by id, once')
    precision = np.concatenate(precisions, axis=2)
    recall = np.concatenate(recalls, axis=1)
    return _summarize(ev, precision, recall, all_cats, backend, max_dets), precision


try:
    from mmdet.evaluation.metrics import LVISMetric
    from mmdet.registry import METRICS
except ImportError:  # pragma: no cover  (mmdet is optional for the rest of gated_mm)
    LVISMetric = None

if LVISMetric is not None:
    from mmengine.dist import broadcast_object_list, get_dist_info, is_distributed
    from mmengine.fileio import get_local_path
    from mmengine.logging import MMLogger

    @METRICS.register_module()
    class StreamedLVISMetric(LVISMetric):
        """mmdet's ``LVISMetric`` (bbox / segm) with per-rank results spilled to disk and the
        evaluation run one category chunk at a time (see the module docstring).

        Args:
            ann_file: the LVIS v1 annotation JSON (required).
            metric: ``'bbox'``, ``'segm'`` or both.
            backend: ``'lvis-api'`` (default, as ``LVISMetric``) or ``'faster-coco-eval'``.
            num_chunks: category chunks evaluated one after another (8: about 150 LVIS
                categories and an eighth of the detections each).
            spill_dir: directory for the spill files, shared by all ranks (default: a new
                temporary directory of rank 0, broadcast); removed after each evaluation.
            **kwargs: the other ``LVISMetric`` arguments (``outfile_prefix``, ``classwise``,
                ``format_only``, ``metric_items``, ...).

        Returns (``evaluate``): the keys and values of ``LVISMetric`` (``bbox_AP``, ...,
        ``segm_APf`` rounded to 3 decimals, ``<category>_precision`` with ``classwise``).

        Raises:
            ValueError: no ``ann_file``, a proposal metric, an unknown backend, or
                ``num_chunks`` < 1.
            ImportError: backend ``'faster-coco-eval'`` without faster-coco-eval.
        """

        def __init__(self, ann_file: Optional[str] = None,
                     metric: Union[str, List[str]] = 'bbox', backend: str = 'lvis-api',
                     num_chunks: int = 8, spill_dir: Optional[str] = None, **kwargs):
            from .faster_lvis import check_box_mask_metric
            check_box_mask_metric('StreamedLVISMetric', ann_file, metric)
            if backend not in BACKENDS:
                raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
            if num_chunks < 1:
                raise ValueError(f'num_chunks must be >= 1, got {num_chunks}')
            super().__init__(ann_file=None, metric=metric, **kwargs)
            self.backend, self.num_chunks = backend, num_chunks
            with get_local_path(ann_file, backend_args=self.backend_args) as local_path:
                if backend == 'lvis-api':
                    from lvis import LVIS
                    self._lvis_api = LVIS(local_path)
                    self.cat_ids = sorted(self._lvis_api.get_cat_ids())
                else:
                    from .faster_lvis import load_lvis_gt
                    self._lvis_api = load_lvis_gt(local_path)
                    self.cat_ids = sorted(self._lvis_api.getCatIds())
            if spill_dir is None:
                holder = [tempfile.mkdtemp(prefix='lvis_spill_')
                          if get_dist_info()[0] == 0 else None]
                if is_distributed():
                    broadcast_object_list(holder, src=0)
                spill_dir = holder[0]
            self.spill_dir = spill_dir
            self._spill = None

        def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
            if self._spill is None:
                self._spill = ResultSpill(self.spill_dir, get_dist_info()[0], self.cat_ids,
                                          self.num_chunks)
            for sample in data_samples:
                pred = sample['pred_instances']
                result = dict(img_id=sample['img_id'])
                for key in ('bboxes', 'scores', 'labels', 'mask_scores'):
                    if key in pred:
                        value = pred[key]
                        result[key] = value.cpu().numpy() if hasattr(value, 'cpu') else value
                if 'masks' in pred:
                    masks = pred['masks']
                    if not isinstance(masks, list):
                        from mmdet.evaluation.functional import encode_mask_results
                        masks = encode_mask_results(masks.detach().cpu().numpy())
                    result['masks'] = masks
                self.results.append(self._spill.add(result))

        def evaluate(self, size: int) -> dict:
            if self._spill is not None:
                self._spill.close()
                self._spill = None
            return super().evaluate(size)

        def compute_metrics(self, results: list) -> Dict[str, float]:
            logger: MMLogger = MMLogger.get_current_instance()
            tmp_dir = None
            if self.outfile_prefix is None:
                tmp_dir = tempfile.TemporaryDirectory()
                outfile_prefix = osp.join(tmp_dir.name, 'results')
            else:
                outfile_prefix = self.outfile_prefix
            chunks = category_chunks(self.cat_ids, self.num_chunks)
            keys = [tuple(k) for k in results]
            eval_results = OrderedDict()
            metric_items = self.metric_items or list(_KEYS)
            try:
                for metric in self.metrics:
                    writer = _JSONListWriter(f'{outfile_prefix}.{metric}.json')
                    count = [0]
                    listed = listed_categories(self._lvis_api)

                    def chunk_dets(metric=metric, writer=writer, count=count):
                        for k, cats in enumerate(chunks):
                            dets = read_chunk(self.spill_dir, k, keys, metric)
                            writer.extend(dets)
                            count[0] += len(dets)
                            # only what LVIS evaluates is kept while the chunk is evaluated
                            dets = [d for d in dets
                                    if d['category_id'] in listed[d['image_id']]]
                            yield cats, dets
                            dets = None

                    if self.format_only:
                        for _ in chunk_dets():
                            pass
                        writer.close()
                        continue
                    logger.info(f'Evaluating {metric} ({self.backend}, '
                                f'{len(chunks)} category chunks)...')
                    lvis_results, precision = evaluate_chunked(
                        self._lvis_api, chunk_dets(), metric, self.backend)
                    writer.close()
                    if count[0] == 0:
                        logger.info('The testing results of the whole dataset is empty.')
                        break
                    aps = per_category_ap(precision)
                    if self.outfile_prefix is not None:
                        # read by tools/test.py's per-category report instead of evaluating
                        # the whole result file again
                        with open(f'{outfile_prefix}.{metric}.per_category_ap.json', 'w') as f:
                            json.dump(dict(detections=count[0], ap=dict(zip(self.cat_ids, aps))),
                                      f)
                    if self.classwise:
                        load = (self._lvis_api.load_cats if self.backend == 'lvis-api'
                                else self._lvis_api.loadCats)
                        for ap, cat in zip(aps, load(self.cat_ids)):
                            eval_results[f'{cat["name"]}_precision'] = round(ap, 3)
                    for key, value in lvis_results.items():
                        if key in metric_items:
                            eval_results[f'{metric}_{key}'] = float(f'{value:.3f}')
            finally:
                shutil.rmtree(self.spill_dir, ignore_errors=True)
                if tmp_dir is not None:
                    tmp_dir.cleanup()
            if self.format_only:
                logger.info(f'results are saved in {osp.dirname(outfile_prefix)}')
            return eval_results
else:  # pragma: no cover
    StreamedLVISMetric = None
