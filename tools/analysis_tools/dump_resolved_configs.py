"""Dump every config's resolved content (``mmengine.Config.fromfile(...).to_dict()``) to one
JSON file, and compare two such dumps: the check that a refactoring of ``_base_`` files left
every config as it was.

    python tools/analysis_tools/dump_resolved_configs.py dump before.json   # all of configs/
    # ... refactor the bases ...
    python tools/analysis_tools/dump_resolved_configs.py dump after.json
    python tools/analysis_tools/dump_resolved_configs.py compare before.json after.json

``dump`` loads each ``*.py`` under the given folders or files (default ``configs/``), ``_base_``
files included (a base that does not load on its own is recorded with its error). Values are
written type-exactly: a tuple is ``{"__tuple__": [...]}`` (JSON would make it a list), and any
other non-JSON value is written as ``{"__repr__": repr(value)}``. ``compare`` prints one line per
config that differs (or is only in one dump), with the first differing keys, then
``N configs in both, M identical``; it exits 1 when any config in both dumps differs.
``--moved OLD=NEW`` compares a config that moved (a base file) under its old name.
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def canonical(value):
    """``value`` with tuples and non-JSON leaves tagged, dict keys sorted (as strings)."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, tuple):
        return {'__tuple__': [canonical(v) for v in value]}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {'__repr__': repr(value)}


def resolve(path):
    """The resolved config at ``path`` as a canonical dict, or ``{'__error__': message}``."""
    from mmengine.config import Config
    try:
        return canonical(Config.fromfile(str(path)).to_dict())
    except Exception as e:  # noqa: BLE001 - a base that cannot load alone is recorded, not fatal
        return {'__error__': f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'}


def config_files(targets):
    for target in targets:
        target = Path(target)
        if target.is_dir():
            yield from sorted(target.rglob('*.py'))
        elif target.is_file():
            yield target
        else:
            sys.exit(f'error: {target}: no such file or folder; give config files or folders')


def differences(a, b, prefix=''):
    """Dotted key paths where the canonical values ``a`` and ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            where = f'{prefix}.{key}' if prefix else key
            if key not in a or key not in b:
                out.append(where + (' (only after)' if key not in a else ' (only before)'))
            else:
                out.extend(differences(a[key], b[key], where))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in differences(x, y, f'{prefix}[{i}]')]
    return [] if a == b else [prefix or '<root>']


def dump(args):
    out = {}
    for path in config_files(args.targets or [ROOT / 'configs']):
        key = str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) \
            else str(path)
        out[key] = resolve(path)
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True) + '\n')
    errors = sum('__error__' in v for v in out.values())
    print(f'{len(out)} configs dumped to {args.out} ({errors} do not load on their own)')


def compare(args):
    before = json.loads(Path(args.before).read_text())
    after = json.loads(Path(args.after).read_text())
    for move in args.moved:
        old, sep, new = move.partition('=')
        if not sep or old not in before or new not in after:
            sys.exit(f'error: --moved {move}: give OLD=NEW, OLD a config of {args.before} and '
                     f'NEW one of {args.after}')
        after[old] = after.pop(new)
    common = sorted(set(before) & set(after))
    same = 0
    for key in common:
        diff = differences(before[key], after[key])
        if diff:
            shown = ', '.join(diff[:5]) + (f' (+{len(diff) - 5} more)' if len(diff) > 5 else '')
            print(f'DIFFERS {key}: {shown}')
        else:
            same += 1
    for key in sorted(set(before) - set(after)):
        print(f'only in {args.before}: {key}')
    for key in sorted(set(after) - set(before)):
        print(f'only in {args.after}: {key}')
    print(f'{len(common)} configs in both, {same} identical')
    return 0 if same == len(common) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('dump', help='resolve configs and write them to one JSON file')
    p.add_argument('out', help='JSON file to write')
    p.add_argument('targets', nargs='*', help='config files or folders (default: configs/)')
    p = sub.add_parser('compare', help='compare two dumps; exit 1 if a config differs')
    p.add_argument('before')
    p.add_argument('after')
    p.add_argument('--moved', nargs='*', default=[], metavar='OLD=NEW',
                   help='a config moved from OLD (path in BEFORE) to NEW (path in AFTER)')
    args = parser.parse_args(argv)
    if args.cmd == 'dump':
        dump(args)
        return 0
    return compare(args)


if __name__ == '__main__':
    sys.exit(main())
