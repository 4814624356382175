#!/usr/bin/env python
"""Any list of configs x gate variants x seeds -> mean ± std table of accuracy and calibration.

    python tools/analysis_tools/compare_lt.py CONFIG [CONFIG ...] [--variants V ...]
        [--seeds S ...] [--work-dir DIR] [--n-bins M] [--max-samples N]
        [--cfg-options k=v ...]

Every (config, variant, seed) is trained with mmengine's Runner in this process (one Python
start for the whole table) into ``<work-dir>/<config name>/<variant>/seed<S>/`` and its last
checkpoint evaluated once on the config's test split: overall / many / medium / few top-1 and
mean-class accuracy (the registered ``ShotAccuracy``) and ECE / MCE / class-wise ECE overall and
per shot group (the registered ``CalibrationError``, softmax probabilities), all from the same
logits: ``head(features)`` followed by the head's ``logit_adjust`` module if it has one (the
prediction as deployed). Each finished run writes ``metrics.json``; a rerun skips those runs,
so an interrupted table resumes where it stopped.

Two-stage configs (decoupled classifiers, Kang et al. ICLR 2020) name their first stage with
top-level keys ``stage1_config`` (a path relative to the config file) and ``stage1_load``:
``'backbone'`` (cRT: backbone weights only, fresh classifier; ``model.backbone.init_cfg``) or
``'all'`` (τ-norm, LWS: the whole model; ``load_from``). The first stage of the same variant
and seed is trained first if it has not been. A config whose ``train_cfg.max_epochs`` is 0 is
evaluated without training (τ-norm).

Variants (backbone ``act_cfg`` / ``attention_cfg``, as ``compare_gates.py``): ``config`` (as
the config has it), ``sigmoid-relu``, ``apa-relu``, ``apa-aglu``.

Writes ``results.md`` (table), ``results.json`` (every run, timings) and ``lt_compare.png``
(accuracy and ECE bars per shot group, ± std) to the work dir.
"""
import argparse
import copy
import json
import logging
import os
import os.path as osp
import sys
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import gate_analysis as ga  # noqa: E402
from compare_gates import LABELS, VARIANTS  # noqa: E402

TOOL = 'compare_lt.py'
ACC_KEYS = ('top1', 'many', 'medium', 'few')
ECE_KEYS = ('ece', 'many_ece', 'medium_ece', 'few_ece')


