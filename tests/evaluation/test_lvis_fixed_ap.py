"""AP-fixed and AP-pool (gated_mm/evaluation/lvis_fixed_ap.py) against an independent
transcription of their public definition (Dave et al., arXiv:2102.01066;
achalddave/large-vocab-devil scripts/evaluate_ap_fixed.py, evaluate_ap_pooled.py,
lvdevil/eval_wrapper.py LVISPooledEval), on constructed cases where the standards differ:

* a per-image cap of 300 cuts a rare class's only true positive (standard AP 0, fixed 1);
* rescaling one class's scores (cross-category calibration) leaves every per-class AP and
  AP-fixed unchanged but changes AP-pool.

Boxes either coincide with a ground-truth box (IoU 1) or overlap none (IoU 0), so the
transcription's matching is exact at every IoU threshold without an IoU routine.
"""
import json

import numpy as np
import pytest

from gated_mm.evaluation.lvis_fixed_ap import (fixed_ap, fixed_and_pooled_ap,
                                               limit_dets_per_category, pooled_ap)

FREQ = {1: 'r', 2: 'c', 3: 'f'}


def make_gt(path, gts, n_images):
    """gts: list of (image_id, category_id, x, y); 10 x 10 boxes; every category not
    annotated in an image is in its neg_category_ids (exhaustively verified absent)."""
    cats = [dict(id=c, name=f'c{c}', frequency=f, image_count=1, instance_count=1,
                 synonyms=[f'c{c}'], def_='') for c, f in FREQ.items()]
    present = {}
    for img, cat, _, _ in gts:
        present.setdefault(img, set()).add(cat)
    images = [dict(id=i, width=400, height=400, coco_url=f'http://x/{i}.png',
                   neg_category_ids=sorted(set(FREQ) - present.get(i, set())),
                   not_exhaustive_category_ids=[]) for i in range(1, n_images + 1)]
    anns = [dict(id=k + 1, image_id=img, category_id=cat, bbox=[x, y, 10.0, 10.0],
                 area=100.0, segmentation=[[x, y, x + 10, y, x + 10, y + 10, x, y + 10]])
            for k, (img, cat, x, y) in enumerate(gts)]
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return str(path)


def det(img, cat, x, y, score):
    return dict(image_id=img, category_id=cat, bbox=[x, y, 10.0, 10.0], score=score)


# ----------------------------------------------------------------- the transcription
def interp_ap(tp_flags, num_gt):
    """101-point interpolated precision (the COCO / LVIS definition) of one ranked list."""
    if num_gt == 0:
        return None
    tp = np.cumsum(tp_flags, dtype=float)
    fp = np.cumsum(1 - np.asarray(tp_flags), dtype=float)
    rec = tp / num_gt
    prec = tp / np.maximum(tp + fp, 1e-300)
    out = []
    for r in np.linspace(0, 1, 101):
        ok = prec[rec >= r - 1e-12] if len(rec) else []
        out.append(max(ok) if len(ok) else 0.0)
    return float(np.mean(out))


def ref_matches(gts, dets):
    """(det, is_tp) for every detection, greedy by score per (image, category); IoU is 1
    for an identical box, else 0. Detections of a category neither present nor negative
    in an image do not occur in these cases."""
    used, out = set(), []
    for d in sorted(dets, key=lambda d: -d['score']):
        key = None
        for k, (img, cat, x, y) in enumerate(gts):
            if (img, cat) == (d['image_id'], d['category_id']) and k not in used \
                    and [x, y] == d['bbox'][:2]:
                key = k
                break
        if key is not None:
            used.add(key)
        out.append((d, key is not None))
    return out


def ref_metrics(gts, dets, mode, cap=300, topk=10000):
    """mode 'standard' (300 per image), 'fixed' (top-K per category) or 'pool'."""
    if mode == 'standard':
        by_img = {}
        for d in sorted(dets, key=lambda d: -d['score']):
            by_img.setdefault(d['image_id'], []).append(d)
        dets = [d for v in by_img.values() for d in v[:cap]]
    else:
        by_cat = {}
        for d in sorted(dets, key=lambda d: -d['score']):
            by_cat.setdefault(d['category_id'], []).append(d)
        dets = [d for v in by_cat.values() for d in v[:topk]]
    matched = ref_matches(gts, dets)
    res = {}
    groups = {'': list(FREQ), 'r': [1], 'c': [2], 'f': [3]}
    for g, cats in groups.items():
        if mode == 'pool':
            flags = [tp for d, tp in matched if d['category_id'] in cats]
            ap = interp_ap(flags, sum(1 for t in gts if t[1] in cats))
            res[f'AP{g}-pool'] = -1.0 if ap is None else ap
        else:
            aps = [interp_ap([tp for d, tp in matched if d['category_id'] == c],
                             sum(1 for t in gts if t[1] == c)) for c in cats]
            aps = [a for a in aps if a is not None]
            res[f'AP{g}'] = float(np.mean(aps)) if aps else -1.0
    return res


