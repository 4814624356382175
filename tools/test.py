#!/usr/bin/env python
"""Test (and evaluate) a checkpoint with a gated_mm config (mmpretrain- or mmdet-scoped).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
                         [--show-dir DIR] [--cfg-options k=v ...]
                         [--launcher {none,pytorch,slurm,mpi}]

Metrics are logged and written to ``<work_dir>/test_metrics.json`` (work dir default
``work_dirs/<config name>``).
``--out`` dumps the predictions to a pickle (mmdet configs: ``DumpDetResults``, masks as
RLE; others: mmengine ``DumpResults``). ``--show-dir`` turns on the config's
visualization hook and saves drawn predictions under ``<work_dir>/<timestamp>/<show_dir>``.
Distributed: ``bash tools/dist_test.sh CONFIG CHECKPOINT N`` or ``tools/slurm_test.sh``.
"""
import argparse
import os
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Test (and evaluate) a gated_mm model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--out', help='dump predictions to this pickle file (.pkl)')
    parser.add_argument('--show-dir', help='save drawn predictions to this dir '
                        '(relative to <work_dir>/<timestamp>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (xxx.yyy=zzz; '
                        'lists as key="[a,b]")')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _fail(msg):
    sys.exit(f'test.py: error: {msg}')


def enable_visualization(cfg, show_dir):
    """Turn on the config's visualization hook, saving images to ``show_dir``."""
    hooks = cfg.get('default_hooks') or {}
    vis = hooks.get('visualization')
    if vis is None:
        _fail('--show-dir needs default_hooks.visualization in the config, e.g. '
              "visualization=dict(type='VisualizationHook')")
    if 'Det' in str(vis.get('type', '')) or cfg.get('default_scope') == 'mmdet':
        vis['draw'] = True                 # mmdet.DetVisualizationHook
        vis['test_out_dir'] = show_dir
    else:
        vis['enable'] = True               # mmpretrain.VisualizationHook
        vis['out_dir'] = show_dir
        vis['interval'] = 1


def place_show_dir(runner, show_dir):
    """mmpretrain's VisualizationHook writes ``out_dir`` as given (relative to the current
    dir); put it under ``<work_dir>/<timestamp>/`` like mmdet's hook does."""
    for hook in runner.hooks:
        if type(hook).__name__ == 'VisualizationHook' and hasattr(hook, 'out_dir'):
            hook.out_dir = osp.join(runner.work_dir, runner.timestamp, show_dir)


def add_dump_metric(runner, cfg, out):
    if cfg.get('default_scope') == 'mmdet':
        from mmdet.evaluation import DumpDetResults as Dump
    else:
        from mmengine.evaluator import DumpResults as Dump
    runner.test_evaluator.metrics.append(Dump(out_file_path=out))


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        _fail(f'config file not found: {args.config}')
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        _fail(f'checkpoint not found: {args.checkpoint}')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        _fail(f'--out must be a .pkl/.pickle file, got {args.out}')

    import gated_mm  # noqa: F401  (compat fixes, then every registry)
    from mmengine.config import Config

    from gated_mm.compat import setup_cpu_distributed

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    for key in ('test_dataloader', 'test_evaluator', 'test_cfg'):
        if cfg.get(key) is None:
            _fail(f'the config has no {key}: cannot test')
    if args.show_dir:
        enable_visualization(cfg, args.show_dir)

    try:
        setup_cpu_distributed(cfg, args.launcher)
    except (RuntimeError, ValueError) as e:
        _fail(str(e))

    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    if args.show_dir:
        place_show_dir(runner, args.show_dir)
    if args.out is not None:
        add_dump_metric(runner, cfg, args.out)
    metrics = runner.test()
    write_metrics(runner, metrics)


def write_metrics(runner, metrics):
    """Write the metrics to ``<work_dir>/test_metrics.json`` (rank 0), for scripts and
    ``tools/analysis_tools/print_metrics.py``."""
    import json

    from mmengine.dist import is_main_process
    if not is_main_process():
        return
    path = osp.join(runner.work_dir, 'test_metrics.json')
    plain = {k: (v.item() if hasattr(v, 'item') else v) for k, v in (metrics or {}).items()}
    with open(path, 'w') as f:
        json.dump(plain, f, indent=2, default=str)
    runner.logger.info(f'metrics written to {path}')


if __name__ == '__main__':
    main()
