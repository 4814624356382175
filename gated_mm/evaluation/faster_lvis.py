"""LVIS evaluation with faster-coco-eval's LVIS mode: :class:`FasterLVISMetric` (mmdet
``METRICS``) and the evaluator function :func:`faster_lvis_evaluate` it calls.

mmdet's ``LVISMetric`` evaluates with lvis-api 0.5.3 (``LVISResults`` + ``LVISEval``, pure
Python per image and category). faster-coco-eval (``COCOeval_faster(..., lvis_style=True)``,
C++ matching and accumulation; github.com/MiXaiLL76/faster_coco_eval,
``faster_coco_eval/core/cocoeval.py``) implements the same federated protocol:

* a detection of category c in image i counts only if c is annotated in i or listed in
  i's ``neg_category_ids``; unmatched detections of categories in i's
  ``not_exhaustive_category_ids`` are ignored;
* at most ``max_dets`` = 300 detections per image over all categories, the highest scoring
  (lvis-api ``LVISResults.limit_dets_per_image``; faster-coco-eval caps per image and
  category only, so :func:`faster_lvis_evaluate` applies the per-image cap first);
* AP = mean over IoU 0.50:0.05:0.95 and 101 recall points of the interpolated precision,
  averaged over categories with ground truth; APr / APc / APf over the categories of
  frequency ``r`` / ``c`` / ``f``; every ground-truth image is evaluated (lvis-api
  ``LVISEval`` evaluates ``lvis_gt.get_img_ids()``: mmdet's ``params.imgIds = ...`` does not
  set lvis-api's ``params.img_ids``).

``tests/evaluation/test_faster_lvis.py`` checks that AP, AP50, AP75, APs/m/l, APr/c/f and
AR@300 equal lvis-api's to 1e-4 for bbox and segm on Omniglot-LVIS predictions (RLE and
polygon ground truth, negative and not-exhaustive category lists); the speed and memory
comparison is in ``docs/benchmarks.md`` (``tools/analysis_tools/benchmark_lvis_eval.py``).

lvis-api stays the default (``LVISMetric``); select this one with
``--cfg-options val_evaluator.type=FasterLVISMetric test_evaluator.type=FasterLVISMetric``.
Needs ``faster-coco-eval`` (``requirements/lvis_fast.txt``).
"""
import itertools
import os.path as osp
import tempfile
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Union

from .lvis_streaming import per_category_ap

try:
    from faster_coco_eval import COCO as FasterCOCO
    from faster_coco_eval import COCOeval_faster
except ImportError:  # optional dependency
    FasterCOCO = COCOeval_faster = None

INSTALL_HINT = 'pip install -r requirements/lvis_fast.txt (faster-coco-eval)'
LVIS_MAX_DETS = 300
#: faster-coco-eval ``stats_as_dict`` label -> lvis-api ``LVISEval.get_results()`` key
LVIS_RESULT_KEYS = {'AP_all': 'AP', 'AP_50': 'AP50', 'AP_75': 'AP75', 'AP_small': 'APs',
                    'AP_medium': 'APm', 'AP_large': 'APl', 'APr': 'APr', 'APc': 'APc',
                    'APf': 'APf', 'AR_all': f'AR@{LVIS_MAX_DETS}',
                    'AR_small': f'ARs@{LVIS_MAX_DETS}', 'AR_medium': f'ARm@{LVIS_MAX_DETS}',
                    'AR_large': f'ARl@{LVIS_MAX_DETS}'}


def _require():
    if COCOeval_faster is None:
        raise ImportError(f'FasterLVISMetric needs faster-coco-eval: {INSTALL_HINT}')


def limit_dets_per_image(anns: List[dict], max_dets: int = LVIS_MAX_DETS) -> List[dict]:
    """The ``max_dets`` highest-scoring detections of every image, as lvis-api's
    ``LVISResults.limit_dets_per_image`` (stable sort by score, descending; images in
    first-appearance order)."""
    per_img = defaultdict(list)
    for ann in anns:
        per_img[ann['image_id']].append(ann)
    out = []
    for img_anns in per_img.values():
        if len(img_anns) > max_dets:
            img_anns = sorted(img_anns, key=lambda a: a['score'], reverse=True)[:max_dets]
        out.extend(img_anns)
    return out


