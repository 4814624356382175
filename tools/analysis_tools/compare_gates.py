#!/usr/bin/env python
"""Compare Sigmoid-SE, APA-SE and APA-SE + AGLU over seeds: table + plots.

    python tools/analysis_tools/compare_gates.py [CONFIG] [--variants V ...] [--seeds S ...]
        [--work-dir DIR] [--iif VARIANT|none] [--reuse] [--compile {0,auto,1}]
        [--max-samples N] [--cfg-options k=v ...]

For every variant × seed, the config (a GatedResNet ImageClassifier, default the
Fashion-MNIST-LT demonstration config) is dumped with the variant's backbone gates and
``randomness.seed`` to ``<work-dir>/<variant>/seed<S>/config.py`` and trained with
``tools/train.py`` (a real Runner run, one subprocess each; ``--reuse`` skips runs whose last
checkpoint exists). Each final checkpoint is then evaluated once on the test split: the raw
head logits are kept, so the metrics are reported both raw and after the IIF adjustment
(``--iif``, default: the head's ``logit_adjust`` variant), with the registered
``ShotAccuracy``. Variants (backbone ``act_cfg`` / ``attention_cfg``; the SE ratio is the
config's):

    sigmoid-relu   ReLU units, plain SE with a Sigmoid gate          (the APA paper's baseline)
    apa-relu       ReLU units, SE with LayerNorm, Dropout 0.1, APA gate             ("APA*")
    apa-aglu       AGLU units,  SE with LayerNorm, Dropout 0.1, APA gate     ("APA* + AGLU")

Writes to the work dir: ``results.md`` (mean ± std over seeds of overall top-1, many, medium,
few, mean-class accuracy; raw and IIF), ``results.json`` (every run, timings),
``shot_accuracy.png`` (bars with std), ``per_class_accuracy.png`` (mean over seeds ± std,
against training frequency), ``attention_stats.png`` (attention variance / entropy per shot
group and block, mean over seeds), ``gate_curves.png`` (learned APA/AGLU curves of the first
seed of the last variant with APA).
"""
import argparse
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import gate_analysis as ga  # noqa: E402

TOOL = 'compare_gates.py'
DEFAULT_CONFIG = osp.join(ga._REPO, 'configs', 'fashion_mnist_lt',
                          'gated-se-resnet26-w8_apa-aglu_cos-iif_1xb128-10e_fashion-mnist-lt-1k.py')
APA_SE = dict(type='GatedSE', gate_cfg=dict(type='APA', kappa_init=(-1.0, 0.0),
                                            lambda_init=(0.0, 1.0)),
              layer_norm=True, dropout=0.1)
VARIANTS = {
    'sigmoid-relu': dict(act_cfg=dict(type='ReLU', inplace=True),
                         attention_cfg=dict(type='GatedSE', gate_cfg=dict(type='Sigmoid'))),
    'apa-relu': dict(act_cfg=dict(type='ReLU', inplace=True), attention_cfg=APA_SE),
    'apa-aglu': dict(act_cfg=dict(type='AGLU', kappa_init=(0.8, 1.2), lambda_init=(0.0, 1.0)),
                     attention_cfg=APA_SE),
}
LABELS = {'sigmoid-relu': 'Sigmoid-SE + ReLU', 'apa-relu': 'APA-SE + ReLU',
          'apa-aglu': 'APA-SE + AGLU'}
KEYS = ('top1', 'many', 'medium', 'few', 'mean_class')


def variant_cfg(cfg, variant: str, seed: int, work_dir: str):
    """A copy of ``cfg`` with the variant's gates and the seed."""
    out = copy.deepcopy(cfg)
    ratio = (cfg.model.backbone.get('attention_cfg') or {}).get('ratio', 16)
    over = copy.deepcopy(VARIANTS[variant])
    over['attention_cfg']['ratio'] = ratio
    out.model.backbone.act_cfg = over['act_cfg']
    out.model.backbone.attention_cfg = over['attention_cfg']
    out.randomness = dict(seed=seed, deterministic=False)
    out.work_dir = work_dir
    return out


def train_run(cfg_path: str, run_dir: str, env: dict) -> float:
    t0 = time.time()
    log = open(osp.join(run_dir, 'train_stdout.log'), 'w')
    proc = subprocess.run([sys.executable, osp.join(ga._REPO, 'tools', 'train.py'), cfg_path,
                           '--work-dir', run_dir], cwd=ga._REPO, env=env, stdout=log,
                          stderr=subprocess.STDOUT)
    log.close()
    if proc.returncode != 0:
        tail = open(osp.join(run_dir, 'train_stdout.log')).read()[-2000:]
        ga.fail(TOOL, f'training {cfg_path} failed (exit {proc.returncode}); see '
                      f'{run_dir}/train_stdout.log:\n{tail}')
    return time.time() - t0


