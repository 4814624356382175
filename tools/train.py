#!/usr/bin/env python
"""Train a model from a gated_mm config (mmpretrain- or mmdet-scoped) with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

``--work-dir`` defaults to ``work_dirs/<config name>`` (or the config's ``work_dir``);
``--resume`` alone resumes from the latest checkpoint in the work dir, ``--resume CKPT``
from that file. ``--amp`` switches ``optim_wrapper`` to ``AmpOptimWrapper``: dynamic fp16
loss scaling on GPU, bfloat16 autocast on CPU (fp16 autocast does not exist on CPU).
APA / AGLU κ and λ are kept out of weight decay for every config whose ``optim_wrapper``
names no ``constructor`` (``GatedOptimWrapperConstructor``; ``paramwise_cfg.gate_decay=True``
or ``constructor='DefaultOptimWrapperConstructor'`` keeps the upstream behaviour).
A NaN/Inf training loss stops the run with one line naming the iteration and the first
non-finite parameter or module output (``--cfg-options check_finite_loss=False``: off).
A GOL loss merged into an inherited loss dict (no ``_delete_=True``) stops with one line
naming the inherited keys.
Before the first iteration, the datasets' labels and class count are checked against the
classification head's ``num_classes`` (one line with the fix and exit status 1;
``--cfg-options check_class_counts=False``: off). Before the runner is built: the JSON annotation
files (empty, not JSON, no images), a detector's heads against their categories and its backbone
against its neck, and the checkpoint of ``--resume`` / ``load_from`` (empty, truncated) are
checked, each failing with one line naming the file or key and the fix.
Exact resume: checkpoints keep the Python / NumPy / torch (CPU, CUDA) random states and the
training loader's workers are seeded per epoch from (seed, epoch, rank, worker id), so a run
killed after epoch e and resumed reproduces the uninterrupted one bit for bit on CPU, random
augmentation and dropout included (``RNGStateHook``; ``--cfg-options exact_resume=False``: off;
limits in docs/reproducibility.md).
Distributed: ``bash tools/dist_train.sh CONFIG N`` (torchrun; gloo on CPU-only machines)
or ``tools/slurm_train.sh``.
"""
import argparse
import os
import os.path as osp
import sys

# this clone's gated_mm first, like OpenMMLab's tools (PYTHONPATH=tools/..)
_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Train a gated_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT if given, else from the latest '
                        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (fp16 on GPU, bf16 on CPU)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (xxx.yyy=zzz; '
                        'lists as key="[a,b]")')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _fail(msg):
    sys.exit(f'train.py: error: {msg}')


def enable_amp(cfg):
    """Set ``cfg.optim_wrapper`` to ``AmpOptimWrapper`` (fp16 on GPU, bf16 on CPU)."""
    from mmengine.logging import print_log

    from gated_mm.compat import accelerator_available
    optim = cfg.get('optim_wrapper')
    if optim is None:
        _fail('--amp: the config has no optim_wrapper')
    wrapper_type = optim.get('type', 'OptimWrapper')
    if wrapper_type not in ('OptimWrapper', 'AmpOptimWrapper'):
        _fail(f'--amp needs optim_wrapper.type OptimWrapper, got {wrapper_type}')
    optim.type = 'AmpOptimWrapper'
    if accelerator_available():
        if wrapper_type == 'OptimWrapper':
            optim.setdefault('loss_scale', 'dynamic')
    else:
        dtype = optim.get('dtype')
        if dtype not in (None, 'bfloat16'):
            _fail(f'--amp on CPU runs bfloat16 only, the config sets '
                  f'optim_wrapper.dtype={dtype!r}')
        optim.dtype = 'bfloat16'
        print_log('--amp on CPU: bfloat16 autocast (fp16 needs a GPU)', logger='current')


def build_runner(cfg):
    """``Runner.from_cfg`` (config's ``default_scope``), or ``RUNNERS`` for ``runner_type``."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        _fail(f'config file not found: {args.config}')
    if (args.resume not in (None, 'auto') and '://' not in args.resume
            and not osp.isfile(args.resume)):
        _fail(f'checkpoint to resume from not found: {args.resume}')

    try:
        import gated_mm  # noqa: F401  (compat fixes, then every registry)
    except ImportError as e:  # mmcv, a prerequisite: what is missing and the command
        _fail(str(e))
    from mmengine.config import Config

    from gated_mm.compat import setup_cpu_distributed

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # work_dir priority: CLI > config > work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        enable_amp(cfg)

    # resume priority: --resume CKPT > --resume (latest in work_dir)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    from gated_mm.compat import require_mmcv
    from gated_mm.engine import check_checkpoint_file
    from gated_mm.evaluation.lvis_report import check_detection_config
    from gated_mm.models.losses import check_gol_loss_cfg
    try:  # annotation files vs heads, missing ImageNet backbone, damaged checkpoint, mmcv ops,
        # GOL merged into an inherited CrossEntropyLoss
        if cfg.get('default_scope') == 'mmdet':
            require_mmcv(ops=True)
        check_detection_config(cfg, training=True)
        check_gol_loss_cfg(cfg.get('model'))
        if args.resume == 'auto':
            from mmengine.runner import find_latest_checkpoint
            latest = find_latest_checkpoint(cfg.work_dir)
            if latest:
                check_checkpoint_file(latest, f'--resume (latest in {cfg.work_dir})')
        elif cfg.get('load_from'):
            check_checkpoint_file(cfg.load_from, '--resume' if args.resume else 'load_from')
        setup_cpu_distributed(cfg, args.launcher)
    except (ImportError, RuntimeError, ValueError) as e:
        _fail(str(e))

    from gated_mm.engine import (ClassCountMismatchError, NonFiniteLossError,
                                 add_class_count_check_hook, add_finite_loss_hook,
                                 add_rng_state_hook, use_gated_optim_constructor)
    use_gated_optim_constructor(cfg)  # κ, λ without weight decay unless the config says otherwise
    add_finite_loss_hook(cfg)  # a NaN/Inf loss stops the run (check_finite_loss=False: off)
    add_class_count_check_hook(cfg)  # labels vs head num_classes (check_class_counts=False: off)
    add_rng_state_hook(cfg)  # exact resume: random states, worker seeds (exact_resume=False: off)
    runner = build_runner(cfg)
    try:
        runner.train()
    except (NonFiniteLossError, ClassCountMismatchError) as e:
        _fail(str(e))


if __name__ == '__main__':
    main()
