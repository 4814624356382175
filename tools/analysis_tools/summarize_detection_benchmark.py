#!/usr/bin/env python
"""Mean ± std over seeds of the Omniglot-LVIS runs of run_detection_benchmark.sh.

    python tools/analysis_tools/summarize_detection_benchmark.py WORK_ROOT [--out FILE.md]

Reads ``WORK_ROOT/<config>_seed<S>/test/test_metrics.json`` (tools/test.py) and
``wall_time.json``; prints a Markdown table: AP, APr, APc, APf for bbox and segm (x100),
mean ± sample standard deviation over the seeds that produced detections, the seeds, the
runs that produced none (``test_metrics.json`` is ``{}``: the detector diverged or scores below
``score_thr``), the bbox AP mean over all seeds counting those as 0, and the mean wall times.
A failed run is never dropped silently. Runs tested with ``FIXED_AP=1`` (``<run>/test_fixed``,
``tools/test.py --fixed-ap``) add a second table: AP-fixed and AP-pool with their r/c/f
breakdown, and the standard AP of the same (low-threshold, uncapped) detections.
"""
import argparse
import glob
import json
import os.path as osp
import re
import statistics
import sys
from collections import defaultdict

COLS = [f'{t}_{c}' for t in ('bbox', 'segm') for c in ('AP', 'APr', 'APc', 'APf')]
FIXED_COLS = [f'{t}_{c}{k}' for t in ('bbox', 'segm') for k in ('-fixed', '-pool', '')
              for c in ('AP', 'APr', 'APc', 'APf')]


def collect(root):
    runs = defaultdict(dict)
    for path in sorted(glob.glob(osp.join(root, '*_seed*', 'test', 'test_metrics.json'))):
        run = osp.basename(osp.dirname(osp.dirname(path)))
        m = re.match(r'(.+)_seed(\d+)$', run)
        if not m:
            continue
        with open(path) as f:
            metrics = json.load(f)
        vals = {'failed': not any(k.split('/')[-1] in COLS for k in metrics)}
        for k, v in metrics.items():
            key = k.split('/')[-1]
            if key in COLS:
                vals[key] = float(v) * 100
        fixed = osp.join(osp.dirname(osp.dirname(path)), 'test_fixed', 'test_metrics.json')
        if osp.isfile(fixed):
            with open(fixed) as f:
                vals['fixed'] = {k.split('/')[-1]: float(v) * 100 for k, v in json.load(f).items()
                                 if k.split('/')[-1] in FIXED_COLS}
        wall = osp.join(osp.dirname(osp.dirname(path)), 'wall_time.json')
        if osp.isfile(wall):
            with open(wall) as f:
                vals.update(json.load(f))
        runs[m[1]][int(m[2])] = vals
    return runs


def fmt(xs):
    xs = [x for x in xs if x is not None and x >= 0]
    if not xs:
        return 'n/a'
    if len(xs) == 1:
        return f'{xs[0]:.1f}'
    return f'{statistics.mean(xs):.1f} ± {statistics.stdev(xs):.1f}'


def table(runs):
    head = ('| config | seeds | runs without detections | ' + ' | '.join(COLS)
            + ' | bbox_AP, failed runs as 0 | train s | test s |')
    lines = [head, '|' + '---|' * (len(COLS) + 6)]
    for name, by_seed in runs.items():
        seeds = sorted(by_seed)
        ok = [s for s in seeds if not by_seed[s]['failed']]
        failed = [s for s in seeds if by_seed[s]['failed']]
        cells = [fmt([by_seed[s].get(c) for s in ok]) for c in COLS]
        all_ap = fmt([0.0 if by_seed[s]['failed'] else by_seed[s].get('bbox_AP') for s in seeds])
        tr = statistics.mean(by_seed[s].get('train_s', 0) for s in seeds)
        te = statistics.mean(by_seed[s].get('test_s', 0) for s in seeds)
        fail = (f'{len(failed)} of {len(seeds)} (seed {",".join(map(str, failed))})' if failed
                else f'0 of {len(seeds)}')
        lines.append(f'| {name} | {",".join(map(str, seeds))} | {fail} | ' + ' | '.join(cells)
                     + f' | {all_ap} | {tr:.0f} | {te:.0f} |')
    per_seed = ['', '| config | seed | ' + ' | '.join(COLS) + ' |',
                '|' + '---|' * (len(COLS) + 2)]
    for name, by_seed in runs.items():
        for s in sorted(by_seed):
            if by_seed[s]['failed']:
                per_seed.append(f'| {name} | {s} | no detections' + ' |' * len(COLS))
                continue
            per_seed.append(f'| {name} | {s} | ' + ' | '.join(
                'n/a' if by_seed[s].get(c) is None else f'{by_seed[s][c]:.1f}' for c in COLS)
                + ' |')
    fixed = ['', '| config | seeds | ' + ' | '.join(FIXED_COLS) + ' |',
             '|' + '---|' * (len(FIXED_COLS) + 2)]
    for name, by_seed in runs.items():
        seeds = [s for s in sorted(by_seed) if by_seed[s].get('fixed')]
        if seeds:
            fixed.append(f'| {name} | {",".join(map(str, seeds))} | ' + ' | '.join(
                fmt([by_seed[s]['fixed'].get(c) for s in seeds]) for c in FIXED_COLS) + ' |')
    return '\n'.join(lines + per_seed + (fixed if len(fixed) > 3 else []))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('root')
    p.add_argument('--out')
    args = p.parse_args(argv)
    runs = collect(args.root)
    if not runs:
        sys.exit(f'summarize_detection_benchmark.py: error: no */test/test_metrics.json under '
                 f'{args.root}; run tools/analysis_tools/run_detection_benchmark.sh first')
    text = table(runs)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
