#!/usr/bin/env python
"""Test (and evaluate) a checkpoint with a gated_mm config (mmpretrain- or mmdet-scoped).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
                         [--show-dir DIR] [--cfg-options k=v ...]
                         [--launcher {none,pytorch,slurm,mpi}] [--allow-partial-checkpoint]
                         [--fuse-conv-bn] [--fixed-ap [K]]

Metrics are logged and written to ``<work_dir>/test_metrics.json`` (work dir default
``work_dirs/<config name>``). With LVIS metrics (mmdet ``LVISMetric``: ``bbox_AP``,
``bbox_APr``, ``bbox_APc``, ``bbox_APf``, ``segm_...``) the per-group AP table is also
printed and written to ``<work_dir>/lvis_group_ap.md`` and ``.csv``, with a bar chart
``lvis_group_ap.png`` (groups: rare / common / frequent categories by training images),
and the per-category AP table ``lvis_per_category_ap.{csv,md}`` (bbox / segm AP, group,
training images and instances; sorted by group and image count), from the detections kept in
``<work_dir>/lvis_results/``. No detections at all: a warning with the remedy
(``--cfg-options model.test_cfg.rcnn.score_thr=...``). A head whose ``num_classes`` differs
from the annotation file's categories stops before testing with the fix.
``--out`` dumps the predictions to a pickle (mmdet configs: ``DumpDetResults``, masks as
RLE; others: mmengine ``DumpResults``). ``--show-dir`` turns on the config's
visualization hook and saves drawn predictions under ``<work_dir>/<timestamp>/<show_dir>``.
A checkpoint that cannot be read (empty, truncated) is refused with one line and exit status
1, and so is one that leaves model tensors unloaded or mis-shaped (e.g. of another
architecture; ``--allow-partial-checkpoint`` tests anyway). Empty or image-less JSON annotation
files and a detector backbone whose outputs do not fit its neck stop before testing with one
line naming the file or key.
Test labels outside the classification head's ``num_classes`` (or a test set with more
classes than the head) stop before testing with one line (``--cfg-options
check_class_counts=False``: off).
``--fuse-conv-bn`` folds the gated backbones' eval-mode BatchNorms into their convs after the
checkpoint is loaded (``FoldBatchNormHook``; same results up to float rounding, faster; IIEU-B
units keep theirs; the log says how many were folded).
``--fixed-ap [K]`` (LVIS): also report AP-fixed and AP-pool (Dave et al., arXiv:2102.01066;
``gated_mm/evaluation/lvis_fixed_ap.py``): the top K (default 10,000) detections per category
over the set, no per-image cap, with the r/c/f breakdown (``bbox_AP-fixed``, ``bbox_APr-fixed``,
..., ``bbox_AP-pool``, ...) in ``test_metrics.json`` and ``lvis_fixed_ap.md``. It sets the
test-time setting these need, before ``--cfg-options`` (which can override it):
``model.test_cfg.rcnn.score_thr=0.0001`` and ``max_per_img=-1`` (no per-image cap). The
standard metrics of the same run then use these detections too (lvis-api keeps 300 per image).
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
    parser.add_argument('--allow-partial-checkpoint', action='store_true',
                        help='test even if the checkpoint leaves model weights unloaded or '
                        'mis-shaped (default: refuse, exit 1)')
    parser.add_argument('--fuse-conv-bn', action='store_true',
                        help='fold the gated backbones\' BatchNorms into their convs before '
                        'testing (faster inference, same results up to rounding)')
    parser.add_argument('--fixed-ap', nargs='?', type=int, const=10000, default=None,
                        metavar='K', help='LVIS: also report AP-fixed / AP-pool with the top K '
                        '(default 10000) detections per category and no per-image cap '
                        '(sets rcnn score_thr=1e-4, max_per_img=-1 unless --cfg-options does)')
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

    try:
        import gated_mm  # noqa: F401  (compat fixes, then every registry)
    except ImportError as e:  # mmcv, a prerequisite: what is missing and the command
        _fail(str(e))
    from mmengine.config import Config

    from gated_mm.compat import setup_cpu_distributed

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.fixed_ap is not None:
        if args.fixed_ap < 1:
            _fail(f'--fixed-ap K must be >= 1 (Dave et al.: 10000), got {args.fixed_ap}')
        try:
            set_fixed_ap_test_cfg(cfg)
        except ValueError as e:
            _fail(str(e))
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
    from gated_mm.compat import require_mmcv
    from gated_mm.engine import check_checkpoint_file
    from gated_mm.evaluation import lvis_report
    from gated_mm.models.losses import check_gol_loss_cfg
    try:  # mmcv ops, damaged checkpoint, annotation files, heads vs categories, backbone vs neck,
        # GOL merged into an inherited CrossEntropyLoss
        if cfg.get('default_scope') == 'mmdet':
            require_mmcv(ops=True)
        check_checkpoint_file(args.checkpoint, 'checkpoint')
        lvis_report.check_detection_config(cfg, training=False)
        check_gol_loss_cfg(cfg.get('model'))
    except (ImportError, ValueError) as e:
        _fail(str(e))
    lvis_prefix = lvis_report.enable_lvis_result_files(cfg)

    try:
        setup_cpu_distributed(cfg, args.launcher)
    except (RuntimeError, ValueError) as e:
        _fail(str(e))

    from gated_mm.engine import ClassCountMismatchError, add_class_count_check_hook
    add_class_count_check_hook(cfg)  # labels vs head num_classes (check_class_counts=False: off)
    if args.fuse_conv_bn:  # after the checkpoint loads, before the first test batch
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [dict(type='FoldBatchNormHook')]
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    if args.show_dir:
        place_show_dir(runner, args.show_dir)
    if args.out is not None:
        add_dump_metric(runner, cfg, args.out)
    if not args.allow_partial_checkpoint:
        from gated_mm.engine import check_checkpoint_matches
        try:  # CheckpointMismatchError, CheckpointReadError (both ValueError)
            check_checkpoint_matches(runner.model, args.checkpoint, name=args.checkpoint)
        except ValueError as e:
            _fail(str(e))
    try:
        metrics = runner.test()
    except ClassCountMismatchError as e:
        _fail(str(e))
    from mmengine.dist import is_main_process
    if args.fixed_ap is not None and is_main_process():
        metrics = dict(metrics or {})
        metrics.update(write_fixed_ap(runner, cfg, lvis_prefix, args.fixed_ap))
    write_metrics(runner, metrics)
    write_lvis_groups(runner, metrics)
    if is_main_process():  # no-detection warning with the remedy; per-category AP table
        lvis_report.report_lvis_results(cfg, metrics, lvis_prefix, runner.logger)


def set_fixed_ap_test_cfg(cfg, score_thr=1e-4):
    """The test-time setting AP-fixed needs (enough detections per category): the R-CNN
    stage keeps every detection above ``score_thr`` (no per-image cap)."""
    test_cfg = (cfg.get('model') or {}).get('test_cfg') or {}
    rcnn = test_cfg.get('rcnn')
    if not isinstance(rcnn, dict):
        raise ValueError('--fixed-ap needs a two-stage detector config with '
                         'model.test_cfg.rcnn (score_thr, max_per_img)')
    rcnn['score_thr'] = score_thr
    rcnn['max_per_img'] = -1


def write_fixed_ap(runner, cfg, prefix, dets_per_cat):
    """AP-fixed and AP-pool of the kept LVIS detections (``<work_dir>/lvis_results``) into
    the metrics and ``<work_dir>/lvis_fixed_ap.md``; {} without LVIS detections."""
    from gated_mm.evaluation import lvis_report
    from gated_mm.evaluation.lvis_fixed_ap import fixed_and_pooled_ap
    evs = lvis_report.lvis_evaluators(cfg) if prefix else []
    if not evs:
        runner.logger.warning('--fixed-ap: no LVIS evaluator in the config, nothing reported')
        return {}
    tasks = evs[0].get('metric', 'bbox')
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    files = {t: f'{prefix}.{t}.json' for t in tasks if t in ('bbox', 'segm')
             and osp.isfile(f'{prefix}.{t}.json')}
    out = fixed_and_pooled_ap(evs[0]['ann_file'], files, dets_per_cat)
    if not out:
        return {}
    cols = ('AP', 'APr', 'APc', 'APf')
    lines = [f'| task | metric | ' + ' | '.join(cols) + ' |', '|---|---|' + '---|' * len(cols)]
    for t in files:
        for kind in ('fixed', 'pool'):
            if f'{t}_AP-{kind}' in out:
                cells = [f"{out[f'{t}_{c}-{kind}']:.3f}" for c in cols]
                lines.append(f'| {t} | AP-{kind} | ' + ' | '.join(cells) + ' |')
        short = out.get(f'{t}_fixed_short_categories', 0)
        if short:
            runner.logger.warning(f'--fixed-ap: {short} {t} categories had fewer than '
                                  f'{dets_per_cat} detections (lower model.test_cfg.rcnn.'
                                  f'score_thr for more)')
    table = '\n'.join(lines)
    path = osp.join(runner.work_dir, 'lvis_fixed_ap.md')
    with open(path, 'w') as f:
        f.write(f'AP-fixed / AP-pool, top {dets_per_cat} detections per category, no per-image '
                f'cap (Dave et al., arXiv:2102.01066)\n\n{table}\n')
    print(table)
    runner.logger.info(f'AP-fixed / AP-pool written to {path}')
    return out


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


LVIS_GROUPS = (('AP', 'all'), ('APr', 'rare'), ('APc', 'common'), ('APf', 'frequent'))


def lvis_group_rows(metrics):
    """Rows (task, prefix, {column: AP or None}) from LVISMetric keys such as
    ``lvis/segm_APr``; [] when there is no LVIS group metric. An AP of -1 (lvis-api: no
    category of the group has ground truth) becomes None."""
    import re
    pattern = re.compile(r'^(?:(?P<prefix>.*)/)?(?P<task>bbox|segm)_(?P<col>AP[rcf]?)$')
    found = {}
    for key, value in (metrics or {}).items():
        m = pattern.match(key)
        if m:
            found.setdefault((m['prefix'] or '', m['task']), {})[m['col']] = float(value)
    rows = []
    for (prefix, task), cols in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if not {'APr', 'APc', 'APf'} & set(cols):
            continue
        rows.append((task, prefix, {c: (None if cols.get(c, -1.0) < 0 else cols[c])
                                    for c, _ in LVIS_GROUPS}))
    return rows


def format_lvis_groups(rows):
    """Markdown table of :func:`lvis_group_rows`."""
    head = '| task | ' + ' | '.join(c for c, _ in LVIS_GROUPS) + ' |'
    lines = [head, '|' + '---|' * (len(LVIS_GROUPS) + 1)]
    for task, prefix, cols in rows:
        name = f'{prefix}/{task}' if prefix else task
        cells = ['n/a' if cols[c] is None else f'{cols[c]:.3f}' for c, _ in LVIS_GROUPS]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot_lvis_groups(rows, path):
    """Grouped bar chart (all / rare / common / frequent, one bar per task) to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / max(len(rows), 1)
    for i, (task, prefix, cols) in enumerate(rows):
        xs = [j + (i - (len(rows) - 1) / 2) * width for j in range(len(LVIS_GROUPS))]
        ys = [0.0 if cols[c] is None else cols[c] for c, _ in LVIS_GROUPS]
        bars = ax.bar(xs, ys, width, label=f'{prefix}/{task}' if prefix else task)
        for bar, (c, _) in zip(bars, LVIS_GROUPS):
            ax.annotate('n/a' if cols[c] is None else f'{cols[c]:.3f}',
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha='center', va='bottom', fontsize=7)
    ax.set_xticks(range(len(LVIS_GROUPS)))
    ax.set_xticklabels([f'{c}\n({name})' for c, name in LVIS_GROUPS])
    ax.set_ylabel('AP (IoU 0.50:0.95)')
    ax.set_title('LVIS AP by category frequency group')
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_lvis_groups(runner, metrics):
    """Print the LVIS per-group AP table and write it (``.md``, ``.csv``) and its bar chart
    (``.png``) to the work dir (rank 0; nothing without LVIS group metrics)."""
    from mmengine.dist import is_main_process
    rows = lvis_group_rows(metrics)
    if not rows or not is_main_process():
        return
    table = format_lvis_groups(rows)
    base = osp.join(runner.work_dir, 'lvis_group_ap')
    with open(base + '.md', 'w') as f:
        f.write(table + '\n')
    with open(base + '.csv', 'w') as f:
        f.write('task,' + ','.join(c for c, _ in LVIS_GROUPS) + '\n')
        for task, prefix, cols in rows:
            name = f'{prefix}/{task}' if prefix else task
            f.write(name + ',' + ','.join('' if cols[c] is None else f'{cols[c]:.4f}'
                                          for c, _ in LVIS_GROUPS) + '\n')
    print('LVIS AP by frequency group (rare / common / frequent by training images):')
    print(table)
    try:
        plot_lvis_groups(rows, base + '.png')
    except ImportError as e:  # matplotlib is optional
        runner.logger.warning(f'no bar chart: {e}')
    runner.logger.info(f'LVIS group AP table written to {base}.md / .csv / .png')


if __name__ == '__main__':
    main()