def logged_train_seconds(run_dir: str, ckpt: str):
    """Training time of a reused run: from the Runner's timestamp folder (its start) to the
    last checkpoint's modification time; None if unknown."""
    import datetime
    stamps = sorted(d for d in os.listdir(run_dir) if d[:8].isdigit() and '_' in d)
    if not stamps or not ckpt:
        return None
    try:
        start = datetime.datetime.strptime(stamps[-1], '%Y%m%d_%H%M%S').timestamp()
    except ValueError:
        return None
    return max(0.0, os.path.getmtime(ckpt) - start)


def last_checkpoint(run_dir: str):
    marker = osp.join(run_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    ckpt = open(marker).read().strip()
    return ckpt if osp.isfile(ckpt) else None


def mean_std(values):
    a = np.asarray(values, dtype=float)
    return float(np.nanmean(a)), float(np.nanstd(a, ddof=1)) if len(a) > 1 else 0.0


def write_table(summary: dict, variants, seeds, out: str, iif: str, runs=()):
    lines = [f'Mean ± std over {len(seeds)} seeds ({", ".join(map(str, seeds))}); top-1 accuracy '
             '(%) on the balanced test set; many / medium / few = mean per-class accuracy of '
             'the shot groups.', '',
             '| variant | logits | overall | many | medium | few | mean class |',
             '|---|---|---|---|---|---|---|']
    for kind in ('raw', 'iif'):
        if kind == 'iif' and iif is None:
            continue
        for v in variants:
            cells = [f'{summary[v][kind][k][0]:.2f} ± {summary[v][kind][k][1]:.2f}'
                     for k in KEYS]
            tag = 'raw' if kind == 'raw' else f'IIF {iif}'
            lines.append(f'| {LABELS.get(v, v)} | {tag} | ' + ' | '.join(cells) + ' |')
    times = []
    for v in variants:
        t = [r['train_seconds'] for r in runs if r['variant'] == v and r['train_seconds']]
        if t:
            times.append(f'{LABELS.get(v, v)} {np.mean(t) / 60:.1f} min')
    if times:
        lines += ['', 'Training wall time per run (mean over seeds): ' + ', '.join(times) + '.']
    with open(out, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return '\n'.join(lines)


def plot_shot_bars(summary: dict, variants, out: str, iif: str):
    plt = ga.matplotlib()
    kinds = ['raw'] + (['iif'] if iif else [])
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 3.9), dpi=110,
                             squeeze=False)
    keys = ('top1', 'many', 'medium', 'few')
    width = 0.8 / len(variants)
    for ax, kind in zip(axes[0], kinds):
        for i, v in enumerate(variants):
            m = [summary[v][kind][k][0] for k in keys]
            s = [summary[v][kind][k][1] for k in keys]
            bars = ax.bar(np.arange(4) + (i - (len(variants) - 1) / 2) * width, m, width,
                          yerr=s, capsize=3, label=LABELS.get(v, v))
            for b, val in zip(bars, m):
                ax.text(b.get_x() + b.get_width() / 2, val + 1, f'{val:.1f}', ha='center',
                        va='bottom', fontsize=6.5, rotation=90)
        ax.set_xticks(np.arange(4))
        ax.set_xticklabels(['overall', 'many', 'medium', 'few'])
        ax.set_ylabel('top-1 accuracy (%)')
        ax.set_ylim(0, 112)
        ax.set_title('raw logits' if kind == 'raw' else f'IIF ({iif}) adjusted logits',
                     fontsize=10)
        ax.grid(alpha=0.3, axis='y')
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='upper center', ncol=len(variants), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(out)
    plt.close(fig)
    return out


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', nargs='?', default=DEFAULT_CONFIG)
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/compare_gates')
    p.add_argument('--iif', default='config',
                   help="IIF variant for the adjusted metrics: 'config' (the head's "
                   "logit_adjust), 'none', or a variant name")
    p.add_argument('--reuse', action='store_true', help='skip runs that have a checkpoint')
    p.add_argument('--compile', default='0', choices=['0', 'auto', '1'],
                   help='GATED_MM_COMPILE for the runs (default 0: eager; compiling costs more '
                   'than it saves in short CPU runs)')
    p.add_argument('--max-samples', type=int, help='evaluate N test images only')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.environ['GATED_MM_COMPILE'] = args.compile
    t_start = time.time()
    try:
        base = ga.load_cfg(args.config, args.cfg_options)
        counts = ga.train_counts(base)
    except (FileNotFoundError, ValueError, KeyError) as e:
        ga.fail(TOOL, str(e).splitlines()[0])
    if base.model.backbone.get('type') != 'GatedResNet':
        ga.fail(TOOL, f'{args.config}: model.backbone.type must be GatedResNet, got '
                      f"{base.model.backbone.get('type')}")
    from per_class_accuracy import plot_per_class, resolve_iif
    from attention_stats import plot_attention_stats, summarize
    from plot_gate_curves import plot_gate_curves
    iif = None if args.iif == 'none' else (resolve_iif(base, 'config')[0]
                                           if args.iif == 'config' else args.iif)
    many_thr, few_thr = ga.shot_thresholds(base)
    groups = ga.group_of_class(counts, many_thr, few_thr)
    work = osp.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    env = {**os.environ, 'GATED_MM_COMPILE': args.compile, 'PYTHONPATH': ga._REPO}

    runs = []
    for v in args.variants:
        for s in args.seeds:
            run_dir = osp.join(work, v, f'seed{s}')
            os.makedirs(run_dir, exist_ok=True)
            cfg = variant_cfg(base, v, s, run_dir)
            cfg_path = osp.join(run_dir, 'config.py')
            cfg.dump(cfg_path)
            ckpt = last_checkpoint(run_dir) if args.reuse else None
            train_s = None
            if ckpt is None:
                print(f'[{time.time() - t_start:6.0f}s] train {v} seed {s} -> {run_dir}',
                      flush=True)
                train_s = train_run(cfg_path, run_dir, env)
                ckpt = last_checkpoint(run_dir)
            if train_s is None:
                train_s = logged_train_seconds(run_dir, ckpt)
            runs.append(dict(variant=v, seed=s, run_dir=run_dir, config=cfg_path,
                             checkpoint=ckpt, train_seconds=train_s))

    loader = None
    per_class, attn = {}, {}
    gate_run = None
    for r in runs:
        t0 = time.time()
        cfg = ga.load_cfg(r['config'])
        model = ga.load_model(cfg, r['checkpoint'])
        if loader is None:
            loader = ga.build_test_loader(cfg, args.max_samples)
        res = ga.collect(model, loader)
        r['metrics'] = {'raw': ga.shot_metrics(res['logits'], res['labels'], counts, many_thr,
                                               few_thr)}
        logits = res['logits']
        if iif:
            logits = ga.adjust_logits(res['logits'], counts, iif)
            r['metrics']['iif'] = ga.shot_metrics(logits, res['labels'], counts, many_thr,
                                                  few_thr)
        per_class.setdefault(r['variant'], []).append(
            ga.per_class_accuracy(logits, res['labels'], len(counts)))
        attn.setdefault(r['variant'], []).append(summarize(res['attention'], res['labels'],
                                                           groups))
        blocks = list(res['attention'])
        r['gate_params'] = ga.gate_params(model)
        if r['gate_params'] and (gate_run is None or r['variant'] != gate_run['variant']) \
                and r['seed'] == args.seeds[0]:
            gate_run = r
        r['eval_seconds'] = time.time() - t0
        print(f"[{time.time() - t_start:6.0f}s] {r['variant']} seed {r['seed']}: " + ', '.join(
            f'{k} {r["metrics"]["iif" if iif else "raw"][k]:.2f}' for k in KEYS), flush=True)

    summary = {}
    for v in args.variants:
        rs = [r for r in runs if r['variant'] == v]
        summary[v] = {kind: {k: mean_std([r['metrics'][kind][k] for r in rs]) for k in KEYS}
                      for kind in rs[0]['metrics']}
    table = write_table(summary, args.variants, args.seeds, osp.join(work, 'results.md'), iif,
                        runs)
    plot_shot_bars(summary, args.variants, osp.join(work, 'shot_accuracy.png'), iif)
    tag = f'IIF {iif}' if iif else 'raw logits'
    plot_per_class({LABELS[v]: np.nanmean(per_class[v], axis=0) for v in args.variants},
                   counts, many_thr, few_thr, osp.join(work, 'per_class_accuracy.png'),
                   title=f'per-class accuracy, mean ± std over {len(args.seeds)} seeds ({tag})',
                   spreads={LABELS[v]: np.nanstd(per_class[v], axis=0) for v in args.variants},
                   class_names=ga.class_names(loader))
    mean_attn = {LABELS[v]: {k: np.nanmean([a[k] for a in attn[v]], axis=0)
                             for k in attn[v][0]} for v in args.variants}
    sd_attn = {LABELS[v]: {k: np.nanstd([a[k] for a in attn[v]], axis=0) for k in attn[v][0]}
               for v in args.variants}
    plot_attention_stats(mean_attn, blocks, osp.join(work, 'attention_stats.png'),
                         title=f'attention signal per shot group (mean over '
                               f'{len(args.seeds)} seeds; bars: ± std over seeds)',
                         spreads=sd_attn)
    if gate_run is not None:
        plot_gate_curves(gate_run['gate_params'], osp.join(work, 'gate_curves.png'),
                         title=f"learned gates: {LABELS[gate_run['variant']]}, seed "
                               f"{gate_run['seed']}")
    total = time.time() - t_start
    with open(osp.join(work, 'results.json'), 'w') as f:
        json.dump(dict(config=args.config, variants=args.variants, seeds=args.seeds, iif=iif,
                       many_thr=many_thr, few_thr=few_thr, train_counts=counts.tolist(),
                       summary=summary, runs=runs, total_seconds=total,
                       attention={LABELS[v]: {k: np.asarray(x).tolist()
                                              for k, x in mean_attn[LABELS[v]].items()}
                                  for v in args.variants}, blocks=blocks),
                  f, indent=1, default=lambda o: None)
    print(table)
    print(f'total {total:.0f} s; wrote {work}/results.md, results.json, shot_accuracy.png, '
          f'per_class_accuracy.png, attention_stats.png, gate_curves.png')


if __name__ == '__main__':
    main()
