r"""Calibration of a classifier: ECE, MCE and class-wise ECE, overall and per shot group.

Guo et al., "On Calibration of Modern Neural Networks", ICML 2017, Eq. 3-5; class-wise ECE:
Kull et al., "Beyond temperature scaling", NeurIPS 2019, Sec. 3 (the APA paper's public code
``kostas1515/AGLU`` reports ECE with 15 bins). With ``N`` predictions, confidence
``p̂_i = max_c p_ic``, prediction ``ŷ_i = argmax_c p_ic`` and ``M`` equal-width bins
``B_m = {i : p̂_i ∈ ((m−1)/M, m/M]}``::

    acc(B_m) = mean_{i∈B_m} [ŷ_i = y_i],   conf(B_m) = mean_{i∈B_m} p̂_i
    ECE  = Σ_m |B_m|/N · |acc(B_m) − conf(B_m)|
    MCE  = max_{m : |B_m| > 0} |acc(B_m) − conf(B_m)|
    cwECE = 1/C Σ_c Σ_m |B_mc|/N · |mean_{i∈B_mc} [y_i = c] − mean_{i∈B_mc} p_ic|

(``B_mc`` bins the class-``c`` probabilities ``p_ic`` of all samples). Shot groups (many /
medium / few, by *training* count, :func:`~gated_mm.evaluation.shot_groups`) take the samples
whose true class is in the group for ECE / MCE and the group's classes for cwECE.
"""
import math
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmpretrain.registry import METRICS
from ..datasets.class_counts import class_counts_from
from .shot_accuracy import shot_groups

__all__ = ['CalibrationError', 'calibration_errors', 'reliability_bins', 'probabilities',
           'PROB_MAPS']

#: Maps from stored scores to probabilities, see :func:`probabilities`.
PROB_MAPS = ('softmax', 'sigmoid', 'gumbel', 'none')


def probabilities(scores: Union[np.ndarray, torch.Tensor], prob_map: Union[str, Callable] =
                  'softmax') -> np.ndarray:
    """Class probabilities (float64, (N, C)) from logits or scores.

    * ``'softmax'``: ``softmax(z)``; rows that are already a distribution (non-negative,
      summing to 1 within 1e-4, e.g. mmpretrain's ``pred_score``, which the head stores as
      ``softmax(z)``) are kept as they are;
    * ``'sigmoid'``: ``1 / (1 + e^{−z})`` per class (one-vs-all heads);
    * ``'gumbel'``: ``exp(−exp(−z))`` per class (Gumbel heads, e.g. GOL);
    * ``'none'``: the scores are probabilities;
    * a callable: ``f(torch.Tensor (N, C) float64) -> (N, C)``.

    Raises:
        ValueError: unknown map, scores not 2-D, or probabilities outside [0, 1] / non-finite.
    """
    s = torch.as_tensor(np.asarray(scores) if not torch.is_tensor(scores) else scores)
    s = s.detach().cpu().double()
    if s.dim() != 2:
        raise ValueError(f'calibration: scores must be (N, C), got {tuple(s.shape)}')
    if callable(prob_map):
        p = torch.as_tensor(prob_map(s)).double()
    elif prob_map == 'softmax':
        is_dist = bool(s.numel()) and bool((s >= 0).all()) and \
            bool(torch.allclose(s.sum(1), torch.ones(len(s), dtype=s.dtype), atol=1e-4))
        p = s / s.sum(1, keepdim=True) if is_dist else torch.softmax(s, dim=1)
    elif prob_map == 'sigmoid':
        p = torch.sigmoid(s)
    elif prob_map == 'gumbel':
        p = torch.exp(-torch.exp(-s))
    elif prob_map == 'none':
        p = s
    else:
        raise ValueError(f'calibration: unknown prob_map {prob_map!r}; expected one of '
                         f'{PROB_MAPS} or a callable')
    if p.shape != s.shape or not torch.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError('calibration: probabilities must be finite, in [0, 1] and of the '
                         f'scores\' shape {tuple(s.shape)} (check prob_map={prob_map!r})')
    return p.numpy()


