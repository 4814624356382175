"""Print the metrics that ``tools/test.py`` wrote (``<work_dir>/test_metrics.json``) as a table.

    python tools/analysis_tools/print_metrics.py work_dirs/quickstart/test_metrics.json
"""
import argparse
import json
import sys
from pathlib import Path

ORDER = ('top1', 'many', 'medium', 'few', 'mean_class')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('metrics', type=Path, help='JSON file written by tools/test.py')
    args = parser.parse_args(argv)
    if not args.metrics.is_file():
        sys.exit(f'error: {args.metrics}: no such file; run tools/test.py with this work dir first')
    metrics = json.loads(args.metrics.read_text())

    def rank(key):
        leaf = key.rsplit('/', 1)[-1]
        return (ORDER.index(leaf) if leaf in ORDER else len(ORDER), key)

    keys = sorted(metrics, key=rank)
    width = max(len(k) for k in keys)
    print(f'{"metric":<{width}}  value')
    print(f'{"-" * width}  ------')
    for key in keys:
        value = metrics[key]
        shown = f'{value:6.2f}' if isinstance(value, (int, float)) else str(value)
        print(f'{key:<{width}}  {shown}')


if __name__ == '__main__':
    main()