# ----------------------------------------------------------------- case 1: the per-image cap
@pytest.fixture
def capped_case(tmp_path):
    gts = [(1, 1, 200.0, 200.0), (2, 2, 0.0, 0.0), (2, 3, 50.0, 50.0)]
    dets = [det(1, 3, 380.0 - (k % 30), 380.0 - (k // 30), 0.9 - k * 1e-4)  # 310 FPs of f
            for k in range(310)]
    dets += [det(1, 1, 200.0, 200.0, 0.05),          # rare TP: rank 311 in image 1
             det(2, 2, 0.0, 0.0, 0.6), det(2, 3, 50.0, 50.0, 0.95)]
    return make_gt(tmp_path / 'gt.json', gts, 2), gts, dets


def test_per_image_cap_cuts_a_class_fixed_ap_keeps_it(capped_case):
    from lvis import LVIS, LVISEval, LVISResults
    ann, gts, dets = capped_case
    # standard LVIS AP (lvis-api, 300 per image) agrees with the transcription: APr = 0
    std = ref_metrics(gts, dets, 'standard')
    ev = LVISEval(LVIS(ann), LVISResults(LVIS(ann), [dict(d) for d in dets]), 'bbox')
    ev.run()
    assert std['APr'] == 0.0 and ev.results['APr'] == pytest.approx(0.0, abs=1e-12)
    assert ev.results['AP'] == pytest.approx(std['AP'], abs=1e-12)
    # AP-fixed: the rare TP is kept (top 10,000 of its category), APr = 1
    got = fixed_ap(ann, dets, 'bbox')
    ref = ref_metrics(gts, dets, 'fixed')
    assert ref['APr'] == 1.0
    for k in ('AP', 'APr', 'APc', 'APf'):
        assert got[k] == pytest.approx(ref[k], abs=1e-12), k
    assert got['num_dets'] == len(dets) and sorted(got['short_categories']) == [1, 2, 3]
    # the pooled AP of the same detections, against the transcription
    pool, ref_pool = pooled_ap(ann, dets, 'bbox'), ref_metrics(gts, dets, 'pool')
    for k in ('AP-pool', 'APr-pool', 'APc-pool', 'APf-pool'):
        assert pool[k] == pytest.approx(ref_pool[k], abs=1e-12), k
    # a smaller K cuts the f category to its top-K (the TP at 0.95 stays)
    got5 = fixed_ap(ann, dets, 'bbox', dets_per_cat=5)
    assert got5['num_dets'] == 5 + 1 + 1
    assert got5['APf'] == pytest.approx(ref_metrics(gts, dets, 'fixed', topk=5)['APf'],
                                        abs=1e-12)


def test_fixed_ap_same_with_faster_coco_eval(capped_case):
    pytest.importorskip('faster_coco_eval')
    ann, _, dets = capped_case
    a, b = fixed_ap(ann, dets, 'bbox'), fixed_ap(ann, dets, 'bbox', backend='faster')
    for k in ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf'):
        assert a[k] == pytest.approx(b[k], abs=1e-12), k


# ----------------------------------------------------------------- case 2: calibration
@pytest.fixture
def calibration_case(tmp_path):
    gts = [(1, 1, 0.0, 0.0), (2, 2, 0.0, 0.0), (3, 3, 0.0, 0.0), (3, 3, 100.0, 100.0)]
    dets = [det(1, 1, 0.0, 0.0, 0.9), det(1, 1, 300.0, 300.0, 0.5),      # r: TP, FP
            det(2, 2, 0.0, 0.0, 0.7), det(2, 2, 300.0, 300.0, 0.3),      # c: TP, FP
            det(3, 3, 0.0, 0.0, 0.8), det(3, 3, 300.0, 300.0, 0.6),      # f: TP, FP, TP
            det(3, 3, 100.0, 100.0, 0.4)]
    return make_gt(tmp_path / 'gt.json', gts, 3), gts, dets


def test_rescaling_one_class_changes_pooled_ap_only(calibration_case):
    ann, gts, dets = calibration_case
    scaled = [dict(d, score=d['score'] * 0.1) if d['category_id'] == 2 else dict(d)
              for d in dets]
    results = {}
    for name, ds in (('raw', dets), ('scaled', scaled)):
        fx, pl = fixed_ap(ann, ds, 'bbox'), pooled_ap(ann, ds, 'bbox')
        ref_fx, ref_pl = ref_metrics(gts, ds, 'fixed'), ref_metrics(gts, ds, 'pool')
        for k in ('AP', 'APr', 'APc', 'APf'):
            assert fx[k] == pytest.approx(ref_fx[k], abs=1e-12), (name, k)
        for k in ('AP-pool', 'APr-pool', 'APc-pool', 'APf-pool'):
            assert pl[k] == pytest.approx(ref_pl[k], abs=1e-12), (name, k)
        results[name] = (fx, pl)
    (fx0, pl0), (fx1, pl1) = results['raw'], results['scaled']
    for k in ('AP', 'APr', 'APc', 'APf'):      # per-class AP: invariant to the rescaling
        assert fx0[k] == fx1[k]
    assert pl1['APc-pool'] == pl0['APc-pool']  # a single-class pool: unchanged
    assert pl1['AP-pool'] < pl0['AP-pool'] - 0.05  # the pool over all classes: changed


def test_fixed_and_pooled_ap_keys_and_limits(calibration_case, tmp_path):
    ann, _, dets = calibration_case
    path = tmp_path / 'results.bbox.json'
    path.write_text(json.dumps(dets))
    out = fixed_and_pooled_ap(ann, {'bbox': str(path)})
    assert {'bbox_AP-fixed', 'bbox_APr-fixed', 'bbox_APc-fixed', 'bbox_APf-fixed',
            'bbox_AP-pool', 'bbox_APr-pool', 'bbox_APc-pool', 'bbox_APf-pool'} <= set(out)
    kept, short = limit_dets_per_category(dets, 2)   # categories 1, 2: 2 each; 3: 3 -> 2
    assert len(kept) == 6 and short == [] and [d['score'] for d in kept][-2:] == [0.8, 0.6]
    kept, short = limit_dets_per_category(dets, 3)
    assert len(kept) == 7 and short == [1, 2]
    with pytest.raises(ValueError, match='dets_per_cat must be >= 1'):
        limit_dets_per_category(dets, 0)
    with pytest.raises(ValueError, match='no detections'):
        fixed_ap(ann, [], 'bbox')
    with pytest.raises(ValueError, match='unknown pool'):
        pooled_ap(ann, dets, 'bbox', pools=('x', ))


def test_tools_test_fixed_ap_option(calibration_case, tmp_path):
    """tools/test.py --fixed-ap: the test-time setting (no per-image cap, low threshold) and
    the report written from the kept detection JSON."""
    import importlib.util
    import logging
    import os.path as osp

    from mmengine.config import Config
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    spec = importlib.util.spec_from_file_location('tools_test', osp.join(root, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    ann, gts, dets = calibration_case
    cfg = Config(dict(model=dict(test_cfg=dict(rcnn=dict(score_thr=0.05, max_per_img=30))),
                      test_evaluator=dict(type='LVISMetric', ann_file=ann, metric=['bbox'])))
    tool.set_fixed_ap_test_cfg(cfg)
    assert (cfg.model.test_cfg.rcnn.score_thr, cfg.model.test_cfg.rcnn.max_per_img) == (1e-4, -1)
    with pytest.raises(ValueError, match='model.test_cfg.rcnn'):
        tool.set_fixed_ap_test_cfg(Config(dict(model=dict(test_cfg=dict()))))
    prefix = str(tmp_path / 'results')
    (tmp_path / 'results.bbox.json').write_text(json.dumps(dets))

    class Runner:
        work_dir = str(tmp_path)
        logger = logging.getLogger('test_fixed_ap')

    out = tool.write_fixed_ap(Runner, cfg, prefix, 10000)
    ref = ref_metrics(gts, dets, 'pool')
    assert out['bbox_AP-pool'] == pytest.approx(ref['AP-pool'], abs=1e-12)
    assert out['bbox_APr-fixed'] == pytest.approx(ref_metrics(gts, dets, 'fixed')['APr'],
                                                  abs=1e-12)
    text = (tmp_path / 'lvis_fixed_ap.md').read_text()
    assert '| bbox | AP-fixed |' in text and '| bbox | AP-pool |' in text