def load_lvis_gt(ann_file: str):
    """faster-coco-eval ``COCO`` of an LVIS v1 annotation file."""
    _require()
    return FasterCOCO(ann_file)


def faster_lvis_evaluate(gt, results: Union[str, List[dict]], iou_type: str,
                         max_dets: int = LVIS_MAX_DETS, print_function=None):
    """Evaluate LVIS-format detections with faster-coco-eval's LVIS mode.

    Args:
        gt: ground truth, a faster-coco-eval ``COCO`` (:func:`load_lvis_gt`) or a path.
        results: detections (list of ``{image_id, category_id, bbox | segmentation, score}``,
            lvis-api's result format) or the path of their JSON file.
        iou_type: ``'bbox'`` or ``'segm'``.
        max_dets: detections kept per image (LVIS: 300).

    Returns:
        ``(results, evaluator)``: ``results`` has lvis-api's ``LVISEval.get_results()`` keys
        (``AP``, ``AP50``, ``AP75``, ``APs``, ``APm``, ``APl``, ``APr``, ``APc``, ``APf``,
        ``AR@300``, ``ARs@300``, ``ARm@300``, ``ARl@300``, with ``max_dets`` for 300) as
        floats; the evaluator's ``eval['precision']`` has shape (IoU thresholds 10, recall
        points 101, categories, area ranges 4, 1): lvis-api's layout plus a max-dets axis.

    Raises:
        ValueError: ``iou_type`` other than bbox / segm, ``max_dets`` < 1, or no detections
            (lvis-api raises ``IndexError`` there; mmdet then reports an empty result).
    """
    _require()
    if iou_type not in ('bbox', 'segm'):
        raise ValueError(f"iou_type must be 'bbox' or 'segm' for LVIS, got {iou_type!r}")
    if isinstance(gt, str):
        gt = load_lvis_gt(gt)
    anns = FasterCOCO.load_json(results) if isinstance(results, str) else list(results)
    if not anns:
        raise ValueError('no detections to evaluate')
    if max_dets < 1:
        raise ValueError(f'max_dets must be >= 1 (LVIS: 300), got {max_dets}')
    anns = limit_dets_per_image(anns, max_dets)
    kwargs = {} if print_function is None else dict(print_function=print_function)
    dt = gt.loadRes(anns)
    evaluator = COCOeval_faster(gt, dt, iou_type, lvis_style=True, **kwargs)
    evaluator.params.maxDets = [max_dets]
    evaluator.params.imgIds = sorted(gt.getImgIds())
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    stats = evaluator.stats_as_dict
    keys = {label: key.replace(f'@{LVIS_MAX_DETS}', f'@{max_dets}')
            for label, key in LVIS_RESULT_KEYS.items()}
    return {key: float(stats[label]) for label, key in keys.items()}, evaluator


def check_box_mask_metric(owner: str, ann_file: Optional[str],
                          metric: Union[str, List[str]]) -> None:
    """The arguments an LVIS metric that evaluates an annotation file's boxes / masks needs.

    Raises:
        ValueError: no ``ann_file``, or a ``metric`` other than ``'bbox'`` / ``'segm'``
            (proposals: use mmdet's ``LVISMetric``); the message starts with ``owner``.
    """
    if ann_file is None:
        raise ValueError(f'{owner} needs ann_file (the LVIS v1 annotation JSON); without it '
                         'use LVISMetric')
    metrics = metric if isinstance(metric, list) else [metric]
    bad = [m for m in metrics if m not in ('bbox', 'segm')]
    if bad:
        raise ValueError(f'{owner} evaluates bbox / segm, not {bad}: use LVISMetric for '
                         'proposals')


try:
    from mmdet.evaluation.metrics import LVISMetric
    from mmdet.registry import METRICS
