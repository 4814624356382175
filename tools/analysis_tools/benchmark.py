#!/usr/bin/env python
"""Speed and memory of the gated modules, side by side, in one run.

    python tools/analysis_tools/benchmark.py op    [--shape 32 256 28 28] [--repeats 20]
    python tools/analysis_tools/benchmark.py model [--depth 50] [--batch 32] [--size 112]
    python tools/analysis_tools/benchmark.py inference [--batch 32] [--size 112 | --size H W]
    python tools/analysis_tools/benchmark.py all   [--work-dir work_dirs/benchmark]
    python tools/analysis_tools/benchmark.py all --memory-only   (saved bytes only, no timing)

``op``: forward + backward of every gated activation/gate on one (N, C, H, W) tensor, for
  * ``native``: the activation it replaces (SiLU for AGLU and AdaShift-MA, Sigmoid for APA,
    ReLU for IIEU-B);
  * ``reference``: a straightforward autograd implementation of the same equations (what
    the public code's plain-autograd path does: every intermediate saved for backward);
  * ``ours-eager``: gated_mm's module under ``kernel_mode('eager')`` (recompute in backward;
    only for the ops with compiled kernels, APA/AGLU and IIEU-B);
  * ``ours``: gated_mm's module as shipped (fused ``torch.compile`` kernels).
  IIEU-B is the unit after a 3×3 conv C → C whose input x_pre has the tensor's shape; its
  saved bytes include x_pre (which that conv keeps anyway).
``model``: a training step (forward, backward, SGD step), and inference images/s, of
  GatedResNet SE-ResNet variants: plain (ReLU + Sigmoid SE, the baseline), APA + AGLU as
  shipped, APA + AGLU eager, APA + AGLU with the block end (SE scale, add, AGLU) unfused, and
  the public layout (APA + AGLU in straightforward autograd).
``inference``: eval-mode images/s of the SE-ResNet variants (grad disabled): plain, plain
  with BatchNorm folded into the convs (``fold_batch_norm``), APA + AGLU with the block end
  unfused and BN unfolded, APA + AGLU as shipped (block end one kernel pass), as shipped with
  BN folded (``tools/test.py --fuse-conv-bn``), and the public layout. ``--size H W`` gives a
  detection input (e.g. ``--batch 1 --size 800 1216``: the backbone of the LVIS detectors).

Times are medians over ``--repeats`` interleaved repetitions (the variants take turns, so
a slow period of the machine hits all of them) with the inter-quartile range as spread.
On Linux/glibc, run it with ``MALLOC_MMAP_THRESHOLD_=1073741824
MALLOC_TRIM_THRESHOLD_=2147483647`` (as ``docs/benchmarks.md`` does): glibc then keeps freed
memory in the process, as jemalloc/tcmalloc and PyTorch's CUDA allocator do. With its
defaults each freed 25-100 MB activation goes back to the kernel and is page-faulted in again
when re-allocated: on this project's 2-core VM 4-13 ms per op call, more than the kernels
themselves, and unequal between variants (it depends on how many large tensors each keeps
alive). The environment line of the table records the setting.
Memory: bytes of the tensors saved for backward (``torch.autograd.graph.saved_tensors_hooks``,
storages deduplicated; exact, deterministic and device independent). Saved tensors only
accumulate during the forward and are released during the backward, so the total at the end
of the forward is the peak of saved activations of a training step. On a GPU also
``torch.cuda.max_memory_allocated`` of the forward. ``--memory-only`` skips every timing.
Results go to ``<work_dir>/benchmark_<kind>.md`` and ``.json``; the table is printed.
"""
import argparse
import contextlib
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
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
import public_layouts  # noqa: E402  (the public codes' layouts, plain autograd)
from public_layouts import (PublicAdaShiftMA, PublicAGLU, PublicGate,  # noqa: E402
                            PublicIIEU)


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


