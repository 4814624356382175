#!/usr/bin/env python
"""Speed and memory of ``Gated``-converted upstream backbones against the unconverted ones,
side by side in one run.

    python tools/analysis_tools/benchmark_gated_any.py [--batch 4] [--size 112]
        [--repeats 5] [--warmup 2] [--only regnetx convnext] [--work-dir DIR]

For mmdet's RegNetX-3.2GF and mmpretrain's ConvNeXt-T (as the configs of
``configs/gated_any/`` build them, without their checkpoints), four models each:

* ``plain``: the upstream backbone;
* ``identity``: converted with every activation replaced by its own class (ReLU → ReLU,
  GELU → GELU): the cost of the call-site dispatch alone;
* ``AGLU``: every activation call site an AGLU unit;
* ``AGLU + APA-SE``: and the APA paper's SE (``GatedSE`` style 'apa', r = 16) inserted after
  every bottleneck's bn3 (RegNet) or every block (ConvNeXt).

Training step: forward, cross-entropy on a linear head over the pooled last output, backward,
SGD step; medians (and IQR) over ``--repeats`` interleaved repetitions (``benchmark.interleaved``:
every model takes its turn each repetition). Saved activations: bytes autograd keeps for
backward at the end of a training forward (``benchmark.SavedBytes``, storages deduplicated).
Kernels: the number of APA/AGLU kernel calls in one training step that ran the fused
(compiled) kernels and the number that ran eager maths (``KERNELS.use_compiled`` at each
call); the run stops if a converted model ran any eager kernel while compiled ones are in
force. Writes ``<work_dir>/benchmark_gated_any.md`` and ``.json``; prints the table.
"""
import argparse
import json
import os
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from benchmark import (SavedBytes, classifier_step, environment,  # noqa: E402
                       interleaved)

CPU = torch.device('cpu')
AGLU = dict(type='AGLU', kappa_init=(1.0, 1.3), lambda_init=(0.0, 1.0))
SE = dict(type='GatedSE', style='apa', ratio=16)

#: backbone → (scope, upstream config, activation class, SE insert pattern)
BACKBONES = {
    'regnetx': ('mmdet', dict(type='RegNet', arch='regnetx_3.2gf', out_indices=(0, 1, 2, 3)),
                'ReLU', 'layer*.*.bn3'),
    'convnext': ('mmpretrain', dict(type='ConvNeXt', arch='tiny', out_indices=(0, 1, 2, 3),
                                    gap_before_final_norm=False), 'GELU', 'stages.*.*'),
}
VARIANTS = ('plain', 'identity', 'AGLU', 'AGLU + APA-SE')


def variant_cfg(name: str, variant: str, size: int) -> dict:
    _, model, act, pattern = BACKBONES[name]
    if variant == 'plain':
        return dict(model)
    cfg = dict(type='Gated', model=dict(model), input_shape=(1, 3, size, size),
               act=dict(replace=[act], by=dict(type=act) if variant == 'identity' else AGLU))
    if variant == 'AGLU + APA-SE':
        cfg['insert'] = dict(after=pattern, cfg=SE)
    return cfg


class KernelCalls:
    """Counts APA/AGLU kernel calls by path (compiled or eager) inside the context."""

    def __enter__(self):
        from gated_mm.models.activations import apa_aglu
        self.kernels = apa_aglu.KERNELS
        self.compiled = self.eager = 0
        self._run = self.kernels.run

        def run(name, *args):
            if self.kernels.use_compiled(args[0]):
                self.compiled += 1
            else:
                self.eager += 1
            return self._run(name, *args)

        self.kernels.run = run
        return self

    def __exit__(self, *exc):
        del self.kernels.run  # back to the class's method


def make_model(name, variant, x, y):
    import importlib
    registry = importlib.import_module(f'{BACKBONES[name][0]}.registry').MODELS
    torch.manual_seed(0)
    backbone = registry.build(variant_cfg(name, variant, x.shape[-1]))

    def saved():
        backbone.train()
        with SavedBytes() as s:
            out = backbone(x)[-1]
        del out
        return s.nbytes

    units = sum(len(m.units) for m in backbone.modules() if hasattr(m, 'units'))
    return dict(classifier_step(backbone, x, y), saved=saved, units=units)


def run(args):
    import gated_mm  # noqa: F401  (registers Gated)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, 1000, (args.batch, ))
    models = {}
    for name in args.only:
        for variant in VARIANTS:
            models[f'{name}/{variant}'] = make_model(name, variant, x, y)
            print(f'built {name}/{variant}', file=sys.stderr, flush=True)
    kernels = {}
    for key, m in models.items():  # warm-up step: compiles the kernels, counts the paths
        m['step']()
        with KernelCalls() as k:
            m['step']()
        kernels[key] = (k.compiled, k.eager)
    times = interleaved({k: m['step'] for k, m in models.items()}, args.repeats, args.warmup,
                        CPU)
    rows = []
    for key, m in models.items():
        name, variant = key.split('/')
        plain = f'{name}/plain'
        saved = m['saved']()
        rows.append(dict(model=name, variant=variant, units=m['units'], params=m['params'],
                         step=times[key]['median'], step_iqr=times[key]['iqr'],
                         step_vs_plain=times[key]['median'] / times[plain]['median'],
                         saved=saved, kernels_compiled=kernels[key][0],
                         kernels_eager=kernels[key][1]))
    for r in rows:
        r['saved_vs_plain'] = r['saved'] / next(
            q['saved'] for q in rows if q['model'] == r['model'] and q['variant'] == 'plain')
    return rows


def format_rows(rows, args) -> str:
    lines = [f'Training step (batch {args.batch}, {args.size}×{args.size}, float32, CPU), '
             f'median of {args.repeats} interleaved repetitions:', '',
             '| backbone | model | units | params (M) | step (ms) | × plain | saved act. (MB) '
             '| × plain | APA/AGLU kernel calls: fused / eager |',
             '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['units']} | {r['params'] / 1e6:.2f} | "
            f"{r['step'] * 1e3:.0f} ± {r['step_iqr'] * 1e3:.0f} | {r['step_vs_plain']:.2f} | "
            f"{r['saved'] / 2**20:.1f} | {r['saved_vs_plain']:.3f} | "
            f"{r['kernels_compiled']} / {r['kernels_eager']} |")
    return '\n'.join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--size', type=int, default=112)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--only', nargs='+', default=list(BACKBONES), choices=list(BACKBONES))
    p.add_argument('--work-dir', default='work_dirs/benchmark_gated_any')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rows = run(args)
    eager = [f"{r['model']}/{r['variant']}" for r in rows if r['kernels_eager']]
    env = environment(CPU)
    command = 'python tools/analysis_tools/benchmark_gated_any.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)
    env_line = ', '.join(f'{k} {v}' for k, v in env.items())
    text = f'{format_rows(rows, args)}\n\nEnvironment: {env_line}.\nCommand: `{command}`\n'
    print(text)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / 'benchmark_gated_any.md').write_text(text)
    (work / 'benchmark_gated_any.json').write_text(
        json.dumps(dict(environment=env, command=command, rows=rows), indent=2))
    if eager and os.environ.get('GATED_MM_COMPILE', 'auto') not in ('0', 'false', 'off', 'no'):
        sys.exit(f'benchmark_gated_any.py: {eager} ran eager APA/AGLU kernels (compilation '
                 'failed or was skipped): the numbers are not those of the fused kernels')


if __name__ == '__main__':
    main()