def _bin_index(conf: np.ndarray, n_bins: int) -> np.ndarray:
    # bin m (0-based) holds ((m)/M, (m+1)/M]; confidence 0 goes to the first bin
    return np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def reliability_bins(conf: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> Dict:
    """Per-bin count, mean accuracy and mean confidence (equal-width bins, NaN when empty).

    Returns:
        dict: ``edges`` (M+1,), ``count`` (M,), ``accuracy`` (M,), ``confidence`` (M,).
    """
    conf = np.asarray(conf, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    b = _bin_index(conf, n_bins)
    count = np.bincount(b, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        acc = np.bincount(b, weights=correct, minlength=n_bins) / count
        mean_conf = np.bincount(b, weights=conf, minlength=n_bins) / count
    return dict(edges=np.linspace(0, 1, n_bins + 1), count=count, accuracy=acc,
                confidence=mean_conf)


def _ece_mce(conf, correct, n_bins):
    if len(conf) == 0:
        return math.nan, math.nan
    r = reliability_bins(conf, correct, n_bins)
    nz = r['count'] > 0
    gap = np.abs(r['accuracy'][nz] - r['confidence'][nz])
    return float((r['count'][nz] * gap).sum() / len(conf)), float(gap.max())


def _classwise_ece(probs, labels, classes, n_bins):
    if len(classes) == 0 or len(labels) == 0:
        return math.nan
    return float(np.mean([_ece_mce(probs[:, c], (labels == c), n_bins)[0] for c in classes]))


def calibration_errors(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15,
                       class_counts: Optional[Sequence[int]] = None, many_thr: float = 100,
                       few_thr: float = 20) -> Dict[str, float]:
    """ECE, MCE, class-wise ECE (percent), overall and per shot group if counts are given.

    Args:
        probs: (N, C) class probabilities (see :func:`probabilities`).
        labels: (N,) true classes.
        n_bins: M, number of equal-width confidence bins. Defaults to 15.
        class_counts: training images per class; adds ``{many,medium,few}_{ece,mce,cw_ece}``.
        many_thr, few_thr: shot thresholds (:func:`~gated_mm.evaluation.shot_groups`).

    Returns:
        dict: ``ece``, ``mce``, ``cw_ece`` (and the per-group keys), percent; NaN for a group
        without samples.

    Raises:
        ValueError: ``n_bins < 1``, shapes not matching, a label outside [0, C).
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if n_bins < 1:
        raise ValueError(f'calibration: n_bins must be >= 1, got {n_bins}')
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
        raise ValueError(f'calibration: probs (N, C) and labels (N,) do not match: '
                         f'{probs.shape} vs {labels.shape}')
    num_classes = probs.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'calibration: labels must be in [0, {num_classes}), got '
                         f'{labels.min()}..{labels.max()}')
    conf = probs.max(1) if probs.size else np.zeros(0)
    correct = (probs.argmax(1) == labels) if probs.size else np.zeros(0, bool)
    ece, mce = _ece_mce(conf, correct, n_bins)
    out = {'ece': 100 * ece, 'mce': 100 * mce,
           'cw_ece': 100 * _classwise_ece(probs, labels, range(num_classes), n_bins)}
    if class_counts is not None:
        if len(class_counts) != num_classes:
            raise ValueError(f'calibration: {len(class_counts)} class counts but predictions '
                             f'have {num_classes} classes')
        for g, idx in shot_groups(class_counts, many_thr, few_thr).items():
            sel = np.isin(labels, idx)
            ece, mce = _ece_mce(conf[sel], correct[sel], n_bins)
            out[f'{g}_ece'], out[f'{g}_mce'] = 100 * ece, 100 * mce
            out[f'{g}_cw_ece'] = 100 * _classwise_ece(probs, labels, idx, n_bins)
    return out


@METRICS.register_module()
class CalibrationError(BaseMetric):
    """Expected / maximum / class-wise calibration error, overall and per shot group.

    Equations in the module docstring (Guo et al. ICML 2017; Kull et al. NeurIPS 2019). Reads
    the same ``pred_score`` / ``gt_label`` as :class:`~gated_mm.evaluation.ShotAccuracy`, so
    both go in one evaluator list. Keys (percent, prefix ``'calib'``): ``ece``, ``mce``,
    ``cw_ece`` and, with training counts, ``many_ece``, ``medium_ece``, ``few_ece`` (and
    ``*_mce``, ``*_cw_ece``).

    Args:
        n_bins: M equal-width bins. Defaults to 15 (APA public code).
        prob_map: 'softmax' (default; mmpretrain heads already store softmax scores, kept
            as they are), 'sigmoid', 'gumbel', 'none' or a callable (see
            :func:`probabilities`).
        train_ann_file, train_dataset, class_counts, num_classes: training counts for the
            shot groups, at most one (:func:`~gated_mm.datasets.class_counts_from`); none: only
            the overall figures.
        many_thr, few_thr: shot thresholds. Defaults to 100 and 20 (ImageNet-LT).
        collect_device, prefix, collect_dir: ``BaseMetric``'s.

    Raises:
        ValueError: ``n_bins < 1``, unknown prob_map, more than one count source, and (at
            evaluation) as :func:`calibration_errors`.

    Example:
        >>> test_evaluator = [
        ...     dict(type='ShotAccuracy', train_ann_file=ann),
        ...     dict(type='CalibrationError', train_ann_file=ann)]
    """
    default_prefix: Optional[str] = 'calib'

    def __init__(self, n_bins: int = 15, prob_map: Union[str, Callable] = 'softmax',
                 train_ann_file: Optional[str] = None, train_dataset=None,
                 class_counts: Optional[Sequence[int]] = None,
                 num_classes: Optional[int] = None, many_thr: float = 100,
                 few_thr: float = 20, collect_device: str = 'cpu',
                 prefix: Optional[str] = None, collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if int(n_bins) != n_bins or n_bins < 1:
            raise ValueError(f'CalibrationError: n_bins must be an integer >= 1, got {n_bins}')
        if not callable(prob_map) and prob_map not in PROB_MAPS:
            raise ValueError(f'CalibrationError: unknown prob_map {prob_map!r}; expected one of '
                             f'{PROB_MAPS} or a callable')
        n_src = sum(v is not None for v in (train_ann_file, train_dataset, class_counts))
        if n_src > 1:
            raise ValueError('CalibrationError takes at most one of train_ann_file, '
                             f'train_dataset, class_counts (got {n_src})')
        self.n_bins, self.prob_map = int(n_bins), prob_map
        self.many_thr, self.few_thr = many_thr, few_thr
        self.class_counts = None if n_src == 0 else class_counts_from(
            train_ann_file, train_dataset, class_counts, num_classes, owner='CalibrationError')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store ``pred_score`` and ``gt_label`` of each sample."""
        for ds in data_samples:
            if 'pred_score' not in ds:
                raise ValueError('CalibrationError needs pred_score in the data samples (the '
                                 'head predictions), got only ' + ', '.join(ds))
            self.results.append(dict(pred_score=ds['pred_score'].cpu(),
                                     gt_label=ds['gt_label'].cpu().reshape(-1)[:1]))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """ECE, MCE, cwECE (percent), overall and per shot group."""
        scores = torch.stack([r['pred_score'] for r in results])
        labels = torch.cat([r['gt_label'] for r in results]).numpy()
        probs = probabilities(scores, self.prob_map)
        return calibration_errors(probs, labels, self.n_bins, self.class_counts,
                                  self.many_thr, self.few_thr)
