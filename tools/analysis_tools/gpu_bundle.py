#!/usr/bin/env python
"""The offline GPU check's Python pieces (docs/gpu_check.md), used by
``tools/analysis_tools/gpu_check.sh``; standard library only, so it runs in the node's bare
Python before anything is installed.

    python tools/analysis_tools/gpu_bundle.py select BUNDLE [--report FILE]
    python tools/analysis_tools/gpu_bundle.py val-top1 WORK_DIR_OR_LOG --min PERCENT
    python tools/analysis_tools/gpu_bundle.py summary RESULTS_DIR [--header LINE ...]

``select``: the wheels of ``BUNDLE/wheels`` to install into this Python, one path a line.
A wheel is left out when this Python already has that distribution at that version (it is
used as it is); otherwise it is installed, shadowing another installed version (the check puts
its target folder first on ``PYTHONPATH``). torchvision is compiled against one torch release:
of the bundle's torchvision wheels the one whose ``Requires-Dist: torch`` this Python's torch
meets is chosen (an exact ``==`` pin first), none when a torchvision is already installed; one
line and exit status 2 when the bundle has none.

``val-top1``: exit status 1 unless the last validation top-1 of a training log is at least
``--min`` (the GPU training's learning check).

``summary``: the check's table from ``RESULTS_DIR/steps.tsv`` (one row per step: name,
status, seconds, kind, log), the detail column read from each step's log or results
(pytest's closing line; the op benchmark's AGLU/SiLU and APA/Sigmoid time and saved-memory
ratios; the model benchmark's APA + AGLU / plain ratios; the training's last validation
accuracies), then the benchmark tables. Written to ``RESULTS_DIR/summary.md`` and printed.
"""
import argparse
import importlib.metadata
import json
import re
import sys
import zipfile
from pathlib import Path


# ----------------------------------------------------------------------------------- select
def wheel_name_version(path):
    """(normalised distribution name, version) from a wheel file name (PEP 427/503)."""
    parts = Path(path).name[:-len('.whl')].split('-')
    if len(parts) < 5:
        raise ValueError(f'{path}: not a wheel file name (name-version-python-abi-platform)')
    return re.sub(r'[-_.]+', '-', parts[0]).lower(), parts[1]


def installed_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def torch_requirement(wheel):
    """The torch requirement of a torchvision wheel's METADATA as (operator, version) pairs,
    e.g. ``[('==', '2.11.0')]`` for ``Requires-Dist: torch (==2.11.0)``; [] when none."""
    with zipfile.ZipFile(wheel) as z:
        meta = next((n for n in z.namelist() if n.endswith('.dist-info/METADATA')), None)
        text = z.read(meta).decode('utf-8', 'replace') if meta else ''
    m = re.search(r'^Requires-Dist: torch\s*\(?([^);\n]*)', text, re.M)
    if not m:
        return []
    return [(c.group(1), c.group(2)) for c in
            re.finditer(r'(==|>=|<=|!=|~=|<|>)\s*([0-9][0-9a-z.]*)', m.group(1))]


def _release(version):
    return tuple(int(x) for x in re.findall(r'\d+', version.split('+')[0])[:3])


def satisfies(version, clauses):
    """Whether ``version`` (release numbers only, e.g. ``2.11.0+cu130`` as 2.11.0) meets every
    (operator, version) clause; ``~=X.Y.Z`` means ``>=X.Y.Z`` and ``==X.Y.*``."""
    v = _release(version)
    for op, want in clauses:
        w = _release(want)
        ok = {'==': v == w, '!=': v != w, '>=': v >= w, '<=': v <= w, '>': v > w, '<': v < w,
              '~=': v >= w and v[:len(w) - 1] == w[:len(w) - 1]}[op]
        if not ok:
            return False
    return bool(clauses)


def describe(clauses):
    return ','.join(op + v for op, v in clauses) or '(no torch requirement)'


