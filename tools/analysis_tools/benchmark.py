#!/usr/bin/env python
"""Speed and memory of the gated modules, side by side, in one run.

    python tools/analysis_tools/benchmark.py op    [--shape 32 256 28 28] [--repeats 20]
    python tools/analysis_tools/benchmark.py model [--depth 50] [--batch 32] [--size 112]
    python tools/analysis_tools/benchmark.py all   [--work-dir work_dirs/benchmark]

``op``: forward + backward of every gated activation/gate on one tensor, for
  * ``native``: the activation it replaces (SiLU for AGLU, Sigmoid for APA);
  * ``reference``: a straightforward autograd implementation of the same equations (what
    the public code's plain-autograd path does: every intermediate saved for backward);
  * ``ours-eager``: gated_mm's module with ``GATED_MM_COMPILE=0`` (recompute in backward);
  * ``ours``: gated_mm's module as shipped (fused ``torch.compile`` kernels).
``model``: a training step (forward, backward, SGD step), and inference images/s, of
  GatedResNet SE-ResNet variants: plain (ReLU + Sigmoid SE, the baseline), APA + AGLU as
  shipped, APA + AGLU eager, and the public layout (APA + AGLU in straightforward autograd).

Times are medians over ``--repeats`` interleaved repetitions (the variants take turns, so
a slow period of the machine hits all of them) with the inter-quartile range as spread.
Memory: bytes of tensors saved for backward (``torch.autograd.graph.saved_tensors_hooks``,
exact and device independent), plus ``torch.cuda.max_memory_allocated`` on a GPU.
Results go to ``<work_dir>/benchmark_<kind>.md`` and ``.json``; the table is printed.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

_REPO = Path(__file__).resolve().parents[2]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))


# ------------------------------------------------------------------------------- references
class ReferenceAPA(nn.Module):
    """APA/AGLU by plain autograd of the equations (every intermediate kept for backward)."""

    def __init__(self, unit: bool, kappa: float = 1.1, lambda_: float = 0.6, **_):
        super().__init__()
        self.unit = unit
        self.kappa = nn.Parameter(torch.tensor([kappa]))
        self.lambda_ = nn.Parameter(torch.tensor([lambda_]))

    def forward(self, z):
        lam = self.lambda_.clamp(min=1e-4)
        eta = torch.exp(-F.softplus(torch.log(lam) - self.kappa * z) / lam)
        return z * eta if self.unit else eta


class ReferenceAGLU(ReferenceAPA):

    def __init__(self, **kwargs):
        super().__init__(unit=True, **kwargs)


class ReferenceGate(ReferenceAPA):

    def __init__(self, **kwargs):
        super().__init__(unit=False, **kwargs)


def _register_references():
    from mmengine.registry import MODELS
    for cls in (ReferenceAGLU, ReferenceGate):
        if cls.__name__ not in MODELS.module_dict:
            MODELS.register_module(module=cls)


# ------------------------------------------------------------------------------- measuring
class SavedBytes:
    """Total bytes of the tensors autograd saves inside the context (storage-deduplicated)."""

    def __enter__(self):
        self.storages = {}

        def pack(t):
            if isinstance(t, torch.Tensor):
                st = t.untyped_storage()
                self.storages[st.data_ptr()] = st.nbytes()
            return t

        self._ctx = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)

    @property
    def nbytes(self):
        return sum(self.storages.values())


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def interleaved(fns: dict, repeats: int, warmup: int, device) -> dict:
    """Median and IQR (seconds) of each callable, taking turns each repetition."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t)
    out = {}
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=4) if len(ts) >= 2 else [ts[0]] * 3
        out[name] = dict(median=statistics.median(ts), iqr=q[2] - q[0])
    return out


