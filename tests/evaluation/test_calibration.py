"""CalibrationError / calibration_errors: hand-computed values and an independent loop."""
import math

import numpy as np
import pytest
import torch

from gated_mm.evaluation import CalibrationError, calibration_errors, probabilities


def test_ece_hand_computed():
    # 6 samples, 3 classes, M = 2 bins (0, .5], (.5, 1]; ECE, MCE and class-wise ECE all
    # differ, and so do the per-group keys (counts 500 / 50 / 5: class 0 many, 1 medium, 2 few)
    probs = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8],
                      [0.3, 0.3, 0.4], [0.2, 0.1, 0.7]])
    labels = np.array([0, 1, 1, 2, 0, 0])
    out = calibration_errors(probs, labels, n_bins=2, class_counts=[500, 50, 5],
                             many_thr=100, few_thr=20)
    # conf .7 .6 .5 .8 .4 .7, prediction 0 0 1 2 2 2, correct 1 0 1 1 0 0
    #   bin 1 {.5, .4}: acc .5, conf .45, gap .05; bin 2 {.7, .6, .8, .7}: acc .5, conf .7,
    #   gap .2 -> ECE = (2 * .05 + 4 * .2) / 6 = .15, MCE = .2
    assert out['ece'] == pytest.approx(15.0)
    assert out['mce'] == pytest.approx(20.0)
    # class-wise: class 0, p = .7 .6 .2 .1 .3 .2, y = 1 0 0 0 1 1: bin 1 {.2 .1 .3 .2} y .5,
    #   p .2 -> .3 * 4/6; bin 2 {.7 .6} y .5, p .65 -> .15 * 2/6; ECE_0 = .25
    # class 1, p = .2 .3 .5 .1 .3 .1 (all bin 1), y = 0 1 1 0 0 0: |1/3 - 1.5/6| = 1/12
    # class 2, p = .1 .1 .3 .8 .4 .7, y = 0 0 0 1 0 0: bin 1 {.1 .1 .3 .4} y 0, p .225 ->
    #   .225 * 4/6; bin 2 {.8 .7} y .5, p .75 -> .25 * 2/6; ECE_2 = .15 + 1/12 = 7/30
    cw = {0: 0.25, 1: 1 / 12, 2: 7 / 30}
    assert out['cw_ece'] == pytest.approx(100 * (cw[0] + cw[1] + cw[2]) / 3)  # 18.89
    # many = class-0 samples (rows 0, 4, 5): conf .7 (right), .4 (wrong), .7 (wrong):
    #   bin 1 |0 - .4| n 1, bin 2 |.5 - .7| n 2 -> ECE (.4 + .4) / 3, MCE .4
    assert out['many_ece'] == pytest.approx(100 * 0.8 / 3)
    assert out['many_mce'] == pytest.approx(40.0)
    assert out['many_cw_ece'] == pytest.approx(100 * cw[0])
    # medium = rows 1, 2: conf .6 (wrong, bin 2), .5 (right, bin 1): gaps .6, .5
    assert out['medium_ece'] == pytest.approx(55.0)
    assert out['medium_mce'] == pytest.approx(60.0)
    assert out['medium_cw_ece'] == pytest.approx(100 * cw[1])
    # few = row 3: conf .8, right: gap .2
    assert out['few_ece'] == pytest.approx(20.0)
    assert out['few_mce'] == pytest.approx(20.0)
    assert out['few_cw_ece'] == pytest.approx(100 * cw[2])
    assert set(out) == {f'{g}{k}' for g in ('', 'many_', 'medium_', 'few_')
                        for k in ('ece', 'mce', 'cw_ece')}


def test_ece_two_bins_and_groups():
    probs = np.array([[0.95, 0.05, 0.0], [0.3, 0.7, 0.0], [0.2, 0.2, 0.6], [0.45, 0.1, 0.45]])
    labels = np.array([0, 0, 2, 2])
    # M = 4: conf .95 (bin 4, correct), .7 (bin 3, wrong), .6 (bin 3, correct), .45 (bin 2,
    # argmax 0 -> wrong)
    # bin 4: |1 - .95| = .05 (n 1); bin 3: |.5 - .65| = .15 (n 2); bin 2: |0 - .45| = .45
    out = calibration_errors(probs, labels, n_bins=4, class_counts=[500, 50, 5],
                             many_thr=100, few_thr=20)
    assert out['ece'] == pytest.approx(100 * (0.05 + 2 * 0.15 + 0.45) / 4)
    assert out['mce'] == pytest.approx(45.0)
    # many = class 0 samples (rows 0, 1): bin 4 |1-.95|, bin 3 |0-.7| -> (.05 + .7) / 2
    assert out['many_ece'] == pytest.approx(100 * 0.75 / 2)
    # few = class 2 samples (rows 2, 3): bin 3 |1-.6|, bin 2 |0-.45| -> (.4 + .45) / 2
    assert out['few_ece'] == pytest.approx(100 * 0.85 / 2)
    assert math.isnan(out['medium_ece'])  # no test sample of class 1


