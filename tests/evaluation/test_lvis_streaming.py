"""StreamedLVISMetric / evaluate_chunked (results spilled to disk, LVIS evaluated one category
chunk at a time) on a reduced simulated LVIS v1 val (tools/analysis_tools/simulate_lvis_val.py:
the real 1,203-category vocabulary, 300 boxes + RLE masks per image):

* the simulation is deterministic, a prefix of the full set, and its federated lists are
  truthful;
* chunked evaluation equals the one-shot lvis-api ``LVISEval`` (every result and the
  precision array to 1e-12), with both backends, also when a chunk has no detections;
* through the whole ``tools/test.py`` path (tools/analysis_tools/benchmark_lvis_eval_path.py:
  2 simulated ranks and mmengine's ``collect_results_cpu`` for the streamed metric, 1 rank
  for ``FasterLVISMetric``, which mmdet's ``LVISMetric`` equals), the streamed metric gives
  the same numbers to 1e-12 and its evaluation memory per detection (rank 0's peak RSS over
  its RSS after the imports, per detection) stays under a stated bound and below
  ``FasterLVISMetric``'s.

Data: ``$GATED_MM_DATA/lvis-v1-meta`` (default ``<repo>/../shared/data``; the LVIS v1
categories); skipped without it.
"""
import copy
import importlib.util
import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gated_mm  # noqa: F401  (compat: lvis-api on NumPy >= 1.24)
from gated_mm.evaluation.lvis_streaming import (StreamedLVISMetric, category_chunks,
                                                evaluate_chunked, image_records,
                                                record_dicts)

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get('GATED_MM_DATA', ROOT.parent / 'shared' / 'data'))
CATS = DATA / 'lvis-v1-meta' / 'lvis_v1_categories.json'
KEYS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300',
        'ARs@300', 'ARm@300', 'ARl@300']
N_IMAGES = 60
# evaluation memory per detection of StreamedLVISMetric at 60 images x 300 detections
# (rank 0's peak RSS over its RSS after the imports, per detection): measured 9 KiB here
# (FasterLVISMetric: 21 KiB); fixed costs dominate at this size (at LVIS v1 val size:
# 1.0 KiB, docs/benchmarks.md)
MAX_BYTES_PER_DET = 16 * 1024

pytestmark = pytest.mark.skipif(not CATS.is_file(),
                                reason=f'LVIS v1 categories not found at {CATS} '
                                       '(set GATED_MM_DATA)')


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / 'tools' / 'analysis_tools' / f'{name}.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp('sim')
    summary = _tool('simulate_lvis_val').simulate(str(CATS), str(out), N_IMAGES,
                                                   log_every=0)
    return out, summary


def _preds(sim_dir):
    return [r for _, r in _tool('simulate_lvis_val').iter_predictions(
        str(sim_dir / 'predictions.pkl'))]


def test_simulation_deterministic_prefix_truthful(sim, tmp_path):
    sim_dir, summary = sim
    assert summary['images'] == N_IMAGES and summary['detections'] == 300 * N_IMAGES
    _tool('simulate_lvis_val').simulate(str(CATS), str(tmp_path), 5, log_every=0)
    a = (tmp_path / 'predictions.pkl').read_bytes()
    assert (sim_dir / 'predictions.pkl').read_bytes()[:len(a)] == a  # a prefix
    gt = json.loads((sim_dir / 'lvis_v1_val_sim.json').read_text())
    freq = [c['frequency'] for c in gt['categories']]
    assert len(freq) == 1203 and [freq.count(g) for g in 'rcf'] == [337, 461, 405]
    present = {}
    for ann in gt['annotations']:
        present.setdefault(ann['image_id'], set()).add(ann['category_id'])
    for im in gt['images']:
        assert not set(im['neg_category_ids']) & present[im['id']]
        assert set(im['not_exhaustive_category_ids']) <= present[im['id']]
    assert sum(len(im['neg_category_ids']) for im in gt['images']) > 0
    assert sum(len(im['not_exhaustive_category_ids']) for im in gt['images']) > 0