# ------------------------------------------------------------------------------- op level
def op_benchmark(args, device, dtype):
    from gated_mm.models.activations import AGLU, APA
    apa_mod = sys.modules['gated_mm.models.activations.apa']
    rows = []
    for name, ours_cls, ref_cls, native in [('AGLU', AGLU, ReferenceAGLU, nn.SiLU()),
                                           ('APA', APA, ReferenceGate, nn.Sigmoid())]:
        torch.manual_seed(0)
        x = torch.randn(*args.shape, device=device, dtype=dtype) * 3
        grad = torch.randn_like(x)
        ours = ours_cls(kappa_init=1.1, lambda_init=0.6).to(device)
        ref = ref_cls().to(device)

        def step(module, eager=None):

            def run():
                if eager is not None:
                    apa_mod._Kernels.mode = eager
                z = x.detach().requires_grad_()
                module(z).backward(grad)
                apa_mod._Kernels.mode = mode0

            return run

        mode0 = apa_mod._Kernels.mode
        variants = {
            'native': step(native),
            'reference': step(ref),
            'ours-eager': step(ours, eager='0'),
            'ours': step(ours, eager='auto'),
        }
        timing = interleaved(variants, args.repeats, args.warmup, device)
        for variant, module in [('native', native), ('reference', ref), ('ours-eager', ours),
                                ('ours', ours)]:
            apa_mod._Kernels.mode = '0' if variant == 'ours-eager' else 'auto'
            z = x.detach().requires_grad_()
            with SavedBytes() as saved:
                out = module(z)
            apa_mod._Kernels.mode = mode0
            del out
            rows.append(dict(op=name, variant=variant, **timing[variant],
                             saved_bytes=saved.nbytes))
        base = next(r for r in rows if r['op'] == name and r['variant'] == 'native')
        for r in rows:
            if r['op'] == name:
                r['time_ratio'] = r['median'] / base['median']
                r['saved_ratio'] = r['saved_bytes'] / x.numel() / x.element_size()
    return rows


def format_op(rows, args, device, dtype):
    lines = [f'Op level: forward + backward of one {tuple(args.shape)} {dtype} tensor on '
             f'{device}, median of {args.repeats} interleaved repetitions.', '',
             '| op | variant | time (ms) | IQR (ms) | time / native | saved / input |',
             '|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['op']} | {r['variant']} | {r['median'] * 1e3:.2f} | "
                     f"{r['iqr'] * 1e3:.2f} | {r['time_ratio']:.2f} | {r['saved_ratio']:.2f} |")
    return '\n'.join(lines)


# ------------------------------------------------------------------------------- model level
def model_variants(depth):
    relu = dict(type='ReLU', inplace=True)
    se = dict(type='GatedSE', ratio=16)
    apa_se = dict(type='GatedSE', ratio=16, gate_cfg=dict(type='APA'), layer_norm=True,
                  dropout=0.1)
    ref_se = dict(apa_se, gate_cfg=dict(type='ReferenceGate'))
    return {
        'plain SE (ReLU, Sigmoid)': (dict(depth=depth, act_cfg=relu, attention_cfg=se), None),
        'APA + AGLU (ours)': (dict(depth=depth, act_cfg=dict(type='AGLU'),
                                   attention_cfg=apa_se), 'auto'),
        'APA + AGLU (ours, eager)': (dict(depth=depth, act_cfg=dict(type='AGLU'),
                                          attention_cfg=apa_se), '0'),
        'APA + AGLU (public layout, autograd)': (dict(
            depth=depth, act_cfg=dict(type='ReferenceAGLU'), attention_cfg=ref_se), None),
    }