def run_name(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


def apply_variant(cfg, variant: str):
    if variant == 'config':
        return cfg
    ratio = (cfg.model.backbone.get('attention_cfg') or {}).get('ratio', 16)
    over = copy.deepcopy(VARIANTS[variant])
    over['attention_cfg']['ratio'] = ratio
    cfg.model.backbone.act_cfg = over['act_cfg']
    cfg.model.backbone.attention_cfg = over['attention_cfg']
    return cfg


def last_checkpoint(run_dir: str):
    marker = osp.join(run_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    ckpt = open(marker).read().strip()
    return ckpt if osp.isfile(ckpt) else None


class Table:
    """Trains / evaluates runs, resumable through each run's ``metrics.json``."""

    def __init__(self, args):
        self.args, self.work = args, osp.abspath(args.work_dir)
        self.t_start = time.time()
        self.done = {}
        self._cache = {}

    def cached(self, key, make):
        """Test loaders and counts shared by runs of the same data (built once)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def log(self, msg):
        print(f'[{time.time() - self.t_start:6.0f}s] {msg}', flush=True)

    def load(self, config):
        try:
            return ga.load_cfg(config, self.args.cfg_options)
        except (FileNotFoundError, ValueError, KeyError) as e:
            ga.fail(TOOL, str(e).splitlines()[0])

    def checkpoint(self, config: str, variant: str, seed: int):
        """Train (config, variant, seed) if needed; return (cfg, run_dir, checkpoint, seconds)."""
        key = (osp.abspath(config), variant, seed)
        if key in self.done:
            return self.done[key]
        from mmengine.runner import Runner
        cfg = apply_variant(self.load(config), variant)
        run_dir = osp.join(self.work, run_name(config), variant, f'seed{seed}')
        os.makedirs(run_dir, exist_ok=True)
        cfg.randomness = dict(seed=seed, deterministic=False)
        cfg.work_dir = run_dir
        stage1 = cfg.get('stage1_config')
        if stage1:
            s1_path = osp.normpath(osp.join(osp.dirname(osp.abspath(config)), stage1))
            _, _, s1_ckpt, _ = self.checkpoint(s1_path, variant, seed)
            how = cfg.get('stage1_load', 'all')
            if how == 'backbone':
                cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=s1_ckpt,
                                                   prefix='backbone.')
                cfg.load_from = None
            elif how == 'all':
                cfg.load_from = s1_ckpt
            else:
                ga.fail(TOOL, f"{config}: stage1_load must be 'backbone' or 'all', got {how!r}")
        epochs = (cfg.get('train_cfg') or {}).get('max_epochs', 0)
        cfg_path = osp.join(run_dir, 'config.py')
        cfg.dump(cfg_path)
        seconds = 0.0
        if epochs == 0:
            if not stage1:
                ga.fail(TOOL, f'{config}: max_epochs is 0 and there is no stage1_config')
            ckpt = cfg.load_from
        else:
            ckpt = last_checkpoint(run_dir)
            if ckpt is None:
                self.log(f'train {run_name(config)} / {variant} / seed {seed}')
                t0 = time.time()
                cfg.experiment_name = f'{run_name(config)}_{variant}_seed{seed}_{int(t0)}'
                runner = Runner.from_cfg(cfg)
                runner.train()
                seconds = time.time() - t0
                del runner
                logging.getLogger().handlers.clear()
                ckpt = last_checkpoint(run_dir)
                with open(osp.join(run_dir, 'train_seconds.json'), 'w') as f:
                    json.dump(dict(train_seconds=seconds), f)
            elif osp.isfile(osp.join(run_dir, 'train_seconds.json')):
                seconds = json.load(open(osp.join(run_dir, 'train_seconds.json')))[
                    'train_seconds']
        if stage1:
            seconds += self.done[(s1_path, variant, seed)][3] if epochs == 0 else 0.0
        self.done[key] = (cfg, run_dir, ckpt, seconds)
        return self.done[key]

    def evaluate(self, config: str, variant: str, seed: int) -> dict:
        run_dir = osp.join(self.work, run_name(config), variant, f'seed{seed}')
        out = osp.join(run_dir, 'metrics.json')
        if osp.isfile(out):  # finished run: keyed by its folder (config name, variant, seed),
            r = json.load(open(out))  # not by the config path it was started with
            r.update(config=config, variant=variant, seed=seed)
            return r
        import torch
        from gated_mm.evaluation import calibration_errors, probabilities
        cfg, run_dir, ckpt, seconds = self.checkpoint(config, variant, seed)
        t0 = time.time()
        counts = self.cached(('counts', repr(ga._metric_cfg(cfg))),
                             lambda: ga.train_counts(cfg))
        many_thr, few_thr = ga.shot_thresholds(cfg)
        model = ga.load_model(cfg, ckpt)
        loader = self.cached(('loader', repr(cfg.test_dataloader)),
                             lambda: ga.build_test_loader(cfg, self.args.max_samples))
        res = ga.collect(model, loader, with_attention=False)
        logits = res['logits']
        adjust = getattr(model.head, 'logit_adjust', None)
        if adjust is not None:
            with torch.no_grad():
                logits = adjust(torch.as_tensor(logits)).numpy()
        metrics = ga.shot_metrics(logits, res['labels'], counts, many_thr, few_thr)
        metrics.update(calibration_errors(probabilities(logits), res['labels'],
                                          self.args.n_bins, counts, many_thr, few_thr))
        r = dict(config=config, variant=variant, seed=seed, checkpoint=ckpt,
                 train_seconds=seconds, eval_seconds=time.time() - t0, metrics=metrics)
        with open(out, 'w') as f:
            json.dump(r, f, indent=1)
        self.log(f'{run_name(config)} / {variant} / seed {seed}: ' + ', '.join(
            f'{k} {metrics[k]:.2f}' for k in ACC_KEYS + ('ece', )))
        return r


def mean_std(values):
    a = np.asarray(values, dtype=float)
    return float(np.nanmean(a)), float(np.nanstd(a, ddof=1)) if len(a) > 1 else 0.0


def write_table(summary, rows, seeds, path, runs, total):
    lines = [f'Mean ± std over seeds {", ".join(map(str, seeds))} (column n: runs per row). '
             'Accuracy: '
             'top-1 (%) on the balanced test set; many / medium / few = mean per-class accuracy '
             'of the shot groups. ECE (%, 15 equal-width bins unless stated), overall and over '
             'the test samples of each shot group.', '',
             '| method | gates | overall | many | medium | few | ECE | ECE many | ECE medium '
             '| ECE few | train min | n |', '|' + '---|' * 12]
    for (config, variant) in rows:
        s = summary[(config, variant)]
        cells = [f'{s[k][0]:.2f} ± {s[k][1]:.2f}' for k in ACC_KEYS + ECE_KEYS]
        t = [r['train_seconds'] for r in runs if (r['config'], r['variant']) == (config, variant)]
        lines.append(f'| {run_name(config)} | {LABELS.get(variant, variant)} | '
                     + ' | '.join(cells) + f' | {np.mean(t) / 60:.2f} | {len(t)} |')
    lines += ['', f'Total wall time of this command: {total / 60:.1f} min.']
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return '\n'.join(lines)


def plot(summary, rows, path):
    plt = ga.matplotlib()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), dpi=110)
    width = 0.8 / len(rows)
    for ax, keys, ylabel in ((axes[0], ACC_KEYS, 'top-1 accuracy (%)'),
                             (axes[1], ECE_KEYS, 'ECE (%)')):
        for i, row in enumerate(rows):
            m = [summary[row][k][0] for k in keys]
            s = [summary[row][k][1] for k in keys]
            ax.bar(np.arange(4) + (i - (len(rows) - 1) / 2) * width, m, width, yerr=s,
                   capsize=2, label=f'{run_name(row[0])} / {LABELS.get(row[1], row[1])}')
        ax.set_xticks(np.arange(4))
        ax.set_xticklabels(['overall', 'many', 'medium', 'few'])
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, axis='y')
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center', ncol=3, fontsize=6.5, frameon=False)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('configs', nargs='+')
    p.add_argument('--variants', nargs='+', default=['sigmoid-relu', 'apa-aglu'],
                   choices=['config'] + list(VARIANTS))
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2, 3, 4])
    p.add_argument('--work-dir', default='work_dirs/compare_lt')
    p.add_argument('--n-bins', type=int, default=15)
    p.add_argument('--max-samples', type=int, help='evaluate N test images only')
    p.add_argument('--threads', type=int, default=1,
                   help='torch CPU threads (default 1: fastest on a shared machine)')
    p.add_argument('--summarize', action='store_true',
                   help='only tabulate the runs that have finished (no training)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault('GATED_MM_COMPILE', '0')
    for c in args.configs:
        if not osp.isfile(c):
            ga.fail(TOOL, f'config file not found: {c}')
    if args.n_bins < 1:
        ga.fail(TOOL, f'--n-bins must be >= 1, got {args.n_bins}')
    import torch
    torch.set_num_threads(args.threads)
    table = Table(args)
    os.makedirs(table.work, exist_ok=True)
    runs = []
    for s in args.seeds:  # seed-major: an interrupted table has whole seeds
        for c in args.configs:
            for v in args.variants:
                done = osp.join(table.work, run_name(c), v, f'seed{s}', 'metrics.json')
                if args.summarize and not osp.isfile(done):
                    continue
                runs.append(table.evaluate(c, v, s))
    rows = [(c, v) for c in args.configs for v in args.variants
            if any((r['config'], r['variant']) == (c, v) for r in runs)]
    if not rows:
        ga.fail(TOOL, f'no finished run under {table.work}')
    seeds = sorted({r['seed'] for r in runs})
    summary = {}
    for row in rows:
        rs = [r for r in runs if (r['config'], r['variant']) == row]
        summary[row] = {k: mean_std([r['metrics'][k] for r in rs])
                        for k in rs[0]['metrics']}
    total = time.time() - table.t_start
    text = write_table(summary, rows, seeds, osp.join(table.work, 'results.md'), runs,
                       total)
    plot(summary, rows, osp.join(table.work, 'lt_compare.png'))
    with open(osp.join(table.work, 'results.json'), 'w') as f:
        json.dump(dict(configs=args.configs, variants=args.variants, seeds=args.seeds,
                       summary={f'{run_name(c)}|{v}': s for (c, v), s in summary.items()},
                       runs=runs, total_seconds=total), f, indent=1)
    print(text)
    print(f'wrote {table.work}/results.md, results.json, lt_compare.png')


if __name__ == '__main__':
    main()