class SavedByModule:
    """Which modules keep the saved tensors: bytes and counts per saver, storages deduplicated.

    Inside the context, two global module hooks
    (``torch.nn.modules.module.register_module_forward_pre_hook`` / ``..._forward_hook``) keep
    the stack of modules whose ``forward`` is running, and a ``saved_tensors_hooks`` pack
    records, for each storage autograd saves, the class of the innermost running module (the
    one whose own code saved it; ``(no module)`` outside any). A storage saved by several
    modules (a ReLU's output, which the next conv saves as its input) is counted once, under
    the saver classes joined by ``+`` (``Conv2d+ReLU``). Storages of ``params`` (the model's
    parameters, e.g. a conv's weight) are reported as ``(parameters)``. The total equals
    :class:`SavedBytes`'s. Global hooks, unlike hooks on a module, leave the modules'
    fused paths on (they test the module's own hooks).

    ``rows``: ``[(saver, nbytes, n_storages)]``, largest first.
    """

    def __init__(self, params=()):
        self._params = {p.untyped_storage().data_ptr() for p in params}

    def __enter__(self):
        from torch.nn.modules import module as nn_module
        self.storages, stack = {}, []

        def pre(mod, args):
            stack.append(type(mod).__name__)

        def post(mod, args, out):
            if stack:
                stack.pop()

        def pack(t):
            if isinstance(t, torch.Tensor):
                st = t.untyped_storage()
                ptr = st.data_ptr()
                saver = ('(parameters)' if ptr in self._params else
                         stack[-1] if stack else '(no module)')
                entry = self.storages.setdefault(ptr, [st.nbytes(), set()])
                entry[1].add(saver)
            return t

        self._handles = (nn_module.register_module_forward_pre_hook(pre),
                         nn_module.register_module_forward_hook(post))
        self._ctx = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        for h in self._handles:
            h.remove()

    @property
    def nbytes(self):
        return sum(n for n, _ in self.storages.values())

    @property
    def rows(self):
        by = {}
        for n, savers in self.storages.values():
            key = '+'.join(sorted(savers))
            b, c = by.get(key, (0, 0))
            by[key] = (b + n, c + 1)
        return sorted(((k, b, c) for k, (b, c) in by.items()), key=lambda r: -r[1])


@contextlib.contextmanager
def settings(mode=None, fuse_end=True):
    """Run with the kernel mode (None: as configured, else ``'eager'``/``'auto'``/
    ``'compiled'``) and with or without the fused block end of the gated blocks."""
    from gated_mm.models.activations import fusion, kernel_mode
    with contextlib.ExitStack() as stack:
        if mode is not None:
            stack.enter_context(kernel_mode(mode))
        if not fuse_end:
            stack.enter_context(fusion(residual_act=False))
        yield


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


