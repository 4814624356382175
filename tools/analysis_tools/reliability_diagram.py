#!/usr/bin/env python
"""Reliability diagram (accuracy vs confidence per bin), one panel per shot group.

    python tools/test.py CONFIG CHECKPOINT --out preds.pkl
    python tools/analysis_tools/reliability_diagram.py CONFIG preds.pkl [--out FIG.png]
        [--n-bins 15] [--prob-map softmax|sigmoid|gumbel|none]

Reads the ``tools/test.py --out`` dump (mmengine ``DumpResults``: one dict per test image with
``pred_score`` and ``gt_label``) and the config's training counts and shot thresholds (its
``ShotAccuracy`` evaluator or head ``logit_adjust``), and draws for all samples and for the
many / medium / few-shot samples (by the training count of their true class) the mean
accuracy of each equal-width confidence bin against the diagonal, the gap between accuracy
and mean confidence shaded, and ECE / MCE (the registered ``CalibrationError``'s
:func:`~gated_mm.evaluation.calibration_errors`) in the panel title. Bin counts are printed.
"""
import argparse
import os.path as osp
import pickle
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import gate_analysis as ga  # noqa: E402

TOOL = 'reliability_diagram.py'


def load_dump(path: str):
    """(scores (N, C), labels (N,)) from a ``tools/test.py --out`` pickle.

    Raises:
        SystemExit: missing file, or entries without ``pred_score`` / ``gt_label``.
    """
    import torch
    if not osp.isfile(path):
        ga.fail(TOOL, f'prediction dump not found: {path} (make it with tools/test.py CONFIG '
                      'CHECKPOINT --out FILE.pkl)')
    with open(path, 'rb') as f:
        results = pickle.load(f)
    if not results or not all('pred_score' in r and 'gt_label' in r for r in results):
        ga.fail(TOOL, f'{path}: expected a list of dicts with pred_score and gt_label '
                      '(a classification tools/test.py --out dump)')
    scores = torch.stack([torch.as_tensor(r['pred_score']) for r in results]).double().numpy()
    labels = np.array([int(torch.as_tensor(r['gt_label']).reshape(-1)[0]) for r in results])
    return scores, labels


def plot(probs, labels, counts, many_thr, few_thr, n_bins, out, title=''):
    from gated_mm.evaluation import calibration_errors, reliability_bins, shot_groups
    plt = ga.matplotlib()
    groups = {'all': np.arange(len(counts))}
    groups.update(shot_groups(counts, many_thr, few_thr))
    fig, axes = plt.subplots(1, 4, figsize=(15, 4), dpi=110)
    conf, correct = probs.max(1), probs.argmax(1) == labels
    stats = {}
    for ax, (name, idx) in zip(axes, groups.items()):
        sel = np.isin(labels, idx)
        r = reliability_bins(conf[sel], correct[sel], n_bins)
        e = calibration_errors(probs[sel], labels[sel], n_bins) if sel.any() else \
            dict(ece=np.nan, mce=np.nan)
        stats[name] = dict(samples=int(sel.sum()), ece=e['ece'], mce=e['mce'],
                           count=r['count'].astype(int).tolist())
        centers = (r['edges'][:-1] + r['edges'][1:]) / 2
        w = 1.0 / n_bins
        ok = r['count'] > 0
        ax.bar(centers[ok], r['accuracy'][ok], w, edgecolor='k', linewidth=0.5,
               color='tab:blue', label='accuracy')
        low = np.minimum(r['accuracy'], r['confidence'])[ok]
        gap = np.abs(r['accuracy'] - r['confidence'])[ok]
        ax.bar(centers[ok], gap, w, bottom=low, color='tab:red', alpha=0.35, hatch='//',
               edgecolor='tab:red', linewidth=0.5, label='gap |acc - conf|')
        ax.plot([0, 1], [0, 1], 'k--', linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel('confidence')
        ax.set_title(f'{name} ({int(sel.sum())} samples)\nECE {e["ece"]:.2f} %, '
                     f'MCE {e["mce"]:.2f} %', fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('accuracy')
    axes[0].legend(fontsize=7, loc='upper left')
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return stats


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('dump', help='tools/test.py --out pickle')
    p.add_argument('--out', default=None, help='figure path (default: next to the dump)')
    p.add_argument('--n-bins', type=int, default=15)
    p.add_argument('--prob-map', default='softmax',
                   choices=['softmax', 'sigmoid', 'gumbel', 'none'],
                   help='how the dumped pred_score becomes probabilities (default softmax: '
                   "mmpretrain heads store softmax scores, kept as they are)")
    args = p.parse_args(argv)
    if args.n_bins < 1:
        ga.fail(TOOL, f'--n-bins must be >= 1, got {args.n_bins}')
    try:
        cfg = ga.load_cfg(args.config)
        counts = ga.train_counts(cfg)
    except (FileNotFoundError, ValueError, KeyError) as e:
        ga.fail(TOOL, str(e).splitlines()[0])
    scores, labels = load_dump(args.dump)
    if scores.shape[1] != len(counts):
        ga.fail(TOOL, f'{args.dump}: {scores.shape[1]} classes but the config has '
                      f'{len(counts)} training class counts')
    from gated_mm.evaluation import probabilities
    try:
        probs = probabilities(scores, args.prob_map)
    except ValueError as e:
        ga.fail(TOOL, str(e))
    many_thr, few_thr = ga.shot_thresholds(cfg)
    out = args.out or osp.splitext(args.dump)[0] + '_reliability.png'
    stats = plot(probs, labels, counts, many_thr, few_thr, args.n_bins, out,
                 title=f'{ga.short_name(args.config)} ({args.n_bins} bins)')
    for name, s in stats.items():
        print(f'{name:>6}: {s["samples"]} samples, ECE {s["ece"]:.2f} %, MCE {s["mce"]:.2f} %, '
              f'bin counts {s["count"]}')
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
