"""CalibrationError / calibration_errors: hand-computed values and an independent loop."""
import math

import numpy as np
import pytest
import torch

from gated_mm.evaluation import CalibrationError, calibration_errors, probabilities


def test_ece_hand_computed():
    # 4 samples, 2 classes, M = 2 bins (0, .5], (.5, 1]
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 0])
    # conf .9 .8 .6 .7 all in bin 2; correct 1 0 1 0 -> acc .5, conf .75 -> ECE = MCE = .25
    out = calibration_errors(probs, labels, n_bins=2)
    assert out['ece'] == pytest.approx(25.0)
    assert out['mce'] == pytest.approx(25.0)
    # class-wise, class 0: p = .9 .8 .4 .3, y = 1 0 0 1
    #   bin1 {.4,.3}: |.5 - .35| * 2/4 = .075; bin2 {.9,.8}: |.5 - .85| * 2/4 = .175 -> .25
    # class 1: p = .1 .2 .6 .7, y = 0 1 1 0: bin1 |.5-.15|*.5=.175, bin2 |.5-.65|*.5=.075
    assert out['cw_ece'] == pytest.approx(25.0)


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


def _reference(probs, labels, n_bins):
    """Independent loop over bins with explicit edges (Guo et al. 2017, Eq. 3)."""
    conf, pred = probs.max(1), probs.argmax(1)
    ece, mce = 0.0, 0.0
    for m in range(n_bins):
        lo, hi = m / n_bins, (m + 1) / n_bins
        sel = [i for i in range(len(conf)) if (lo < conf[i] <= hi) or (m == 0 and conf[i] == 0)]
        if not sel:
            continue
        acc = sum(pred[i] == labels[i] for i in sel) / len(sel)
        c = sum(conf[i] for i in sel) / len(sel)
        ece += len(sel) / len(conf) * abs(acc - c)
        mce = max(mce, abs(acc - c))
    return 100 * ece, 100 * mce


@pytest.mark.parametrize('n_bins', [1, 10, 15])
def test_ece_matches_reference_on_random(n_bins):
    rng = np.random.default_rng(n_bins)
    logits = rng.normal(size=(300, 7)) * 3
    probs = probabilities(logits)
    labels = rng.integers(0, 7, 300)
    out = calibration_errors(probs, labels, n_bins)
    ece, mce = _reference(probs, labels, n_bins)
    assert out['ece'] == pytest.approx(ece, rel=1e-12)
    assert out['mce'] == pytest.approx(mce, rel=1e-12)


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