def classifier_step(backbone, x, y, num_classes=1000):
    """A training step and an inference pass of ``backbone`` with a classifier on top.

    The classifier global-average-pools the backbone's last output map, (N, C, H, W) → (N, C),
    and a linear layer maps it to ``num_classes`` logits; the step is cross-entropy against
    ``y`` (N,), backward and one SGD step (lr 0.01, momentum 0.9) over the backbone's and the
    head's parameters, in training mode. ``infer`` runs the backbone alone on ``x`` in eval mode
    without gradients. Returns ``dict(step=..., infer=..., params=...)`` (``params``: the
    backbone's parameter count).
    """
    backbone.eval()
    with torch.no_grad():
        feat_dim = backbone(x[:1])[-1].shape[1]
    head = nn.Linear(feat_dim, num_classes)
    opt = torch.optim.SGD(list(backbone.parameters()) + list(head.parameters()), lr=0.01,
                          momentum=0.9)

    def step():
        backbone.train()
        loss = F.cross_entropy(head(backbone(x)[-1].mean(dim=(2, 3))), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer():
        backbone.eval()
        with torch.no_grad():
            backbone(x)

    return dict(step=step, infer=infer, params=sum(p.numel() for p in backbone.parameters()))


# ------------------------------------------------------------------------------- op level
def op_cases(shape, device):
    """(name, native, reference, ours, extra call args, has compiled kernels) per op."""
    from gated_mm.models.activations import AGLU, APA, IIEU, AdaShiftMA
    c = shape[1]
    torch.manual_seed(0)
    conv = nn.Conv2d(c, c, 3, padding=1, bias=False).to(device)  # IIEU-B's conv
    x_pre = torch.randn(*shape, device=device)
    kl = dict(kappa_init=1.1, lambda_init=0.6)
    return [
        ('AGLU', nn.SiLU(), PublicAGLU(1.1, 0.6), AGLU(**kl), (), True),
        ('APA', nn.Sigmoid(), PublicGate(1.1, 0.6), APA(**kl), (), True),
        ('IIEU-B', nn.ReLU(), PublicIIEU(c), IIEU(c), (x_pre, conv), True),
        ('AdaShift-MA', nn.SiLU(), PublicAdaShiftMA(c), AdaShiftMA(c), (), False),
    ]


def op_benchmark(args, device, dtype):
    rows = []
    for name, native, ref, ours, extra, compiled in op_cases(args.shape, device):
        torch.manual_seed(0)
        x = torch.randn(*args.shape, device=device, dtype=dtype) * 3
        grad = torch.randn_like(x)
        ref, ours = ref.to(device), ours.to(device)
        variants = {'native': (native, None, False), 'reference': (ref, None, True)}
        if compiled:
            variants['ours-eager'] = (ours, 'eager', True)
        # as shipped: compiled kernels (saved bytes do not depend on it: no compiling there)
        variants['ours'] = (ours, None if args.memory_only else 'auto', True)

        def forward(module, mode, with_extra):
            z = x.detach().requires_grad_()
            args_ = [t.detach().requires_grad_() if isinstance(t, torch.Tensor) else t
                     for t in extra] if with_extra else []
            with settings(mode):
                return module(z, *args_)

        def step(variant):
            return lambda: forward(*variants[variant]).backward(grad)

        timing = ({} if args.memory_only else
                  interleaved({v: step(v) for v in variants}, args.repeats, args.warmup, device))
        for variant, spec in variants.items():
            with SavedBytes() as saved:
                out = forward(*spec)
            del out
            t = timing.get(variant, dict(median=None, iqr=None))
            rows.append(dict(op=name, variant=variant, **t, saved_bytes=saved.nbytes))
        mine = [r for r in rows if r['op'] == name]
        base = next(r for r in mine if r['variant'] == 'native')
        reference = next(r for r in mine if r['variant'] == 'reference')
        for r in mine:
            r['time_ratio'] = (None if r['median'] is None else r['median'] / base['median'])
            r['saved_ratio'] = r['saved_bytes'] / x.numel() / x.element_size()
            r['saved_vs_reference'] = r['saved_bytes'] / reference['saved_bytes']
    return rows


def _fmt(v, fmt, scale=1.0):
    return '-' if v is None else format(v * scale, fmt)


def format_op(rows, args, device, dtype):
    timing = ('saved bytes only (--memory-only)' if args.memory_only else
              f'median of {args.repeats} interleaved repetitions')
    lines = [f'Op level: forward + backward of one {tuple(args.shape)} {dtype} tensor on '
             f'{device}, {timing}.', '',
             '| op | variant | time (ms) | IQR (ms) | time / native | saved / input | '
             'saved / reference |',
             '|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['op']} | {r['variant']} | {_fmt(r['median'], '.2f', 1e3)} | "
                     f"{_fmt(r['iqr'], '.2f', 1e3)} | {_fmt(r['time_ratio'], '.2f')} | "
                     f"{r['saved_ratio']:.2f} | {r['saved_vs_reference']:.3f} |")
    return '\n'.join(lines)


# ------------------------------------------------------------------------------- model level
def input_hw(args):
    """(H, W) of ``--size S`` or ``--size H W``."""
    return tuple(args.size * 2)[:2]


def model_variants(depth):
    """name → (GatedResNet config, kernel mode, fused block end)."""
    relu = dict(type='ReLU', inplace=True)
    se = dict(type='GatedSE', ratio=16)
    apa_se = dict(type='GatedSE', ratio=16, gate_cfg=dict(type='APA'), layer_norm=True,
                  dropout=0.1)
    ref_se = dict(apa_se, gate_cfg=dict(type='PublicGate'))
    ours = dict(depth=depth, act_cfg=dict(type='AGLU'), attention_cfg=apa_se)
    return {
        'plain SE (ReLU, Sigmoid)': (dict(depth=depth, act_cfg=relu, attention_cfg=se), None,
                                     True),
        'APA + AGLU (ours)': (ours, 'auto', True),
        'APA + AGLU (ours, eager)': (ours, 'eager', True),
        'APA + AGLU (ours, block end unfused)': (ours, 'auto', False),
        'APA + AGLU (public layout, autograd)': (dict(
            depth=depth, act_cfg=dict(type='PublicAGLU'), attention_cfg=ref_se), None, True),
    }


def model_benchmark(args, device, dtype):
    from gated_mm.models.backbones import GatedResNet
    public_layouts.register()
    h, w = input_hw(args)
    x = torch.randn(args.batch, 3, h, w, device=device)
    y = torch.randint(0, 1000, (args.batch, ), device=device)
    autocast = dict(device_type=device.type, dtype=dtype, enabled=dtype != torch.float32)
    models, steps, infers, setup = {}, {}, {}, {}
    for name, (cfg, mode, fuse_end) in model_variants(args.depth).items():
        torch.manual_seed(0)
        backbone = GatedResNet(**cfg)
        backbone.to(device)
        head = nn.Linear(backbone.feat_dim, 1000).to(device)
        opt = torch.optim.SGD(list(backbone.parameters()) + list(head.parameters()), lr=0.01,
                              momentum=0.9)
        # saved bytes do not depend on the kernel mode: no compiling for --memory-only
        models[name] = (backbone, head)
        setup[name] = dict(mode=None if args.memory_only else mode, fuse_end=fuse_end)

        def step(backbone=backbone, head=head, opt=opt, setup=setup[name]):
            backbone.train()
            with settings(**setup):
                with torch.autocast(**autocast):
                    feat = backbone(x)[0].mean(dim=(2, 3))
                    loss = F.cross_entropy(head(feat).float(), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()

        def infer(backbone=backbone, setup=setup[name]):
            backbone.eval()
            with settings(**setup), torch.no_grad(), torch.autocast(**autocast):
                backbone(x)

        steps[name], infers[name] = step, infer
    if args.memory_only:
        train = infer = {}
    else:
        train = interleaved(steps, args.repeats, args.warmup, device)
        infer = interleaved(infers, args.repeats, args.warmup, device)
    rows = []
    for name, (backbone, head) in models.items():
        backbone.train()
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats()
        with settings(**setup[name]), torch.autocast(**autocast), SavedBytes() as saved:
            feat = backbone(x)[0].mean(dim=(2, 3))
        peak = torch.cuda.max_memory_allocated() if device.type == 'cuda' else None
        del feat
        t, i = train.get(name, {}), infer.get(name, {})
        rows.append(dict(model=name, step_median=t.get('median'), step_iqr=t.get('iqr'),
                         images_per_s=(args.batch / i['median']) if i else None,
                         saved_bytes=saved.nbytes, cuda_peak_bytes=peak,
                         params=sum(p.numel() for p in backbone.parameters())))
    base = rows[0]
    for r in rows:
        r['step_ratio'] = (None if r['step_median'] is None else
                           r['step_median'] / base['step_median'])
        r['saved_ratio'] = r['saved_bytes'] / base['saved_bytes']
    return rows


def inference_variants(depth):
    """name → (GatedResNet config, kernel mode, fused block end, BN folded)."""
    models = model_variants(depth)
    plain, ours = models['plain SE (ReLU, Sigmoid)'][0], models['APA + AGLU (ours)'][0]
    return {
        'plain SE (ReLU, Sigmoid)': (plain, None, True, False),
        'plain SE, BN folded': (plain, None, True, True),
        'APA + AGLU (ours, block end unfused, BN unfolded)': (ours, 'auto', False, False),
        'APA + AGLU (ours)': (ours, 'auto', True, False),
        'APA + AGLU (ours, BN folded)': (ours, 'auto', True, True),
        'APA + AGLU (public layout, autograd)':
        models['APA + AGLU (public layout, autograd)'][:2] + (True, False),
    }


def inference_benchmark(args, device, dtype):
    from gated_mm.models.backbones import GatedResNet, fold_batch_norm
    public_layouts.register()
    h, w = input_hw(args)
    x = torch.randn(args.batch, 3, h, w, device=device)
    autocast = dict(device_type=device.type, dtype=dtype, enabled=dtype != torch.float32)
    infers, folded = {}, {}
    for name, (cfg, mode, fuse_end, fold) in inference_variants(args.depth).items():
        torch.manual_seed(0)
        backbone = GatedResNet(**cfg).to(device).eval()
        folded[name] = len(fold_batch_norm(backbone).folded) if fold else 0

        def infer(backbone=backbone, setup=dict(mode=mode, fuse_end=fuse_end)):
            with settings(**setup), torch.no_grad(), torch.autocast(**autocast):
                backbone(x)

        infers[name] = infer
    times = interleaved(infers, args.repeats, args.warmup, device)
    rows = [dict(model=name, images_per_s=args.batch / t['median'],
                 iqr_ms=t['iqr'] * 1e3, median_ms=t['median'] * 1e3, bn_folded=folded[name])
            for name, t in times.items()]
    plain, plain_folded = rows[0]['images_per_s'], rows[1]['images_per_s']
    for r in rows:
        r['vs_plain'] = r['images_per_s'] / plain
        r['vs_plain_folded'] = r['images_per_s'] / plain_folded
    return rows


def format_inference(rows, args, device, dtype):
    h, w = input_hw(args)
    lines = [f'Inference: GatedResNet-{args.depth} SE variants, eval mode, grad disabled, batch '
             f'{args.batch}, {h}x{w}, {dtype}, {device}; median of {args.repeats} interleaved '
             f'repetitions.', '',
             '| model | BNs folded | time / batch (ms) | IQR (ms) | img/s | / plain | '
             '/ plain folded |', '|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['model']} | {r['bn_folded']} | {r['median_ms']:.1f} | "
                     f"{r['iqr_ms']:.1f} | {r['images_per_s']:.3g} | {r['vs_plain']:.2f} | "
                     f"{r['vs_plain_folded']:.2f} |")
    return '\n'.join(lines)


def format_model(rows, args, device, dtype):
    h, w = input_hw(args)
    timing = ('saved bytes only (--memory-only)' if args.memory_only else
              f'median of {args.repeats} interleaved repetitions')
    lines = [f'Model level: GatedResNet-{args.depth} SE variants, batch {args.batch}, '
             f'{h}x{w}, {dtype}, {device}; training step = forward, backward, '
             f'SGD; {timing}. Saved activations: peak of the tensors kept for backward.', '',
             '| model | params (M) | train step (s) | IQR (s) | step / plain | '
             'saved activations (MB) | saved / plain | inference img/s |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['model']} | {r['params'] / 1e6:.2f} | "
                     f"{_fmt(r['step_median'], '.3f')} | {_fmt(r['step_iqr'], '.3f')} | "
                     f"{_fmt(r['step_ratio'], '.2f')} | {r['saved_bytes'] / 2**20:.0f} | "
                     f"{r['saved_ratio']:.3f} | {_fmt(r['images_per_s'], '.1f')} |")
    return '\n'.join(lines)


# ------------------------------------------------------------------------------- main
def environment(device):
    import mmengine
    info = dict(python=platform.python_version(), torch=torch.__version__,
                mmengine=mmengine.__version__, machine=platform.machine(),
                cpu_threads=torch.get_num_threads(), device=str(device),
                GATED_MM_COMPILE=os.environ.get('GATED_MM_COMPILE', 'auto'),
                malloc=' '.join(f'{k}={os.environ[k]}' for k in
                                ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_')
                                if k in os.environ) or 'system defaults')
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('kind', choices=['op', 'model', 'inference', 'all'])
    p.add_argument('--shape', type=int, nargs='+', default=[32, 256, 28, 28],
                   help='op level: tensor shape (default 32 256 28 28)')
    p.add_argument('--depth', type=int, default=50, choices=[26, 50, 101, 152])
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--size', type=int, nargs='+', default=[112],
                   help='input size: S (square) or H W (model and inference levels)')
    p.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16', 'float16'],
                   help='op level: tensor dtype; model level: autocast dtype')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--repeats', type=int, default=15)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--memory-only', action='store_true',
                   help='only the saved-tensor bytes (deterministic), no timing')
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
    if len(args.size) > 2:
        sys.exit('benchmark.py: error: --size takes S or H W')
    if args.kind != 'all':
        kinds = [args.kind]
    else:  # inference has no saved tensors to count
        kinds = ['op', 'model'] + ([] if args.memory_only else ['inference'])
    if args.memory_only and kinds == ['inference']:
        sys.exit('benchmark.py: error: inference has no saved tensors; drop --memory-only')
    for kind in kinds:
        if kind == 'op':
            rows = op_benchmark(args, device, dtype)
            table = format_op(rows, args, device, dtype)
        elif kind == 'inference':
            rows = inference_benchmark(args, device, dtype)
            table = format_inference(rows, args, device, dtype)
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