def _one_shot(gt_path, preds, cats, iou_type):
    from lvis import LVIS, LVISEval, LVISResults
    dets = []
    for r in preds:
        for i in range(len(r['labels'])):
            b = r['bboxes'][i].tolist()
            d = dict(image_id=r['img_id'], bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
                     score=float(r['scores'][i]), category_id=cats[r['labels'][i]])
            if iou_type == 'segm':
                d['segmentation'] = dict(size=r['masks'][i]['size'],
                                         counts=r['masks'][i]['counts'].decode())
            dets.append(d)
    gt = LVIS(gt_path)
    ev = LVISEval(gt, LVISResults(gt, dets), iou_type)
    ev.run()
    return ev.get_results(), ev.eval['precision']


@pytest.mark.slow
@pytest.mark.parametrize('drop_chunk', [None, 1])
def test_chunked_equals_one_shot(sim, drop_chunk):
    pytest.importorskip('faster_coco_eval', reason='pip install -r requirements/lvis_fast.txt')
    from lvis import LVIS

    from gated_mm.evaluation.faster_lvis import load_lvis_gt
    logging.disable(logging.WARNING)
    sim_dir, _ = sim
    gt_path = str(sim_dir / 'lvis_v1_val_sim.json')
    preds = _preds(sim_dir)
    cats = sorted(c['id'] for c in json.loads(Path(gt_path).read_text())['categories'])
    chunks = category_chunks(cats, 8)
    chunk_of = {c: k for k, part in enumerate(chunks) for c in part}
    if drop_chunk is not None:  # a chunk without detections (evaluated with placeholders)
        for r in preds:
            keep = np.array([chunk_of[cats[lab]] != drop_chunk for lab in r['labels']])
            r.update(bboxes=r['bboxes'][keep], scores=r['scores'][keep],
                     labels=r['labels'][keep],
                     masks=[m for m, k in zip(r['masks'], keep) if k])
    records = [(r['img_id'], image_records(r, cats, chunk_of)) for r in preds]
    for iou_type in ('bbox', 'segm'):
        ref, ref_precision = _one_shot(gt_path, copy.deepcopy(preds), cats, iou_type)
        for backend, gt in (('lvis-api', LVIS(gt_path)),
                            ('faster-coco-eval', load_lvis_gt(gt_path))):
            if backend == 'lvis-api' and drop_chunk is not None and iou_type == 'segm':
                continue  # the slowest case adds nothing here
            parts = ((part, [d for img, rec in records if k in rec
                             for d in record_dicts(img, rec[k], iou_type)])
                     for k, part in enumerate(chunks))
            res, precision = evaluate_chunked(gt, parts, iou_type, backend)
            for key in KEYS:
                assert abs(res[key] - ref[key]) <= 1e-12, (backend, iou_type, key)
            np.testing.assert_allclose(precision, ref_precision, rtol=0, atol=1e-12)
            assert 0.2 < res['AP'] < 0.8  # hits, misses and false positives all count


def _bench(sim_dir, work, metric, backend='faster-coco-eval', world_size=2):
    out = work / f'{metric}_{backend}.json'
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools/analysis_tools/benchmark_lvis_eval_path.py'),
         str(sim_dir), '--metric', metric, '--backend', backend,
         '--world-size', str(world_size),
         '--work-dir', str(work / f'{metric}_{backend}'), '--json', str(out)],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    rank0 = next(r for r in report['ranks'] if r['rank'] == 0)
    base = rank0['stages']['load gt']['in_mib']
    extra = max(v['peak_mib'] for k, v in rank0['stages'].items() if k != 'load gt') - base
    return rank0, extra * 2 ** 20 / (300 * N_IMAGES)


