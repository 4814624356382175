"""ShotAccuracy against hand computations on a constructed batch."""
import math

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

import gated_mm.evaluation.shot_accuracy as sa
from gated_mm.evaluation import ShotAccuracy

# Training counts; default thresholds (many > 100, medium 20..100, few < 20) give
# many = {0, 1, 2}, medium = {3, 4, 5} (100 and 20 are inclusive), few = {6, 7}.
COUNTS = [500, 150, 101, 100, 50, 20, 19, 5]
# (class, number of evaluated samples, number predicted correctly)
PLAN = [(0, 4, 3), (1, 2, 2), (2, 1, 0), (3, 3, 1), (4, 2, 1), (5, 1, 1), (6, 2, 0), (7, 5, 2)]
# Hand computation:
#   per-class accuracy: 3/4, 2/2, 0/1, 1/3, 1/2, 1/1, 0/2, 2/5
#   top1       = (3+2+0+1+1+1+0+2) / (4+2+1+3+2+1+2+5) = 10/20           = 50.0 %
#   many       = (0.75 + 1 + 0) / 3                                      = 58.333... %
#   medium     = (1/3 + 0.5 + 1) / 3                                     = 61.111... %
#   few        = (0 + 0.4) / 2                                           = 20.0 %
#   mean_class = (0.75 + 1 + 0 + 1/3 + 0.5 + 1 + 0 + 0.4) / 8            = 49.791666... %
EXPECTED = {
    'shot/top1': 50.0,
    'shot/many': 175 / 3,
    'shot/medium': 550 / 9,
    'shot/few': 20.0,
    'shot/mean_class': 239 / 4.8,
}


def make_samples(plan, num_classes, with_scores=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for cls, n, n_correct in plan:
        for j in range(n):
            pred = cls if j < n_correct else (cls + 1 + j) % num_classes
            assert (pred == cls) == (j < n_correct)
            ds = DataSample().set_gt_label(cls)
            if with_scores:
                score = torch.rand(num_classes, generator=gen) * 0.5
                score[pred] = 1.0
                ds.set_pred_score(score.softmax(0))
            else:
                ds.set_pred_label(pred)
            samples.append(ds.to_dict())
    perm = torch.randperm(len(samples), generator=gen).tolist()  # class order must not matter
    return [samples[i] for i in perm]


def evaluate(metric, samples, batch=3):
    for i in range(0, len(samples), batch):
        metric.process(None, samples[i:i + batch])
    return metric.evaluate(len(samples))


@pytest.fixture
def logs(monkeypatch):
    messages = []
    monkeypatch.setattr(sa, 'print_log',
                        lambda msg, logger=None, level=20: messages.append((level, msg)))
    return messages


@pytest.mark.parametrize('with_scores', [True, False])
def test_against_hand_computation(with_scores, logs):
    metric = ShotAccuracy(class_counts=COUNTS)
    result = evaluate(metric, make_samples(PLAN, len(COUNTS), with_scores))
    assert set(result) == set(EXPECTED)
    for key, value in EXPECTED.items():
        assert result[key] == pytest.approx(value, abs=1e-9), key
    assert not [m for level, m in logs if level >= 30]  # no warning: every group filled
    table = [m for _, m in logs if 'groups by training count' in m]
    assert len(table) == 1
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:-1]]
            for line in table[0].splitlines() if line.startswith('| ') and 'group' not in line}
    assert rows['many'][:4] == ['> 100', '3', '101-500', '7']
    assert rows['medium'][:4] == ['20..100', '3', '20-100', '6']
    assert rows['few'][:4] == ['< 20', '2', '5-19', '7']


def test_configurable_thresholds_and_prefix():
    metric = ShotAccuracy(class_counts=COUNTS, many_thr=120, few_thr=50, prefix='lt')
    assert {k: v.tolist() for k, v in metric.groups.items()} == {
        'many': [0, 1], 'medium': [2, 3, 4], 'few': [5, 6, 7]}
    result = evaluate(metric, make_samples(PLAN, len(COUNTS)))
    assert result['lt/many'] == pytest.approx((0.75 + 1) / 2 * 100)
    assert result['lt/medium'] == pytest.approx((0 + 1 / 3 + 0.5) / 3 * 100)
    assert result['lt/few'] == pytest.approx((1 + 0 + 0.4) / 3 * 100)


