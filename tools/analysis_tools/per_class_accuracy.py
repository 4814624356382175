#!/usr/bin/env python
"""Per-class test accuracy against training frequency, with the many/medium/few bands.

    python tools/analysis_tools/per_class_accuracy.py CONFIG CHECKPOINT [--out-dir DIR]
        [--iif {config,none,raw,smooth,rel,normit,gombit,base2,base10}] [--max-samples N]
        [--cfg-options k=v ...]

Runs the config's test split once, and plots each class's top-1 accuracy (classes sorted by
training count, most frequent first; a running mean over ~2 % of the classes for large C)
over the training counts (grey, log scale), with the shot groups of the config's
``ShotAccuracy`` evaluator shaded. Lines: the raw logits and, if an IIF variant applies (the
head's ``logit_adjust`` with ``--iif config``, or the named variant), the adjusted logits.
Writes ``per_class_accuracy.png`` and ``per_class_accuracy.json`` (counts, accuracies,
shot metrics) to ``--out-dir`` (default ``<work_dirs>/analysis/<config name>``).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import gate_analysis as ga  # noqa: E402

TOOL = 'per_class_accuracy.py'
IIF_CHOICES = ('config', 'none', 'raw', 'smooth', 'rel', 'normit', 'gombit', 'base2', 'base10')


def running_mean(x: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return x
    ok = ~np.isnan(x)
    k = np.ones(window)
    num = np.convolve(np.where(ok, x, 0), k, mode='same')
    den = np.convolve(ok.astype(float), k, mode='same')
    with np.errstate(invalid='ignore'):
        return num / den


def plot_per_class(curves: Dict[str, np.ndarray], counts: np.ndarray, many_thr: float,
                   few_thr: float, out: str, title: str = '',
                   spreads: Optional[Dict[str, np.ndarray]] = None,
                   class_names: Optional[Sequence[str]] = None) -> str:
    """Plot accuracy curves (``{label: (C,) accuracy %}``, class-index order) against the
    training counts; ``spreads`` (same keys, optional) are ± bands (e.g. std over seeds);
    ``class_names`` label the x axis when there are at most 30 classes."""
    plt = ga.matplotlib()
    counts = np.asarray(counts)
    order = np.argsort(-counts, kind='stable')
    c = len(counts)
    window = max(1, int(round(c / 50))) if c > 60 else 1
    groups = ga.group_of_class(counts, many_thr, few_thr)[order]
    x = np.arange(c)
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    ax2 = ax.twinx()
    ax2.fill_between(x, counts[order], step='mid', color='0.88', alpha=0.8, lw=0, zorder=0)
    ax2.set_yscale('log')
    ax2.set_ylabel('training images per class (log)', color='0.4')
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    for g in ga.SHOT_GROUPS:
        idx = np.flatnonzero(groups == g)
        if idx.size:
            ax.axvspan(idx.min() - 0.5, idx.max() + 0.5, color=ga.SHOT_COLORS[g], alpha=0.08,
                       lw=0)
            ax.text((idx.min() + idx.max()) / 2, 101, g, ha='center', va='bottom',
                    color=ga.SHOT_COLORS[g], fontsize=9)
    for i, (label, acc) in enumerate(curves.items()):
        acc = np.asarray(acc, dtype=float)[order]
        means = [np.nanmean(acc[groups == g]) if (groups == g).any() else np.nan
                 for g in ga.SHOT_GROUPS]
        tag = '/'.join('–' if np.isnan(m) else f'{m:.1f}' for m in means)
        smooth = running_mean(acc, window)
        line, = ax.plot(x, smooth, marker='o' if c <= 60 else None, ms=4, lw=1.6,
                        label=f'{label} (many/med/few {tag})')
        if spreads is not None and label in spreads:
            sd = running_mean(np.asarray(spreads[label], dtype=float)[order], window)
            ax.fill_between(x, smooth - sd, smooth + sd, color=line.get_color(), alpha=0.15,
                            lw=0)
        if window > 1:
            ax.plot(x, acc, '.', ms=1.5, color=line.get_color(), alpha=0.3)
    ax.set_xlim(-0.5, c - 0.5)
    if class_names is not None and c <= 30:
        ax.set_xticks(x)
        ax.set_xticklabels([f'{class_names[i]} ({counts[i]})' for i in order], rotation=30,
                           ha='right', fontsize=7)
    ax.set_ylim(0, 108)
    ax.set_xlabel('class, sorted by training frequency (most frequent first)'
                  + (f'; running mean over {window} classes' if window > 1 else ''))
    ax.set_ylabel('test top-1 accuracy per class (%)')
    ax.legend(loc='lower left', fontsize=8, framealpha=0.9)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def resolve_iif(cfg, choice: str):
    """(variant, mode) to apply, or (None, 'add')."""
    if choice == 'none':
        return None, 'add'
    if choice == 'config':
        adj = (cfg.model.get('head') or {}).get('logit_adjust')
        if adj and adj.get('type') == 'IIF':
            return adj['variant'], adj.get('mode', 'add')
        return None, 'add'
    return choice, 'add'


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out-dir', help='output folder (default work_dirs/analysis/<config>)')
    p.add_argument('--iif', default='config', choices=IIF_CHOICES,
                   help="IIF variant for the adjusted curve: 'config' (the head's "
                   "logit_adjust), 'none', or a variant")
    p.add_argument('--max-samples', type=int, help='evaluate only N test images (spread evenly)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = ga.load_cfg(args.config, args.cfg_options)
        model = ga.load_model(cfg, args.checkpoint)
        counts = ga.train_counts(cfg)
    except (FileNotFoundError, ValueError, RuntimeError, KeyError) as e:
        ga.fail(TOOL, str(e).splitlines()[0])
    many_thr, few_thr = ga.shot_thresholds(cfg)
    out_dir = args.out_dir or osp.join('work_dirs', 'analysis',
                                       osp.splitext(osp.basename(args.config))[0])
    loader = ga.build_test_loader(cfg, args.max_samples)
    res = ga.collect(model, loader, with_attention=False)
    res['classes'] = ga.class_names(loader)
    variant, mode = resolve_iif(cfg, args.iif)
    curves, metrics = {}, {}
    for name, v in (('raw logits', None), (f'IIF {variant}', variant)):
        if name != 'raw logits' and v is None:
            continue
        logits = ga.adjust_logits(res['logits'], counts, v, mode)
        curves[name] = ga.per_class_accuracy(logits, res['labels'], len(counts))
        metrics[name] = ga.shot_metrics(logits, res['labels'], counts, many_thr, few_thr)
    png = plot_per_class(curves, counts, many_thr, few_thr,
                         osp.join(out_dir, 'per_class_accuracy.png'),
                         title=ga.short_name(args.config), class_names=res['classes'])
    with open(osp.join(out_dir, 'per_class_accuracy.json'), 'w') as f:
        json.dump(dict(config=args.config, checkpoint=args.checkpoint, many_thr=many_thr,
                       few_thr=few_thr, train_counts=counts.tolist(),
                       per_class_accuracy={k: [None if np.isnan(a) else round(float(a), 4)
                                               for a in v] for k, v in curves.items()},
                       metrics=metrics), f, indent=1)
    for name, m in metrics.items():
        print(f'{name}: ' + ', '.join(f'{k} {v:.2f}' for k, v in m.items()))
    print(f'wrote {png}')


if __name__ == '__main__':
    main()