def model_benchmark(args, device, dtype):
    from gated_mm.models.backbones import GatedResNet
    apa_mod = sys.modules['gated_mm.models.activations.apa']
    _register_references()
    mode0 = apa_mod._Kernels.mode
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    y = torch.randint(0, 1000, (args.batch, ), device=device)
    models, steps, infers, modes = {}, {}, {}, {}
    for name, (cfg, mode) in model_variants(args.depth).items():
        torch.manual_seed(0)
        backbone = GatedResNet(**cfg)
        backbone.to(device)
        head = nn.Linear(backbone.feat_dim, 1000).to(device)
        opt = torch.optim.SGD(list(backbone.parameters()) + list(head.parameters()), lr=0.01,
                              momentum=0.9)
        models[name], modes[name] = (backbone, head), mode

        def step(backbone=backbone, head=head, opt=opt, mode=mode):
            apa_mod._Kernels.mode = mode or mode0
            backbone.train()
            with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                feat = backbone(x)[0].mean(dim=(2, 3))
                loss = F.cross_entropy(head(feat).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            apa_mod._Kernels.mode = mode0

        def infer(backbone=backbone, mode=mode):
            apa_mod._Kernels.mode = mode or mode0
            backbone.eval()
            with torch.no_grad(), torch.autocast(device.type, dtype=dtype,
                                                 enabled=dtype != torch.float32):
                backbone(x)
            apa_mod._Kernels.mode = mode0

        steps[name], infers[name] = step, infer
    train = interleaved(steps, args.repeats, args.warmup, device)
    infer = interleaved(infers, args.repeats, args.warmup, device)
    rows = []
    for name, (backbone, head) in models.items():
        apa_mod._Kernels.mode = modes[name] or mode0
        backbone.train()
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats()
        with SavedBytes() as saved:
            feat = backbone(x)[0].mean(dim=(2, 3))
        peak = torch.cuda.max_memory_allocated() if device.type == 'cuda' else None
        del feat
        apa_mod._Kernels.mode = mode0
        rows.append(dict(model=name, step_median=train[name]['median'],
                         step_iqr=train[name]['iqr'],
                         images_per_s=args.batch / infer[name]['median'],
                         saved_bytes=saved.nbytes, cuda_peak_bytes=peak,
                         params=sum(p.numel() for p in backbone.parameters())))
    base = rows[0]
    for r in rows:
        r['step_ratio'] = r['step_median'] / base['step_median']
        r['saved_ratio'] = r['saved_bytes'] / base['saved_bytes']
    return rows


def format_model(rows, args, device, dtype):
    lines = [f'Model level: GatedResNet-{args.depth} SE variants, batch {args.batch}, '
             f'{args.size}x{args.size}, {dtype}, {device}; training step = forward, backward, '
             f'SGD; median of {args.repeats} interleaved repetitions.', '',
             '| model | params (M) | train step (s) | IQR (s) | step / plain | '
             'saved activations (MB) | saved / plain | inference img/s |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['model']} | {r['params'] / 1e6:.2f} | {r['step_median']:.3f} | "
                     f"{r['step_iqr']:.3f} | {r['step_ratio']:.2f} | "
                     f"{r['saved_bytes'] / 2**20:.0f} | {r['saved_ratio']:.3f} | "
                     f"{r['images_per_s']:.1f} |")
    return '\n'.join(lines)


# ------------------------------------------------------------------------------- main
def environment(device):
    import mmengine
    info = dict(python=platform.python_version(), torch=torch.__version__,
                mmengine=mmengine.__version__, machine=platform.machine(),
                cpu_threads=torch.get_num_threads(), device=str(device),
                GATED_MM_COMPILE=os.environ.get('GATED_MM_COMPILE', 'auto'))
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('kind', choices=['op', 'model', 'all'])
    p.add_argument('--shape', type=int, nargs='+', default=[32, 256, 28, 28],
                   help='op level: tensor shape (default 32 256 28 28)')
    p.add_argument('--depth', type=int, default=50, choices=[26, 50, 101, 152])
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--size', type=int, default=112)
    p.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16', 'float16'],
                   help='op level: tensor dtype; model level: autocast dtype')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--repeats', type=int, default=15)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--work-dir', default='work_dirs/benchmark')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import gated_mm  # noqa: F401
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    if device.type == 'cuda' and not torch.cuda.is_available():
        sys.exit('benchmark.py: error: --device cuda but no GPU is visible')
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    env = environment(device)
    command = 'python tools/analysis_tools/benchmark.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)
    kinds = ['op', 'model'] if args.kind == 'all' else [args.kind]
    for kind in kinds:
        if kind == 'op':
            rows = op_benchmark(args, device, dtype)
            table = format_op(rows, args, device, dtype)
        else:
            rows = model_benchmark(args, device, dtype)
            table = format_model(rows, args, device, dtype)
        env_line = ', '.join(f'{k} {v}' for k, v in env.items())
        text = f'{table}\n\nEnvironment: {env_line}.\nCommand: `{command}`\n'
        print(text)
        (work / f'benchmark_{kind}.md').write_text(text)
        (work / f'benchmark_{kind}.json').write_text(
            json.dumps(dict(environment=env, command=command, rows=rows), indent=2))
    print(f'written to {work}/')


if __name__ == '__main__':
    main()
