"""RebalancedSampler: class probabilities of Kang et al. (ICLR 2020) and the schedules."""
import numpy as np
import pytest

from gated_mm.datasets import RebalancedSampler, sampling_class_probs


class _Labels:
    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def __len__(self):
        return len(self.labels)

    def get_gt_labels(self):
        return self.labels


COUNTS = np.array([400, 100, 25])
LABELS = np.repeat(np.arange(3), COUNTS)


@pytest.mark.parametrize('scheme,q', [('instance', 1.0), ('sqrt', 0.5), ('class_balanced', 0.0)])
def test_class_probs(scheme, q):
    ref = COUNTS ** q / (COUNTS ** q).sum()
    np.testing.assert_allclose(sampling_class_probs(COUNTS, scheme), ref, rtol=1e-12)


def test_progressive_and_deferred():
    ib, cb = COUNTS / COUNTS.sum(), np.full(3, 1 / 3)
    p = sampling_class_probs(COUNTS, 'progressive', epoch=1, total_epochs=4)
    np.testing.assert_allclose(p, 0.75 * ib + 0.25 * cb, rtol=1e-12)
    s = RebalancedSampler(_Labels(LABELS), 'class_balanced', defer_epochs=2, seed=0)
    np.testing.assert_allclose(s.class_probs(1), ib)
    np.testing.assert_allclose(s.class_probs(2), cb)


def test_draws_follow_class_balance():
    s = RebalancedSampler(_Labels(LABELS), 'class_balanced', num_samples=30000, seed=0)
    s.set_epoch(3)
    idx = list(s)
    assert len(idx) == len(s) == 30000
    freq = np.bincount(LABELS[idx], minlength=3) / len(idx)
    np.testing.assert_allclose(freq, 1 / 3, atol=0.015)
    assert idx != list(RebalancedSampler(_Labels(LABELS), 'class_balanced', num_samples=30000,
                                         seed=1))
    s.set_epoch(3)
    assert idx == list(s)  # same seed and epoch: same draws


def test_bad_input():
    with pytest.raises(ValueError, match='unknown sampling'):
        RebalancedSampler(_Labels(LABELS), 'square')
    with pytest.raises(ValueError, match='total_epochs'):
        RebalancedSampler(_Labels(LABELS), 'progressive')