@pytest.mark.slow
def test_test_py_path_streamed_vs_mmdet_metric(sim, tmp_path):
    pytest.importorskip('faster_coco_eval', reason='pip install -r requirements/lvis_fast.txt')
    sim_dir, _ = sim
    streamed, per_det = _bench(sim_dir, tmp_path, 'StreamedLVISMetric')
    old, old_per_det = _bench(sim_dir, tmp_path, 'FasterLVISMetric', world_size=1)
    for iou_type in ('bbox', 'segm'):
        for key in KEYS:
            assert abs(streamed['results_full'][iou_type][key]
                       - old['results_full'][iou_type][key]) <= 1e-12, (iou_type, key)
    assert streamed['results'] == old['results']  # the rounded bbox_AP ... segm_APf
    assert set(streamed['stages']) >= {'process', 'collect', 'read spill bbox',
                                       'dump segm', 'evaluate segm'}
    assert per_det <= MAX_BYTES_PER_DET, per_det
    assert per_det < 0.75 * old_per_det, (per_det, old_per_det)
    # results files as tools/test.py keeps them: the same detections
    for iou_type in ('bbox', 'segm'):
        files = [json.loads((tmp_path / f'{m}_faster-coco-eval' /
                             f'results.{iou_type}.json').read_text())
                 for m in ('StreamedLVISMetric', 'FasterLVISMetric')]
        key = [sorted(json.dumps(d, sort_keys=True) for d in f) for f in files]
        assert key[0] == key[1] and len(key[0]) == 300 * N_IMAGES
    # tools/test.py's per-category table: from the streamed metric's saved AP (no second
    # evaluation), the same as evaluating the result files again
    tables = [(tmp_path / f'{m}_faster-coco-eval' / 'lvis_per_category_ap.csv').read_text()
              for m in ('StreamedLVISMetric', 'FasterLVISMetric')]
    assert tables[0] == tables[1] and tables[0].count('\n') == 1204
    assert streamed['stages']['per-category report']['seconds'] < \
        old['stages']['per-category report']['seconds']


def test_metric_and_simulation_errors(sim, tmp_path):
    gt_path = str(sim[0] / 'lvis_v1_val_sim.json')
    with pytest.raises(ValueError, match='needs ann_file'):
        StreamedLVISMetric()
    with pytest.raises(ValueError, match='not \\[.proposal.\\]'):
        StreamedLVISMetric(ann_file=gt_path, metric='proposal')
    with pytest.raises(ValueError, match='backend must be one of'):
        StreamedLVISMetric(ann_file=gt_path, backend='pycocotools')
    with pytest.raises(ValueError, match='num_chunks must be >= 1'):
        StreamedLVISMetric(ann_file=gt_path, num_chunks=0)
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'images': []}))
    with pytest.raises(SystemExit, match='bad.json: expected a JSON list of LVIS categories'):
        _tool('simulate_lvis_val').load_categories(str(bad))


def test_spill_round_trip_keeps_order_and_cap(tmp_path):
    """A spilled image gives back results2json's dicts, capped as lvis-api caps."""
    from gated_mm.evaluation.lvis_streaming import ResultSpill, read_chunk
    rng = np.random.default_rng(0)
    n = 320
    boxes = rng.uniform(0, 100, (n, 4)).astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    scores = rng.random(n).astype(np.float32)
    scores[:40] = scores[40]  # ties, broken by position
    result = dict(img_id=7, bboxes=boxes, scores=scores,
                  labels=rng.integers(0, 5, n), masks=None)
    result.pop('masks')
    spill = ResultSpill(str(tmp_path), 0, [10, 20, 30, 40, 50], 2, max_dets=300)
    key = spill.add(result)
    spill.add(result)  # a padding duplicate, not collected
    spill.close()
    got = [d for k in range(2) for d in read_chunk(str(tmp_path), k, [key], 'bbox')]
    order = sorted(range(n), key=lambda i: float(scores[i]), reverse=True)[:300]
    want = [dict(image_id=7, bbox=[float(boxes[i, 0]), float(boxes[i, 1]),
                                   float(boxes[i, 2]) - float(boxes[i, 0]),
                                   float(boxes[i, 3]) - float(boxes[i, 1])],
                 score=float(scores[i]), category_id=[10, 20, 30, 40, 50][
                     result['labels'][i]]) for i in order]
    by_chunk = [[d for d in want if d['category_id'] in part]
                for part in category_chunks([10, 20, 30, 40, 50], 2)]
    assert got == by_chunk[0] + by_chunk[1]
    assert pickle.dumps(got) == pickle.dumps(by_chunk[0] + by_chunk[1])