def _binned_errors(values, hits, n_bins):
    """ECE and MCE of scores ``values`` against 0/1 ``hits``: an independent loop over bins
    with explicit edges (Guo et al. 2017, Eq. 3 and 5); (nan, nan) without samples."""
    if len(values) == 0:
        return math.nan, math.nan
    ece, mce = 0.0, 0.0
    for m in range(n_bins):
        lo, hi = m / n_bins, (m + 1) / n_bins
        sel = [i for i in range(len(values))
               if (lo < values[i] <= hi) or (m == 0 and values[i] == 0)]
        if not sel:
            continue
        acc = sum(hits[i] for i in sel) / len(sel)
        c = sum(values[i] for i in sel) / len(sel)
        ece += len(sel) / len(values) * abs(acc - c)
        mce = max(mce, abs(acc - c))
    return ece, mce


def _reference(probs, labels, n_bins, class_counts=None, many_thr=100, few_thr=20):
    """Every key of calibration_errors, percent: top-label ECE / MCE over the samples (of the
    group's classes), class-wise ECE (Kull et al. 2019) averaged over the (group's) classes."""
    conf, pred = probs.max(1), probs.argmax(1)
    num_classes = probs.shape[1]

    def errors(classes):
        rows = [i for i in range(len(labels)) if labels[i] in classes]
        ece, mce = _binned_errors([conf[i] for i in rows],
                                  [pred[i] == labels[i] for i in rows], n_bins)
        cw = [_binned_errors(probs[:, c], labels == c, n_bins)[0] for c in classes]
        return 100 * ece, 100 * mce, (100 * sum(cw) / len(cw) if cw else math.nan)

    out = dict(zip(('ece', 'mce', 'cw_ece'), errors(list(range(num_classes)))))
    if class_counts is not None:
        groups = {'many': [c for c in range(num_classes) if class_counts[c] > many_thr],
                  'medium': [c for c in range(num_classes)
                             if few_thr <= class_counts[c] <= many_thr],
                  'few': [c for c in range(num_classes) if class_counts[c] < few_thr]}
        for g, classes in groups.items():
            for key, value in zip(('ece', 'mce', 'cw_ece'), errors(classes)):
                out[f'{g}_{key}'] = value
    return out


@pytest.mark.parametrize('n_bins', [1, 10, 15])
def test_ece_matches_reference_on_random(n_bins):
    rng = np.random.default_rng(n_bins)
    logits = rng.normal(size=(300, 7)) * 3
    probs = probabilities(logits)
    labels = rng.integers(0, 7, 300)
    counts = [900, 400, 150, 100, 60, 20, 8]  # many 0-2, medium 3-5, few 6
    out = calibration_errors(probs, labels, n_bins, class_counts=counts)
    ref = _reference(probs, labels, n_bins, counts)
    assert set(out) == set(ref) and len(ref) == 12
    for key in ref:
        assert out[key] == pytest.approx(ref[key], rel=1e-12, abs=1e-12), key
    if n_bins > 1:  # the three measures differ on these data
        assert len({round(out[k], 6) for k in ('ece', 'mce', 'cw_ece')}) == 3


def test_probability_maps():
    z = np.array([[0.0, 1.0, -2.0]])
    np.testing.assert_allclose(probabilities(z, 'softmax'), np.exp(z) / np.exp(z).sum())
    sm = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(probabilities(sm, 'softmax'), sm)  # already a distribution
    np.testing.assert_allclose(probabilities(z, 'sigmoid'), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(probabilities(z, 'gumbel'), np.exp(-np.exp(-z)))
    with pytest.raises(ValueError, match='prob_map'):
        probabilities(z, 'none')  # logits are not probabilities
    with pytest.raises(ValueError, match='unknown prob_map'):
        CalibrationError(prob_map='tanh')


def test_metric_in_evaluator_list_with_shot_accuracy():
    from mmengine.evaluator import Evaluator
    from mmpretrain.registry import METRICS
    counts = [300, 50, 5]
    ev = Evaluator([METRICS.build(dict(type='ShotAccuracy', class_counts=counts)),
                    METRICS.build(dict(type='CalibrationError', class_counts=counts,
                                       n_bins=15))])
    rng = np.random.default_rng(0)
    logits = torch.as_tensor(rng.normal(size=(60, 3)))
    labels = rng.integers(0, 3, 60)
    samples = [dict(pred_score=torch.softmax(z, 0), gt_label=torch.tensor([int(y)]))
               for z, y in zip(logits, labels)]
    ev.process(samples)
    out = ev.evaluate(60)
    ref = calibration_errors(torch.softmax(logits, 1).numpy(), labels, 15, counts)
    assert out['calib/ece'] == pytest.approx(ref['ece'])
    assert out['calib/few_ece'] == pytest.approx(ref['few_ece'])
    assert 'shot/few' in out


def test_bad_input():
    with pytest.raises(ValueError, match='n_bins'):
        CalibrationError(n_bins=0)
    with pytest.raises(ValueError, match='labels must be in'):
        calibration_errors(np.full((2, 2), 0.5), np.array([0, 2]))