def select_wheels(bundle, installed=installed_version, torch_version=None):
    """(wheels to install, report lines) for the wheels of ``bundle/wheels``.

    Args:
        bundle: the bundle folder (``make_gpu_bundle.sh``'s output).
        installed: name → installed version or None (this Python's, by default).
        torch_version: this Python's torch without the local part (``2.11.0``); read from
            ``installed('torch')`` when None.

    Raises:
        FileNotFoundError: no ``wheels`` folder or no wheel in it.
        LookupError: torchvision is needed and no wheel of the bundle is for this torch.
    """
    wheels = sorted(Path(bundle, 'wheels').glob('*.whl'))
    if not wheels:
        raise FileNotFoundError(f'{Path(bundle, "wheels")}: no wheels (build the bundle with '
                                f'tools/analysis_tools/make_gpu_bundle.sh)')
    torch_version = (torch_version or installed('torch') or '').split('+')[0]
    chosen, report, vision = [], [], []
    for wheel in wheels:
        name, version = wheel_name_version(wheel)
        if name == 'torchvision':
            vision.append(wheel)
            continue
        have = installed(name)
        if have == version:
            report.append(f'use   {name} {have} (already installed)')
            continue
        chosen.append(wheel)
        report.append(f'add   {name} {version}' + (f' (over the installed {have})' if have else ''))
    if vision:
        have = installed('torchvision')
        if have:
            report.append(f'use   torchvision {have} (already installed)')
        else:
            fits = [w for w in vision if satisfies(torch_version, torch_requirement(w))]
            if not fits:
                known = '; '.join(f'torchvision {wheel_name_version(w)[1]}: torch '
                                  f'{describe(torch_requirement(w))}' for w in vision)
                raise LookupError(
                    f'{Path(bundle, "wheels")}: no torchvision wheel for torch '
                    f'{torch_version or "(none installed)"} ({known}); rebuild the bundle '
                    f'with make_gpu_bundle.sh --torch {torch_version}=<its torchvision>')
            # an exact pin first, then the newest torchvision
            best = max(fits, key=lambda w: (torch_requirement(w)[0][0] == '==',
                                            _release(wheel_name_version(w)[1])))
            chosen.append(best)
            report.append(f'add   torchvision {wheel_name_version(best)[1]} (torch '
                          f'{describe(torch_requirement(best))}; this torch is {torch_version})')
    return chosen, report


# ----------------------------------------------------------------------------------- summary
_PYTEST_END = re.compile(r'^=*\s*(\d+ (passed|failed|skipped|deselected|error).*? in [0-9.]+s)')


def pytest_detail(log):
    """pytest's closing counts, e.g. ``95 passed, 3 skipped, 300 deselected in 80.1s``."""
    hits = [m.group(1) for m in map(_PYTEST_END.match, log.splitlines()) if m]
    return hits[-1].split(' (')[0] if hits else ''


def _ratio(a, b):
    return '-' if a is None or not b else f'{a / b:.2f}x'


def op_detail(rows):
    """AGLU vs SiLU and APA vs Sigmoid: forward + backward time and saved bytes, as shipped."""
    out = []
    for op, native_name in (('AGLU', 'SiLU'), ('APA', 'Sigmoid')):
        by = {r['variant']: r for r in rows if r['op'] == op}
        if 'ours' not in by or 'native' not in by:
            continue
        ours, native = by['ours'], by['native']
        out.append(f"{op}/{native_name} time {_ratio(ours['median'], native['median'])} "
                   f"saved {_ratio(ours['saved_bytes'], native['saved_bytes'])}")
    return '; '.join(out)


def model_detail(rows):
    """APA + AGLU (as shipped) vs the plain SE-ResNet: step time, saved bytes, CUDA peak."""
    by = {r['model']: r for r in rows}
    plain, ours = rows[0], by.get('APA + AGLU (ours)')
    if ours is None:
        return ''
    text = (f"APA+AGLU/plain step {_ratio(ours['step_median'], plain['step_median'])} "
            f"saved {_ratio(ours['saved_bytes'], plain['saved_bytes'])}")
    if ours.get('cuda_peak_bytes'):
        text += f" peak {_ratio(ours['cuda_peak_bytes'], plain['cuda_peak_bytes'])}"
    return text


_VAL_METRIC = re.compile(r'(?:accuracy|shot)/(top1|many|medium|few): ([0-9.]+)')  # percent


def last_val(log):
    """{'top1': ..., 'many': ..., ...} of the last ``Epoch(val)`` line of an mmengine log
    (ShotAccuracy's ``shot/`` keys or mmpretrain Accuracy's ``accuracy/top1``); {} if none."""
    val = [ln for ln in log.splitlines() if 'Epoch(val)' in ln and 'top1' in ln]
    return {k: float(v) for k, v in _VAL_METRIC.findall(val[-1])} if val else {}


