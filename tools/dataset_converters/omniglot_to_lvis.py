#!/usr/bin/env python
"""Build Omniglot-LVIS, a long-tailed detection benchmark in LVIS v1 format (see
``gated_mm/datasets/lvis_synthetic.py`` and ``docs/detection_benchmark.md``).

    python tools/dataset_converters/omniglot_to_lvis.py data/omniglot-lvis
        [--omniglot-root $GATED_MM_DATA/omniglot-small] [--seed 0] [--num-classes 24]
        [--n-max 300] [--imbalance 60] [--val-per-class 12] [--rare-max 10]
        [--common-max 60]

Writes ``OUT/{train,val}/*.png`` and ``OUT/annotations/lvis_v1_{train,val}.json`` and prints
the class table (id, name, group, training images / instances, val instances). The same
arguments give byte-identical files.
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
import time

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _module(name):
    """gated_mm/datasets/<name>.py of this clone loaded without importing OpenMMLab."""
    pkg = 'gated_mm_datasets_light'
    if pkg not in sys.modules:
        import types
        m = types.ModuleType(pkg)
        m.__path__ = [osp.join(_REPO, 'gated_mm', 'datasets')]
        sys.modules[pkg] = m
    spec = importlib.util.spec_from_file_location(
        f'{pkg}.{name}', osp.join(_REPO, 'gated_mm', 'datasets', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    default_root = osp.join(os.environ.get('GATED_MM_DATA',
                                           osp.join(_REPO, '..', 'shared', 'data')),
                            'omniglot-small')
    p = argparse.ArgumentParser(description='Omniglot characters -> LVIS v1 detection set')
    p.add_argument('out_dir')
    p.add_argument('--omniglot-root', default=default_root,
                   help='folder with images_background_small{1,2}.zip')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-classes', type=int, default=24)
    p.add_argument('--n-max', type=int, default=300, help='training instances of the head class')
    p.add_argument('--imbalance', type=float, default=60.0, help='n_max / n_min')
    p.add_argument('--val-per-class', type=int, default=12)
    p.add_argument('--num-train-drawers', type=int, default=14,
                   help='drawers (of 20) whose drawings make the training canvases')
    p.add_argument('--canvas-size', type=int, default=128)
    p.add_argument('--min-size', type=int, default=28)
    p.add_argument('--max-size', type=int, default=56)
    p.add_argument('--min-objects', type=int, default=2)
    p.add_argument('--max-objects', type=int, default=4)
    p.add_argument('--rare-max', type=int, default=10)
    p.add_argument('--common-max', type=int, default=60)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    synth = _module('lvis_synthetic')
    t0 = time.time()
    try:
        out = synth.build_omniglot_lvis(
            args.omniglot_root, args.out_dir, num_classes=args.num_classes, n_max=args.n_max,
            imbalance=args.imbalance, val_per_class=args.val_per_class,
            num_train_drawers=args.num_train_drawers,
            objects_per_image=(args.min_objects, args.max_objects),
            canvas_size=args.canvas_size, size_range=(args.min_size, args.max_size),
            rare_max=args.rare_max, common_max=args.common_max, seed=args.seed)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'omniglot_to_lvis.py: error: {e}')
    tr, va = out['train'], out['val']
    print(synth.class_table(tr, va))
    info = tr['info']
    print(f"train: {len(tr['images'])} images, {len(tr['annotations'])} instances; val: "
          f"{len(va['images'])} images, {len(va['annotations'])} instances; groups "
          f"{info['groups']} ({info['frequency_thresholds']}); {time.time() - t0:.1f} s -> "
          f"{args.out_dir}")


if __name__ == '__main__':
    main()
