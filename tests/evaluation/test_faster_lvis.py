"""FasterLVISMetric / faster_lvis_evaluate (faster-coco-eval, LVIS mode) against lvis-api
0.5.3 on Omniglot-LVIS val predictions made from the ground truth
(tools/analysis_tools/benchmark_lvis_eval.py: localised, confused-category and
false-positive detections, more than the 300-per-image cap): every LVIS result equal to
1e-4, for bbox and segm, RLE and polygon ground truth, with and without federated negative /
not-exhaustive lists; and the metric's keys and values equal to mmdet's LVISMetric.

Data: ``$GATED_MM_DATA/omniglot-small`` (default ``<repo>/../shared/data``); skipped without
it or without faster-coco-eval (``requirements/lvis_fast.txt``).
"""
import copy
import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip('faster_coco_eval', reason='pip install -r requirements/lvis_fast.txt')

import gated_mm  # noqa: F401,E402  (compat: lvis-api on NumPy >= 1.24)
from gated_mm.evaluation.faster_lvis import (FasterLVISMetric, faster_lvis_evaluate,  # noqa: E402
                                             limit_dets_per_image, load_lvis_gt)

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get('GATED_MM_DATA', ROOT.parent / 'shared' / 'data'))
OMNIGLOT = DATA / 'omniglot-small'
KEYS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300']

pytestmark = pytest.mark.skipif(not OMNIGLOT.is_dir(),
                                reason=f'Omniglot not found at {OMNIGLOT} (set GATED_MM_DATA)')


def _bench():
    path = ROOT / 'tools/analysis_tools/benchmark_lvis_eval.py'
    spec = importlib.util.spec_from_file_location('benchmark_lvis_eval', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def val_ann(tmp_path_factory):
    out = tmp_path_factory.mktemp('omniglot_lvis')
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools/dataset_converters/omniglot_to_lvis.py'), str(out),
         '--omniglot-root', str(OMNIGLOT), '--num-classes', '12', '--n-max', '120',
         '--imbalance', '30', '--val-per-class', '5', '--rare-max', '8', '--common-max', '40'],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return str(out / 'annotations' / 'lvis_v1_val.json')