def train_detail(log):
    """The last logged training loss and the last ``Epoch(val)`` line's accuracies."""
    train = [ln for ln in log.splitlines() if 'Epoch(train)' in ln and 'loss:' in ln]
    parts = []
    if train:
        m = re.search(r'Epoch\(train\)\s*(\[\d+\]\[\s*\d+/\d+\]).*?\bloss: ([0-9.naif]+)',
                      train[-1])
        if m:
            parts.append(f'{m.group(1).replace(" ", "")} loss {m.group(2)}')
    val = last_val(log)
    if val:
        parts.append('val ' + ' '.join(f'{k} {v:.1f}' for k, v in val.items()))
    return '; '.join(parts)


def step_detail(results, name, kind, log_path):
    log = Path(log_path).read_text(errors='replace') if Path(log_path).is_file() else ''
    try:
        if kind == 'pytest':
            return pytest_detail(log)
        if kind in ('bench-op', 'bench-model'):
            rows = json.loads(Path(results, name, f'benchmark_{kind[6:]}.json').read_text())['rows']
            return (op_detail if kind == 'bench-op' else model_detail)(rows)
        if kind == 'train':
            return train_detail(log)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        pass
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return lines[-1] if lines else ''


def summary(results, header=()):
    """The summary text (and ``results/summary.md``) from ``results/steps.tsv``."""
    results = Path(results)
    rows = []
    for line in (results / 'steps.tsv').read_text().splitlines():
        if not line.strip():
            continue
        name, status, seconds, kind, log = (line.split('\t') + [''] * 5)[:5]
        detail = step_detail(results, name, kind, log) if status != 'SKIP' else log
        detail = detail.replace('|', '/')[:160]
        rows.append(f'| {name} | {status} | {seconds} | {detail} |')
    lines = list(header) + ['', '| step | status | seconds | detail |', '|---|---|---|---|']
    lines += rows
    for name in sorted(p.parent.name for p in results.glob('*/benchmark_*.md')):
        for md in sorted((results / name).glob('benchmark_*.md')):
            lines += ['', f'### {name}: {md.name}', '', md.read_text().rstrip()]
    text = '\n'.join(lines) + '\n'
    (results / 'summary.md').write_text(text)
    return text


# ----------------------------------------------------------------------------------- main
def _die(message):
    print(f'gpu_bundle.py: error: {message}', file=sys.stderr)
    sys.exit(2)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('select', help='the bundle wheels this Python lacks, one path a line')
    s.add_argument('bundle')
    s.add_argument('--report', help='also write the decisions (add/use) to this file')
    v = sub.add_parser('val-top1', help='exit 1 unless the last validation top-1 of a training '
                       'log (or of the newest */*.log under a work dir) is at least --min')
    v.add_argument('log')
    v.add_argument('--min', type=float, required=True, help='percent')
    m = sub.add_parser('summary', help='the summary table of a gpu_check.sh results folder')
    m.add_argument('results')
    m.add_argument('--header', action='append', default=[], help='a line above the table')
    args = p.parse_args(argv)
    if args.cmd == 'select':
        try:
            chosen, report = select_wheels(args.bundle)
        except (FileNotFoundError, LookupError, ValueError) as exc:
            _die(str(exc))
        if args.report:
            Path(args.report).write_text('\n'.join(report) + '\n')
        print('\n'.join(map(str, chosen)))
    elif args.cmd == 'val-top1':
        path = Path(args.log)
        if path.is_dir():
            logs = sorted(path.glob('*/*.log'), key=lambda p: p.stat().st_mtime)
            if not logs:
                _die(f'{path}: no */*.log (no training ran there)')
            path = logs[-1]
        top1 = last_val(path.read_text(errors='replace')).get('top1')
        if top1 is None or top1 < args.min:
            print(f'{path}: validation top-1 {top1} is below the check\'s floor {args.min}',
                  file=sys.stderr)
            sys.exit(1)
        print(f'validation top-1 {top1:.2f} >= {args.min:g} ({path})')
    else:
        if not Path(args.results, 'steps.tsv').is_file():
            _die(f'{args.results}/steps.tsv not found (run tools/analysis_tools/gpu_check.sh '
                 f'first)')
        print(summary(args.results, args.header), end='')


if __name__ == '__main__':
    main()
