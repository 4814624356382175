#!/usr/bin/env python
"""Model-level speed and memory of the whole gated family, side by side, in one run.

    python tools/analysis_tools/benchmark_family.py [--batch 8] [--size 112] [--width 32]
        [--repeats 5] [--warmup 1] [--only NAME ...] [--profile] [--breakdown]
        [--work-dir DIR]

For every family member (IIEU-B, IIEU-DC, AdaShift-B, AdaShift-MA (as configured, and with
``recompute_shift=True``), CBAM with Sigmoid / APA / APA + AGLU, GE-θ⁻ / θ / θ⁺; all ResNet-50
bottleneck layouts) three models:

* ``ours``: the backbone of its config in ``configs/_base_/models/`` (IIEU, AdaShift, GE)
  or the GatedResNet ``attention_cfg=dict(type='CBAM', style='apa', ...)`` (no CBAM base
  config), built through the registry, as shipped (fused / compiled kernels);
* ``plain``: the same ResNet-50 without the member: ReLU and no attention (IIEU, CBAM, GE),
  SiLU for AdaShift (its gate x·sigmoid(x + Δ) is SiLU shifted by Δ);
* ``public``: the same model with the member computed the way the public code does, in
  straightforward autograd (every intermediate saved for backward): the ``nn.Module``s of
  ``public_layouts.py``, transcribed from the public repositories: IIEU-B
  (github.com/ChengjianCai/IIEU, ``iieu.py``: ‖x‖ = sqrt(k²·AvgPool(Σ_c x_pre²)),
  ς = max(r̂, η·exp(r̂−η))), AdaShift-B / -MA (x·sigmoid(x + Δ) with the sigmoid kept),
  CBAM with Sigmoid or ``Unified`` gates and AGLU = z·``Unified``
  (github.com/kostas1515/AGLU, ``classification/cbam.py``, ``activations.py``). GE has no
  public-layout row: gated_mm's GE is plain autograd in timm's layout
  (``timm/layers/gather_excite.py``) already.

Width: ``--width`` sets ``base_channels`` (64 = ResNet-50; the stem is as wide); at 32 all
layers are half as wide (a quarter of the FLOPs), so a full run fits ~10 min on 2 CPU
cores. Training step: forward, cross-entropy on a linear head, backward, SGD step. Times:
medians over ``--repeats`` interleaved repetitions (every model takes its turn each
repetition, so a slow period of a loaded machine hits all of them). Saved activations: bytes
of the tensors autograd keeps for backward at the end of the forward (their peak;
``torch.autograd.graph.saved_tensors_hooks``, storages deduplicated; exact and deterministic).
Inference: eval-mode forward under ``torch.no_grad``, images/s.

Targets (issue 17): train step ≤ 1.30× plain, saved activations ≤ 1.10× plain, and faster and
lighter than the public layout. ``--profile``: for every ``ours`` model that misses a time
target, the top operators of one training step (``torch.profiler``, self CPU time).
``--breakdown``: every model's saved activations split by the module class that saved them
(``benchmark.SavedByModule``): where the bytes over plain are.
Results: ``<work_dir>/benchmark_family.md`` and ``.json``; the table is printed.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import sys
import time

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
BASE = osp.join(REPO, 'configs', '_base_', 'models')
HERE = osp.dirname(osp.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from benchmark import (SavedByModule, classifier_step,  # noqa: E402
                       interleaved)
import public_layouts  # noqa: E402  (the public codes' layouts, plain autograd)

CPU = torch.device('cpu')


# ------------------------------------------------------------------- the family
RELU = dict(type='ReLU', inplace=True)
SILU = dict(type='SiLU', inplace=True)


def _base(name):
    from mmengine.config import Config
    return Config.fromfile(osp.join(BASE, name)).model.backbone.to_dict()


def _swap(cfg, old, new):
    """Replace every activation config of type ``old`` in an act_cfg (dict or per position)."""
    cfg = copy.deepcopy(cfg)
    if cfg.get('type') == old:
        return dict(new)
    return {k: (dict(new, **{a: b for a, b in v.items() if a not in ('type', 'inplace')})
                if isinstance(v, dict) and v.get('type') == old else v) for k, v in cfg.items()}


def family(size):
    """name → dict(ours=backbone cfg, plain=..., public=... or None)."""
    plain_relu = dict(type='GatedResNet', depth=50, act_cfg=RELU, attention_cfg=None)
    plain_silu = dict(plain_relu, act_cfg=SILU)
    out = {}
    for name, base in (('IIEU-B', 'gated-resnet50_iieu-b.py'),
                       ('IIEU-DC', 'gated-resnet50_iieu-dc.py')):
        ours = _base(base)
        out[name] = dict(ours=ours, plain=plain_relu,
                         public=dict(ours, act_cfg=_swap(ours['act_cfg'], 'IIEU',
                                                         dict(type='PublicIIEU'))))
    ours = _base('gated-resnet50_adashift-b.py')
    out['AdaShift-B'] = dict(ours=ours, plain=plain_silu,
                             public=dict(ours, act_cfg=dict(type='PublicAdaShiftB')))
    ours = _base('gated-resnet50_adashift-ma.py')
    public_ma = dict(ours, act_cfg=_swap(ours['act_cfg'], 'AdaShiftMA',
                                         dict(type='PublicAdaShiftMA')))
    out['AdaShift-MA'] = dict(ours=ours, plain=plain_silu, public=public_ma)
    recompute = dict(ours, act_cfg={k: dict(v, recompute_shift=True)
                                    for k, v in ours['act_cfg'].items()})
    out['AdaShift-MA (recompute_shift)'] = dict(ours=recompute, plain=plain_silu,
                                                public=public_ma)
    sig, apa = dict(type='Sigmoid'), dict(type='APA', kappa_init=(0.0, 1.0),
                                          lambda_init=(0.0, 1.0))
    aglu = _base('gated-se-resnet50_apa-aglu.py')['act_cfg']
    for name, gate, act, pub_gate, pub_act in (
            ('CBAM (Sigmoid)', sig, RELU, 'sigmoid', RELU),
            ('CBAM (APA)', apa, RELU, 'apa', RELU),
            ('CBAM (APA + AGLU)', apa, aglu, 'apa', dict(type='PublicAGLU'))):
        ours = dict(type='GatedResNet', depth=50, act_cfg=act,
                    attention_cfg=dict(type='CBAM', ratio=16, style='apa', gate_cfg=gate))
        out[name] = dict(ours=ours, plain=plain_relu,
                         public=dict(ours, act_cfg=pub_act,
                                     attention_cfg=dict(type='PublicCBAM', ratio=16,
                                                        gate=pub_gate)))
    ge = _base('gated-ge-resnet50_theta.py')
    for variant, label in (('theta-', 'GE-θ⁻'), ('theta', 'GE-θ'), ('theta+', 'GE-θ⁺')):
        att = [dict(a, variant=variant, feat_size=-(-size // s))
               for a, s in zip(ge['attention_cfg'], (4, 8, 16, 32))]
        out[label] = dict(ours=dict(ge, attention_cfg=att), plain=plain_relu, public=None)
    return out


def build(cfg, width):
    from mmpretrain.registry import MODELS
    cfg = dict(cfg, base_channels=width, stem_channels=width)
    cfg.pop('init_cfg', None)
    return MODELS.build(cfg)


# ------------------------------------------------------------------- measuring
def make_model(cfg, width, x, y):
    torch.manual_seed(0)
    backbone = build(cfg, width)

    def saved():
        """Saved bytes and their :class:`SavedByModule` rows, from one training forward."""
        backbone.train()
        with SavedByModule(backbone.parameters()) as s:
            out = backbone(x)[-1]
        del out
        return s.nbytes, s.rows

    return dict(classifier_step(backbone, x, y), saved=saved)


def profile_step(step, top=6):
    from torch.profiler import ProfilerActivity, profile
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in rows) or 1
    return [(e.key, e.self_cpu_time_total / total) for e in rows[:top]]


def run(args):
    public_layouts.register()
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, 1000, (args.batch, ))
    fam = family(args.size)
    if args.only:
        unknown = set(args.only) - set(fam)
        if unknown:
            raise SystemExit(f'--only: unknown {sorted(unknown)}; choose from {sorted(fam)}')
        fam = {k: v for k, v in fam.items() if k in args.only}
    models, keys = {}, {}
    for name, variants in fam.items():
        for kind in ('plain', 'ours', 'public'):
            cfg = variants[kind]
            if cfg is None:
                continue
            key = json.dumps(cfg, sort_keys=True)  # the two plain ResNets are shared
            if key not in keys:
                keys[key] = f'{name}/{kind}'
                models[keys[key]] = make_model(cfg, args.width, x, y)
                print(f'built {keys[key]}', file=sys.stderr, flush=True)
            variants[f'{kind}_key'] = keys[key]
    train = interleaved({k: m['step'] for k, m in models.items()}, args.repeats, args.warmup,
                        CPU)
    print('training steps timed', file=sys.stderr, flush=True)
    infer = interleaved({k: m['infer'] for k, m in models.items()}, args.repeats, args.warmup,
                        CPU)
    saved = {k: m['saved']() for k, m in models.items()}  # (bytes, breakdown rows)
    rows = []
    for name, v in fam.items():
        row = dict(member=name)
        for kind in ('plain', 'ours', 'public'):
            k = v.get(f'{kind}_key')
            row[kind] = None if k is None else dict(
                step=train[k]['median'], step_iqr=train[k]['iqr'],
                img_s=args.batch / infer[k]['median'], saved=saved[k][0],
                params=models[k]['params'], key=k)
            if k is not None and args.breakdown:
                row[kind]['breakdown'] = saved[k][1]
        o, p, q = row['ours'], row['plain'], row['public']
        row['step_vs_plain'] = o['step'] / p['step']
        row['saved_vs_plain'] = o['saved'] / p['saved']
        row['infer_vs_plain'] = o['img_s'] / p['img_s']
        row['step_vs_public'] = None if q is None else o['step'] / q['step']
        row['saved_vs_public'] = None if q is None else o['saved'] / q['saved']
        row['met'] = (row['step_vs_plain'] <= 1.30 and row['saved_vs_plain'] <= 1.10 and
                      (q is None or (row['step_vs_public'] < 1 and row['saved_vs_public'] <= 1)))
        if args.profile and (row['step_vs_plain'] > 1.30 or
                             (q is not None and row['step_vs_public'] >= 1)):
            row['profile'] = profile_step(models[v['ours_key']]['step'])
        rows.append(row)
    return rows


def _f(v, fmt):
    return '-' if v is None else format(v, fmt)


def format_rows(rows, args):
    env = (f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
           f'{platform.machine()}, GATED_MM_COMPILE={os.environ.get("GATED_MM_COMPILE", "auto")}')
    lines = [f'ResNet-50 layouts at width {args.width} (base/stem channels; 64 = ResNet-50), '
             f'batch {args.batch}, {args.size}x{args.size}, float32, CPU ({env}); median of '
             f'{args.repeats} interleaved repetitions. Step = train step (s); saved = '
             f'activations kept for backward (MiB); img/s = eval inference.', '',
             '| member | plain step | ours step | public step | ours/plain step | '
             'ours/public step | plain saved | ours saved | public saved | ours/plain saved | '
             'ours/public saved | plain img/s | ours img/s | public img/s | ours/plain img/s | '
             'targets |', '|' + '---|' * 16]
    for r in rows:
        p, o, q = r['plain'], r['ours'], r['public'] or {}
        lines.append(
            f"| {r['member']} | {p['step']:.3f} | {o['step']:.3f} | {_f(q.get('step'), '.3f')} "
            f"| {r['step_vs_plain']:.2f} | {_f(r['step_vs_public'], '.2f')} | "
            f"{p['saved'] / 2**20:.1f} | {o['saved'] / 2**20:.1f} | "
            f"{_f(q.get('saved') and q['saved'] / 2**20, '.1f')} | {r['saved_vs_plain']:.2f} | "
            f"{_f(r['saved_vs_public'], '.2f')} | {p['img_s']:.1f} | {o['img_s']:.1f} | "
            f"{_f(q.get('img_s'), '.1f')} | {r['infer_vs_plain']:.2f} | "
            f"{'met' if r['met'] else 'missed'} |")
    if any('breakdown' in r['ours'] for r in rows):
        lines += ['', f'Saved activations by the module that saved them (MiB, tensors in '
                  f'parentheses; the {BREAKDOWN_TOP} largest savers, then the rest; '
                  f'``A+B``: one storage saved by both, e.g. an activation\'s output that the '
                  f'next conv keeps as its input).', '',
                  '| model | saved | largest savers |', '|---|---|---|']
        done = set()
        for r in rows:
            for kind in ('plain', 'ours', 'public'):
                m = r[kind]
                if m is None or 'breakdown' not in m or m['key'] in done:
                    continue
                done.add(m['key'])
                lines.append(f"| {m['key']} | {m['saved'] / 2**20:.1f} | "
                             f"{format_breakdown(m['breakdown'])} |")
    for r in rows:
        if r.get('profile'):
            ops = ', '.join(f'{k} {share:.0%}' for k, share in r['profile'])
            lines.append(f"\nProfile of one `{r['member']}` (ours) training step, top self-CPU "
                         f"operators: {ops}")
    return '\n'.join(lines)


BREAKDOWN_TOP = 6


def format_breakdown(rows, top=BREAKDOWN_TOP):
    """``Conv2d 57.9 (53), BatchNorm2d 43.3 (53), ..., rest 1.2 (40)`` from
    :class:`SavedByModule` rows."""
    parts = [f'{k} {b / 2**20:.1f} ({c})' for k, b, c in rows[:top]]
    rest = rows[top:]
    if rest:
        parts.append(f'rest {sum(b for _, b, _ in rest) / 2**20:.1f} '
                     f'({sum(c for _, _, c in rest)})')
    return ', '.join(parts)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--size', type=int, default=112)
    p.add_argument('--width', type=int, default=32, help='base/stem channels (64: ResNet-50)')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--only', nargs='+', help='members to run (default: all)')
    p.add_argument('--profile', action='store_true',
                   help='top operators of the members that miss a time target')
    p.add_argument('--breakdown', action='store_true',
                   help='saved activations of every model by the module class that saved them')
    p.add_argument('--work-dir', default='work_dirs/benchmark')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import gated_mm  # noqa: F401  (registers the family)
    t0 = time.perf_counter()
    rows = run(args)
    table = format_rows(rows, args)
    print(table)
    print(f'({time.perf_counter() - t0:.0f} s)')
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'benchmark_family.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(args.work_dir, 'benchmark_family.json'), 'w') as f:
        json.dump(dict(args=vars(args), rows=rows), f, indent=1)
    return rows


if __name__ == '__main__':
    main()