def _lvis_api(gt_path, dets, iou_type):
    from lvis import LVIS, LVISEval, LVISResults
    logging.disable(logging.WARNING)
    try:
        gt = LVIS(gt_path)
        ev = LVISEval(gt, LVISResults(gt, copy.deepcopy(dets), max_dets=300), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    finally:
        logging.disable(logging.NOTSET)
    return {k: float(v) for k, v in ev.get_results().items()}, ev


@pytest.mark.parametrize('polygon,federated', [(False, False), (True, True)])
def test_parity_with_lvis_api(val_ann, tmp_path, polygon, federated):
    bench = _bench()
    gt = bench.make_gt(val_ann, polygon=polygon, federated=federated)
    bbox, segm = bench.make_predictions(gt, dets_per_image=300)
    counts = np.bincount([d['image_id'] for d in bbox])
    assert counts.max() > 300  # the per-image cap is exercised
    gt_path = tmp_path / 'gt.json'
    gt_path.write_text(json.dumps(gt))
    fgt = load_lvis_gt(str(gt_path))
    refs = {}
    for iou_type, dets in (('bbox', bbox), ('segm', segm)):
        ref, ref_ev = _lvis_api(str(gt_path), dets, iou_type)
        got, ev = faster_lvis_evaluate(fgt, copy.deepcopy(dets), iou_type,
                                       print_function=lambda *a: None)
        for k in KEYS:
            assert got[k] == pytest.approx(ref[k], abs=1e-4), (iou_type, k, got[k], ref[k])
        assert 0.05 < ref['AP'] < 0.95 and ref['APr'] > 0  # non-trivial numbers
        # per-category precision (the classwise table) too
        p_ref, p_got = ref_ev.eval['precision'], ev.eval['precision'][..., 0]
        assert p_got.shape == p_ref.shape
        np.testing.assert_allclose(p_got, p_ref, atol=1e-12)
        refs[iou_type] = ref
        if iou_type == 'bbox':  # the data exercise the 300-per-image cap: without it AR moves
            import gated_mm.evaluation.faster_lvis as fl
            orig, fl.limit_dets_per_image = fl.limit_dets_per_image, lambda anns, m: anns
            try:
                uncapped, _ = fl.faster_lvis_evaluate(fgt, copy.deepcopy(dets), iou_type,
                                                      print_function=lambda *a: None)
            finally:
                fl.limit_dets_per_image = orig
            assert abs(uncapped['AR@300'] - ref['AR@300']) > 1e-3
    if federated:  # the federated lists change the result: both backends honour them
        gt_path.write_text(json.dumps(bench.make_gt(val_ann, polygon=polygon)))
        assert _lvis_api(str(gt_path), bbox, 'bbox')[0]['AP'] != refs['bbox']['AP']


def test_limit_dets_per_image_matches_lvis_results():
    from lvis.results import LVISResults
    rng = np.random.default_rng(0)
    anns = [dict(image_id=int(rng.integers(3)), score=float(s)) for s in rng.random(50)]
    ours = limit_dets_per_image(anns, 7)
    ref = LVISResults.limit_dets_per_image(None, anns, 7)
    assert ours == ref and len(ours) == 21


def _samples(gt, bbox, segm):
    """mmdet data samples (pred_instances as tensors, masks as RLE) of the predictions."""
    import pycocotools.mask as mu
    cat_index = {c['id']: i for i, c in enumerate(gt['categories'])}
    by_img = {}
    for b, s in zip(bbox, segm):
        by_img.setdefault(b['image_id'], []).append((b, s))
    samples = []
    for im in gt['images']:
        dets = by_img.get(im['id'], [])
        boxes = torch.tensor([[d['bbox'][0], d['bbox'][1], d['bbox'][0] + d['bbox'][2],
                               d['bbox'][1] + d['bbox'][3]] for d, _ in dets]).reshape(-1, 4)
        masks = np.stack([mu.decode(s['segmentation']) for _, s in dets]).astype(bool) \
            if dets else np.zeros((0, im['height'], im['width']), bool)
        samples.append(dict(
            img_id=im['id'], ori_shape=(im['height'], im['width']),
            pred_instances=dict(bboxes=boxes, scores=torch.tensor([d['score'] for d, _ in dets]),
                                labels=torch.tensor([cat_index[d['category_id']] for d, _ in dets]),
                                masks=torch.from_numpy(masks))))
    return samples


def test_metric_equals_mmdet_lvis_metric(val_ann):
    from mmdet.evaluation.metrics import LVISMetric
    bench = _bench()
    gt = bench.make_gt(val_ann)
    bbox, segm = bench.make_predictions(gt, dets_per_image=40)
    samples = _samples(gt, bbox, segm)
    out = []
    for cls in (LVISMetric, FasterLVISMetric):
        metric = cls(ann_file=val_ann, metric=['bbox', 'segm'], classwise=True)
        metric.dataset_meta = dict(classes=[c['name'] for c in gt['categories']])
        metric.process({}, copy.deepcopy(samples))
        out.append(metric.evaluate(len(samples)))
    ref, got = out
    assert set(got) == set(ref) and len(ref) > 18  # 9 keys x 2 + per-category precisions
    for k in ref:
        assert got[k] == pytest.approx(ref[k], abs=1e-3, nan_ok=True), k  # both rounded to 3


def test_metric_errors(val_ann):
    with pytest.raises(ValueError, match='needs ann_file'):
        FasterLVISMetric(metric='bbox')
    with pytest.raises(ValueError, match='use LVISMetric for proposals'):
        FasterLVISMetric(ann_file=val_ann, metric=['bbox', 'proposal'])
    with pytest.raises(ValueError, match='max_dets'):
        faster_lvis_evaluate(load_lvis_gt(val_ann), [dict(image_id=1)], 'bbox', max_dets=0)


def test_per_category_report_same_with_either_backend(val_ann, tmp_path):
    """tools/test.py's per-category AP table (lvis_report.per_category_ap) of a
    FasterLVISMetric config uses faster-coco-eval: the same table as with lvis-api."""
    from gated_mm.evaluation.lvis_report import per_category_ap
    bench = _bench()
    gt = bench.make_gt(val_ann)
    bbox, _ = bench.make_predictions(gt, dets_per_image=60)
    res = tmp_path / 'r.bbox.json'
    res.write_text(json.dumps(bbox))
    ref = per_category_ap(val_ann, str(res), 'bbox')
    got = per_category_ap(val_ann, str(res), 'bbox', faster=True)
    assert list(got) == list(ref) and len(ref) == 12
    np.testing.assert_allclose(list(got.values()), list(ref.values()), atol=1e-12)