def test_empty_group_is_nan_with_warning(logs):
    metric = ShotAccuracy(class_counts=[1000, 500, 300])  # all many-shot
    result = evaluate(metric, make_samples([(0, 2, 1), (1, 2, 2), (2, 1, 0)], 3))
    assert result['shot/many'] == pytest.approx((0.5 + 1 + 0) / 3 * 100)
    assert math.isnan(result['shot/medium']) and math.isnan(result['shot/few'])
    warnings = [m for level, m in logs if level >= 30]
    assert len(warnings) == 2
    assert 'medium-shot' in warnings[0] and '20..100' in warnings[0]
    assert 'few-shot' in warnings[1] and '< 20' in warnings[1]
    assert all('many_thr=100' in w and 'few_thr=20' in w for w in warnings)


def test_group_absent_from_evaluated_set_is_nan(logs):
    metric = ShotAccuracy(class_counts=COUNTS)
    plan = [(c, n, k) for c, n, k in PLAN if c not in (6, 7)]  # no few-shot test samples
    result = evaluate(metric, make_samples(plan, len(COUNTS)))
    assert math.isnan(result['shot/few'])
    assert result['shot/many'] == pytest.approx(EXPECTED['shot/many'])
    assert result['shot/mean_class'] == pytest.approx((0.75 + 1 + 0 + 1 / 3 + 0.5 + 1) / 6 * 100)
    assert any('few-shot' in m and 'evaluated set' in m for level, m in logs if level >= 30)


def test_class_count_mismatch_is_an_error():
    metric = ShotAccuracy(class_counts=COUNTS[:5])
    samples = make_samples([(0, 1, 1), (1, 1, 0)], len(COUNTS))
    with pytest.raises(ValueError, match='predictions have 8 classes but there are 5') as err:
        evaluate(metric, samples)
    assert '\n' not in str(err.value)
    metric = ShotAccuracy(class_counts=COUNTS[:5])
    with pytest.raises(ValueError, match='gt_label 6 outside'):
        evaluate(metric, make_samples([(6, 1, 1)], len(COUNTS), with_scores=False))


def test_counts_from_train_ann_file(tmp_path):
    ann = tmp_path / 'ImageNet_LT_train.txt'
    labels = [0] * 130 + [1] * 60 + [2] * 7 + [3] * 20
    ann.write_text(''.join(f'train/x/{i}.JPEG {c}\n' for i, c in enumerate(labels)))
    metric = ShotAccuracy(train_ann_file=str(ann))
    assert metric.class_counts.tolist() == [130, 60, 7, 20]
    assert {k: v.tolist() for k, v in metric.groups.items()} == {
        'many': [0], 'medium': [1, 3], 'few': [2]}
    padded = ShotAccuracy(train_ann_file=str(ann), num_classes=6)
    assert padded.class_counts.tolist() == [130, 60, 7, 20, 0, 0]
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        ShotAccuracy(train_ann_file=str(tmp_path / 'missing.txt'))


def test_counts_from_train_dataset_config(tmp_path):
    ann = tmp_path / 'train.txt'
    labels = np.repeat(np.arange(4), [40, 40, 40, 40])
    ann.write_text(''.join(f'{i}.png {c}\n' for i, c in enumerate(labels)))
    inner = dict(type='TxtListDataset', ann_file=str(ann))
    plain = ShotAccuracy(train_dataset=inner)
    assert plain.class_counts.tolist() == [40, 40, 40, 40]
    lt = ShotAccuracy(train_dataset=dict(type='LongTailDataset', dataset=inner,
                                         imbalance_ratio=10), many_thr=15, few_thr=10)
    assert lt.class_counts.tolist() == [40, 18, 8, 4]  # floor(40 * 10 ** (-i/3))
    assert {k: v.tolist() for k, v in lt.groups.items()} == {
        'many': [0, 1], 'medium': [], 'few': [2, 3]}


def test_argument_errors():
    with pytest.raises(ValueError, match='exactly one of'):
        ShotAccuracy()
    with pytest.raises(ValueError, match='exactly one of'):
        ShotAccuracy(class_counts=[1, 2], train_ann_file='x.txt')
    with pytest.raises(ValueError, match='few_thr'):
        ShotAccuracy(class_counts=[1, 2], many_thr=10, few_thr=20)
    with pytest.raises(ValueError, match='>= 0'):
        ShotAccuracy(class_counts=[5, -1])


def test_registered_and_built_from_config():
    from mmpretrain.registry import METRICS
    metric = METRICS.build(dict(type='ShotAccuracy', class_counts=COUNTS))
    assert isinstance(metric, ShotAccuracy)
    result = evaluate(metric, make_samples(PLAN, len(COUNTS)))
    assert result['shot/top1'] == pytest.approx(50.0)