except ImportError:  # pragma: no cover  (mmdet is optional for the rest of gated_mm)
    LVISMetric = None

if LVISMetric is not None:
    from mmengine.fileio import get_local_path
    from mmengine.logging import MMLogger

    @METRICS.register_module()
    class FasterLVISMetric(LVISMetric):
        """mmdet's ``LVISMetric`` evaluated with faster-coco-eval's LVIS mode.

        Same arguments, ``process`` and result keys (``bbox_AP``, ..., ``segm_APf``,
        rounded to 3 decimals, and ``<category>_precision`` with ``classwise``) as
        ``LVISMetric``; only ``metric`` ``'bbox'`` / ``'segm'`` and a given ``ann_file``
        (the LVIS v1 annotation JSON). The ground truth is held once, as a faster-coco-eval
        ``COCO`` (in ``_lvis_api``), not also as an lvis-api ``LVIS``.

        Raises:
            ImportError: faster-coco-eval is not installed.
            ValueError: no ``ann_file``, or a proposal metric (use ``LVISMetric``).
        """

        def __init__(self, ann_file: Optional[str] = None,
                     metric: Union[str, List[str]] = 'bbox', **kwargs):
            _require()
            check_box_mask_metric('FasterLVISMetric', ann_file, metric)
            super().__init__(ann_file=None, metric=metric, **kwargs)
            with get_local_path(ann_file, backend_args=self.backend_args) as local_path:
                self._lvis_api = load_lvis_gt(local_path)

        def compute_metrics(self, results: list) -> Dict[str, float]:
            logger: MMLogger = MMLogger.get_current_instance()
            _, preds = zip(*results)
            tmp_dir = None
            if self.outfile_prefix is None:
                tmp_dir = tempfile.TemporaryDirectory()
                outfile_prefix = osp.join(tmp_dir.name, 'results')
            else:
                outfile_prefix = self.outfile_prefix
            gt = self._lvis_api
            if self.cat_ids is None:
                self.cat_ids = sorted(gt.getCatIds())
            if self.img_ids is None:
                self.img_ids = sorted(gt.getImgIds())
            result_files = self.results2json(preds, outfile_prefix)
            eval_results = OrderedDict()
            if self.format_only:
                logger.info(f'results are saved in {osp.dirname(outfile_prefix)}')
                return eval_results
            metric_items = self.metric_items or ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl',
                                                 'APr', 'APc', 'APf']
            for metric in self.metrics:
                logger.info(f'Evaluating {metric} (faster-coco-eval, LVIS mode)...')
                try:
                    lvis_results, evaluator = faster_lvis_evaluate(
                        gt, result_files[metric], metric, print_function=logger.info)
                except ValueError:
                    logger.info('The testing results of the whole dataset is empty.')
                    break
                if self.classwise:
                    precisions = evaluator.eval['precision'][..., -1]  # the max-dets axis
                    assert len(self.cat_ids) == precisions.shape[2]
                    rows = []
                    for ap, cat in zip(per_category_ap(precisions), gt.loadCats(self.cat_ids)):
                        rows.append((cat['name'], f'{ap:0.3f}'))
                        eval_results[f'{cat["name"]}_precision'] = round(ap, 3)
                    self._log_table(rows, logger)
                for key, value in lvis_results.items():
                    if key in metric_items:
                        eval_results[f'{metric}_{key}'] = float(f'{value:.3f}')
            if tmp_dir is not None:
                tmp_dir.cleanup()
            return eval_results

        @staticmethod
        def _log_table(rows, logger):
            from terminaltables import AsciiTable
            num_columns = min(6, len(rows) * 2)
            flat = list(itertools.chain(*rows))
            table = [['category', 'AP'] * (num_columns // 2)]
            table += list(itertools.zip_longest(*[flat[i::num_columns]
                                                  for i in range(num_columns)]))
            logger.info('\n' + AsciiTable(table).table)
else:  # pragma: no cover
    FasterLVISMetric = None
