#!/usr/bin/env python
"""Statistics of the attention signal (variance, entropy) per shot group, per block.

    python tools/analysis_tools/attention_stats.py CONFIG CHECKPOINT [--out-dir DIR]
        [--max-samples N] [--cfg-options k=v ...]

The APA paper's qualitative figure (ECCV 2024, poster "Qualitative results": APA increases
the variance and the entropy of the attention signal). For every attention block (GatedSE;
its gate output a ∈ (0, 1]^C per image is the attention signal) and every test image:

* variance  Var_c(a_c)  over the C channels;
* entropy   H(q) / log C  with q = a / Σ_c a_c  (1: all channels weighted equally,
  0: a single channel);

averaged over the test images of each shot group (by the *true* class's training count:
many / medium / few of the config's ``ShotAccuracy``). The paper does not spell out its
estimator; these two are the definitions used here. Writes ``attention_stats.png`` (per block
and averaged over blocks) and ``attention_stats.json`` to ``--out-dir``.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import gate_analysis as ga  # noqa: E402

TOOL = 'attention_stats.py'
STATS = ('variance', 'entropy')


def summarize(attention: Dict[str, Dict[str, np.ndarray]], labels: np.ndarray,
              groups_of_class: np.ndarray) -> Dict[str, np.ndarray]:
    """``{stat: (B, 3) array}``: mean of each block's per-image statistic over the images of
    each shot group (columns many, medium, few; NaN for an empty group)."""
    img_group = groups_of_class[labels]
    out = {}
    for stat in STATS:
        rows = []
        for block in attention:
            v = attention[block][stat]
            rows.append([v[img_group == g].mean() if (img_group == g).any() else np.nan
                         for g in ga.SHOT_GROUPS])
        out[stat] = np.asarray(rows, dtype=float)
    return out


def plot_attention_stats(summaries: Dict[str, Dict[str, np.ndarray]], blocks: List[str],
                         out: str, title: str = '',
                         spreads: Dict[str, Dict[str, np.ndarray]] = None) -> str:
    """Per-block lines (colour = shot group, line style = model) and bars of the mean over
    blocks (per model and shot group) for each statistic. ``summaries``: ``{model label:
    summarize(...)}``; ``spreads`` (optional, same layout): ± std over seeds for the bars."""
    plt = ga.matplotlib()
    styles = ['-', '--', ':', '-.']
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.4), dpi=110)
    x = np.arange(len(blocks))
    labels = list(summaries)
    for col, stat in enumerate(STATS):
        ax = axes[0, col]
        for m, label in enumerate(labels):
            for g_i, g in enumerate(ga.SHOT_GROUPS):
                ax.plot(x, summaries[label][stat][:, g_i], styles[m % len(styles)],
                        color=ga.SHOT_COLORS[g], lw=1.3,
                        label=f'{label} · {g}' if len(labels) > 1 else g)
        ax.set_xticks(x)
        ax.set_xticklabels([b.replace('backbone.', '').replace('.attention', '')
                            for b in blocks], rotation=90, fontsize=6)
        ax.set_title(f'attention {stat} per block', fontsize=10)
        ax.grid(alpha=0.3)
        if col == 0:
            ax.legend(fontsize=6, ncol=max(1, len(labels)))
        ax = axes[1, col]
        width = 0.8 / max(len(labels), 1)
        for m, label in enumerate(labels):
            means = np.nanmean(summaries[label][stat], axis=0)
            err = None
            if spreads is not None and label in spreads:
                err = np.nanmean(spreads[label][stat], axis=0)
            ax.bar(np.arange(3) + (m - (len(labels) - 1) / 2) * width, means, width, yerr=err,
                   capsize=3, label=label, alpha=0.85)
        ax.set_xticks(np.arange(3))
        ax.set_xticklabels([f'{g}-shot classes' for g in ga.SHOT_GROUPS])
        ax.set_title(f'{stat}, mean over blocks', fontsize=10)
        ax.grid(alpha=0.3, axis='y')
        if stat == 'entropy':
            lo = np.nanmin([np.nanmean(s['entropy'], axis=0).min() for s in summaries.values()])
            ax.set_ylim(max(0, lo - 0.05 * (1 - lo) - 0.01), 1.0)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out-dir')
    p.add_argument('--max-samples', type=int, help='evaluate only N test images (spread evenly)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = ga.load_cfg(args.config, args.cfg_options)
        model = ga.load_model(cfg, args.checkpoint)
        counts = ga.train_counts(cfg)
        if not ga.attention_gates(model):
            raise ValueError('the model has no attention block (GatedSE): nothing to measure')
    except (FileNotFoundError, ValueError, RuntimeError, KeyError) as e:
        ga.fail(TOOL, str(e).splitlines()[0])
    many_thr, few_thr = ga.shot_thresholds(cfg)
    out_dir = args.out_dir or osp.join('work_dirs', 'analysis',
                                       osp.splitext(osp.basename(args.config))[0])
    res = ga.collect(model, ga.build_test_loader(cfg, args.max_samples))
    groups = ga.group_of_class(counts, many_thr, few_thr)
    summary = summarize(res['attention'], res['labels'], groups)
    blocks = list(res['attention'])
    png = plot_attention_stats({ga.short_name(args.config)[-40:]: summary},
                               blocks, osp.join(out_dir, 'attention_stats.png'),
                               title=ga.short_name(args.config))
    with open(osp.join(out_dir, 'attention_stats.json'), 'w') as f:
        json.dump(dict(blocks=blocks, groups=list(ga.SHOT_GROUPS),
                       **{k: np.where(np.isnan(v), None, v).tolist()
                          for k, v in summary.items()}), f, indent=1)
    for stat in STATS:
        means = np.nanmean(summary[stat], axis=0)
        print(f'{stat:8s} ' + '  '.join(f'{g} {m:.4g}' for g, m in zip(ga.SHOT_GROUPS, means)))
    print(f'wrote {png}')


if __name__ == '__main__':
    main()
