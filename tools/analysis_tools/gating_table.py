#!/usr/bin/env python
"""The ``Gated`` compatibility table: every model of ``gated_mm.models.gating.zoo``, converted.

    python tools/analysis_tools/gating_table.py [--small] [--only NAME ...] [--out FILE]

For each model (built through its library's registry, at its published size unless
``--small``; probed at 64 px or on the head's feature shapes) the table gives what ``Gated``
found and did with "AGLU everywhere, APA gates, an APA-SE after each stage / block":

* activation call sites: module calls + functional calls (``F.relu``, ...), each now an AGLU
  unit with its own κ, λ;
* SE gates → APA: the Sigmoid / HSigmoid calls inside the model's squeeze-excite layers;
* attention insert points: the modules after which a ``GatedSE`` (APA style) was inserted;
* checkpoint: whether the unconverted model's state dict loads with no unexpected key and
  exactly the new keys (units, inserted blocks) missing;
* fails: what did not convert, with the ``Gated`` error (or the exception) that says why.

Prints the Markdown table; ``--out`` also writes it to a file (the README's table is this
output).
"""
import argparse
import importlib
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

SE = dict(type='GatedSE', style='apa')
HEADER = ('| model | activation call sites → AGLU units | SE gates → APA | attention insert '
          'points (APA-SE) | original checkpoint | fails, and why |\n'
          '|---|---|---|---|---|---|')


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = f'{type(exc).__name__}: {str(exc).splitlines()[0]}' if str(exc) else \
        type(exc).__name__
    return text if len(text) <= limit else text[:limit - 1] + '…'


def convert_row(name: str, small: bool = False) -> dict:
    """Convert zoo model ``name``; the table row's fields (see the module docstring)."""
    import torch

    from gated_mm.models.gating import CallSites
    from gated_mm.models.gating.zoo import ZOO, gated_cfg
    e = ZOO[name]
    full = not small and e.get('full') is not None
    scope = e['scope']  # _scope_: build there, whatever default scope the caller left
    registry = importlib.import_module(f'{scope}.registry').MODELS
    row = dict(model=name + ('' if full else ' (small)'), fails=[])
    t = time.perf_counter()
    try:
        torch.manual_seed(0)
        model = registry.build(dict(gated_cfg(name, insert_cfg=SE, full=full), _scope_=scope))
    except Exception as exc:  # noqa: BLE001 - the table reports every failure
        row.update(sites='—', gates='—', inserts='—', ckpt='—')
        row['fails'].append(_one_line(exc))
        return row
    report = model.gating
    gate_classes = set((e.get('gate') or {}).get('replace', ()))
    n_mod = n_fn = n_gate = 0
    for path, m in model.named_modules():
        if isinstance(m, CallSites):
            if m.original in gate_classes:
                n_gate += len(m.units)
            elif path.rsplit('.', 1)[-1].startswith('gated_'):
                n_fn += len(m.units)
            else:
                n_mod += len(m.units)
    fn_names = sorted({k.split(':')[1] for k in report['functional']})
    row['sites'] = f'{n_mod + n_fn}' + (
        f' ({n_mod} module, {n_fn} functional {"/".join(fn_names)})' if n_fn else '')
    row['gates'] = str(n_gate) if gate_classes else '— (no SE)'
    row['inserts'] = (f"{len(report['inserts'])} (`{'`, `'.join(e['insert'])}`)"
                      if report['inserts'] else '0')
    if e.get('insert_error'):
        try:
            registry.build(dict(gated_cfg(name, insert_cfg=SE, full=full, force_insert=True),
                                    _scope_=scope))
            row['fails'].append('insert unexpectedly worked')
        except ValueError as exc:
            row['fails'].append(f'insert: {_one_line(exc)}')
    torch.manual_seed(1)
    ref = registry.build(dict(gated_cfg(name, full=full)['model'], _scope_=scope)).state_dict()
    result = model.load_state_dict(ref, strict=False)
    ok = not result.unexpected_keys and sorted(result.missing_keys) == report['new_keys']
    row['ckpt'] = (f"loads; missing: only the {len(report['new_keys'])} new keys" if ok else
                   f'NO: unexpected {result.unexpected_keys[:3]}, missing '
                   f'{sorted(set(result.missing_keys) - set(report["new_keys"]))[:3]}')
    if e.get('note'):
        row['fails'].append(e['note'])
    if report['unused']:
        row['fails'].append(f"{len(report['unused'])} activation modules never called "
                            '(left as they are)')
    row['seconds'] = time.perf_counter() - t
    return row


def format_table(rows) -> str:
    lines = [HEADER]
    for r in rows:
        lines.append(f"| {r['model']} | {r['sites']} | {r['gates']} | {r['inserts']} | "
                     f"{r['ckpt']} | {'; '.join(r['fails']) or '—'} |")
    return '\n'.join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--small', action='store_true', help='the zoo\'s small configs')
    p.add_argument('--only', nargs='+', help='zoo names (default: all)')
    p.add_argument('--out', help='also write the table to this file')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import gated_mm  # noqa: F401  (registers Gated)
    from gated_mm.models.gating.zoo import ZOO
    names = args.only or list(ZOO)
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        sys.exit(f'gating_table.py: --only {unknown} not in the zoo; candidates: {list(ZOO)}')
    table = format_table([convert_row(n, args.small) for n in names])
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')


if __name__ == '__main__':
    main()
