#!/usr/bin/env python
"""Time and peak memory of every stage of the LVIS evaluation that ``tools/test.py`` runs
after inference, on a set made by ``simulate_lvis_val.py``, as ``--world-size`` ranks would.

    python tools/analysis_tools/benchmark_lvis_eval_path.py SIM_DIR
        --metric {LVISMetric,FasterLVISMetric,StreamedLVISMetric} [--backend lvis-api]
        [--num-images N] [--world-size 2] [--num-chunks 8] [--json OUT.json]

Each rank is its own process; the images are dealt to ranks as mmengine's
``DefaultSampler`` does without shuffling (rank r: images r, r + world_size, ...). Rank
r >= 1 only takes its part (what ``process`` holds after inference) and hands it over with
mmengine's ``collect_results_cpu`` (pickle into the shared directory); rank 0 does the same
and then the metric's ``compute_metrics`` on what ``collect_results_cpu`` returns. mmengine's
``collect_results_cpu`` and the metrics run unchanged; only ``get_dist_info`` and
``barrier`` are replaced by the simulated rank (no process group).

Stages (seconds summed over calls, peak RSS of the process during the stage, from
``VmHWM`` reset by ``/proc/self/clear_refs``; "in" = RSS when the stage starts):

* ``process``: taking the rank's results (``LVISMetric``: holding mmdet's per-image dicts;
  ``StreamedLVISMetric``: ``process``, which caps and spills them to disk);
* ``load gt``: the metric's construction (reads the annotation file);
* ``collect``: ``collect_results_cpu``;
* ``per-category report``: what ``tools/test.py`` does after ``runner.test()``
  (``gated_mm.evaluation.lvis_report.report_lvis_results``: the per-category AP table);
* ``results2json`` (encoding the JSON dicts) with ``dump`` inside it, ``load results``
  (``LVISResults`` / ``loadRes``), ``evaluate`` (match, accumulate, summarize) per iou type;
  for ``StreamedLVISMetric``: ``read spill`` (building the dicts of a chunk), ``dump``,
  ``evaluate`` per iou type.

``--num-images N`` uses the first N images (the generator makes them identical to a run
with ``--num-images N``; the ground truth is cut to them). Prints one JSON line: the stages
of every rank, the metric's results and ``results_full`` (unrounded backend results).
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


def _status_mib(field):
    with open('/proc/self/status') as f:
        return int(re.search(rf'{field}:\s+(\d+)', f.read()).group(1)) / 1024


class Stages:
    """Wall time and peak RSS per named stage (nested stages fold into the open ones)."""

    def __init__(self):
        self.open, self.rows = [], {}

    def _fold(self):
        hwm = _status_mib('VmHWM')
        for item in self.open:
            item[2] = max(item[2], hwm)

    @contextmanager
    def __call__(self, name):
        self._fold()
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        rss = _status_mib('VmRSS')
        item = [name, time.perf_counter(), rss]
        self.open.append(item)
        try:
            yield
        finally:
            self._fold()
            self.open.remove(item)
            row = self.rows.setdefault(name, dict(seconds=0.0, peak_mib=0.0, in_mib=rss,
                                                  calls=0))
            row['seconds'] += time.perf_counter() - item[1]
            row['peak_mib'] = max(row['peak_mib'], item[2])
            row['calls'] += 1


STAGES = Stages()


FULL = {}  # unrounded backend results per iou type


def wrap(owner, attr, name_fn, record=None):
    """Run ``owner.attr`` inside the stage ``name_fn(*args, **kwargs)``; ``record(out)``
    gives the unrounded results to keep."""
    original = getattr(owner, attr)

    def wrapped(*args, **kwargs):
        name = name_fn(*args, **kwargs)
        if CURRENT.get('report'):  # the backend calls of the per-category report
            name = f'(report) {name}'
        with STAGES(name):
            out = original(*args, **kwargs)
        if record is not None and not CURRENT.get('report'):
            FULL[CURRENT['type']] = {k: float(v) for k, v in record(out).items()}
        return out

    setattr(owner, attr, wrapped)


CURRENT = {'type': ''}


def _typed(name):
    return lambda *a, **k: f"{name} {CURRENT['type']}".strip()


def instrument(metric_type):
    """Stage wrappers around the library calls of ``compute_metrics``."""
    import mmdet.evaluation.metrics.coco_metric as coco_metric
    import mmdet.evaluation.metrics.lvis_metric as lvis_metric
    from mmdet.evaluation.metrics import CocoMetric

    def dump_name(obj, path, *a, **k):
        CURRENT['type'] = 'segm' if str(path).endswith('.segm.json') else 'bbox'
        return f"dump {CURRENT['type']}"

    wrap(coco_metric, 'dump', dump_name)
    wrap(CocoMetric, 'results2json', lambda *a, **k: 'results2json (bbox + segm)')
    if metric_type == 'LVISMetric':
        import lvis

        def res_name(gt, path, *a, **k):
            CURRENT['type'] = 'segm' if str(path).endswith('.segm.json') else 'bbox'
            return f"load results {CURRENT['type']}"

        wrap(lvis_metric, 'LVISResults', res_name)
        for m in ('evaluate', 'accumulate', 'summarize'):
            wrap(lvis.LVISEval, m, _typed('evaluate'))
        wrap(lvis.LVISEval, 'get_results', _typed('evaluate'), record=lambda r: r)
    elif metric_type == 'FasterLVISMetric':
        from faster_coco_eval import COCO, COCOeval_faster

        import gated_mm.evaluation.faster_lvis as faster_lvis

        def fe_name(gt, results, iou_type, *a, **k):
            CURRENT['type'] = iou_type
            return f'load results + evaluate {iou_type}'

        wrap(faster_lvis, 'faster_lvis_evaluate', fe_name, record=lambda r: r[0])
        wrap(COCO, 'load_json', _typed('json load'))
        wrap(COCO, 'loadRes', _typed('load results'))
        for m in ('evaluate', 'accumulate', 'summarize'):
            wrap(COCOeval_faster, m, _typed('evaluate'))
    else:
        import gated_mm.evaluation.lvis_streaming as ls

        def ec_name(gt, chunk_dets, iou_type, *a, **k):
            CURRENT['type'] = iou_type
            return f'read spill + dump + evaluate {iou_type}'

        wrap(ls, 'evaluate_chunked', ec_name, record=lambda r: r[0])
        wrap(ls, 'read_chunk', _typed('read spill'))
        wrap(ls._JSONListWriter, 'extend', _typed('dump'))
        wrap(ls, '_evaluate_chunk', _typed('evaluate'))
        wrap(ls, '_summarize', _typed('evaluate'))


def simulate_dist(rank, world_size):
    """Make mmengine's collectives see ``rank`` of ``world_size`` (no process group)."""
    import mmengine.dist.dist as dist
    dist.get_dist_info = lambda *a, **k: (rank, world_size)
    dist.barrier = lambda *a, **k: None


def cut_gt(sim_dir, num_images, work_dir):
    """The annotation file restricted to the first ``num_images`` images."""
    path = osp.join(sim_dir, 'lvis_v1_val_sim.json')
    if num_images is None:
        return path
    with open(path) as f:
        gt = json.load(f)
    if num_images > len(gt['images']):
        raise SystemExit(f'{path} has {len(gt["images"])} images, fewer than --num-images '
                         f'{num_images}')
    keep = {im['id'] for im in gt['images'][:num_images]}
    gt['images'] = gt['images'][:num_images]
    gt['annotations'] = [a for a in gt['annotations'] if a['image_id'] in keep]
    out = osp.join(work_dir, f'gt_{num_images}.json')
    with open(out, 'w') as f:
        json.dump(gt, f)
    return out


def build_metric(args, gt_path, work_dir):
    import gated_mm  # noqa: F401  (registers the metrics, lvis-api NumPy compat)
    from mmdet.registry import METRICS
    cfg = dict(type=args.metric, ann_file=gt_path, metric=['bbox', 'segm'],
               outfile_prefix=osp.join(work_dir, 'results'))
    if args.metric == 'StreamedLVISMetric':
        cfg.update(backend=args.backend, num_chunks=args.num_chunks,
                   spill_dir=osp.join(work_dir, 'spill'))
    return METRICS.build(cfg)


def run_rank(args, rank, gt_path, work_dir, size):
    """One rank's stages (rank 0 also evaluates); returns its report dict."""
    import logging

    from simulate_lvis_val import iter_predictions
    logging.disable(logging.WARNING)
    simulate_dist(rank, args.world_size)
    from mmengine.dist import collect_results_cpu
    instrument(args.metric)
    with STAGES('load gt'):
        metric = build_metric(args, gt_path, work_dir)
    preds = osp.join(args.sim_dir, 'predictions.pkl')
    with STAGES('process'):
        for i, (gt, result) in enumerate(iter_predictions(preds, size)):
            if i % args.world_size != rank:
                continue
            if args.metric == 'StreamedLVISMetric':
                from gated_mm.evaluation.lvis_streaming import ResultSpill
                if metric._spill is None:
                    metric._spill = ResultSpill(metric.spill_dir, rank, metric.cat_ids,
                                                metric.num_chunks)
                metric.results.append(metric._spill.add(result))
            else:
                metric.results.append((gt, result))
    if args.metric == 'StreamedLVISMetric' and metric._spill is not None:
        metric._spill.close()
    out = dict(rank=rank, images=len(metric.results))
    with STAGES('collect'):
        results = collect_results_cpu(metric.results, size, osp.join(work_dir, 'collect'))
    if rank == 0:
        with STAGES('compute_metrics'):
            out['results'] = metric.compute_metrics(results)
        out['results_full'] = FULL
        from mmengine.config import Config

        from gated_mm.evaluation.lvis_report import report_lvis_results
        cfg = Config(dict(work_dir=work_dir, test_evaluator=dict(
            type=args.metric, ann_file=gt_path, metric=['bbox', 'segm'])))
        CURRENT['report'] = True
        with STAGES('per-category report'):
            metrics = {f'lvis/{k}': v for k, v in out['results'].items()}
            report_lvis_results(cfg, metrics, osp.join(work_dir, 'results'))
    import resource
    out['stages'] = STAGES.rows
    out['peak_rss_mib'] = max([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
                              + [v['peak_mib'] for v in STAGES.rows.values()])
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('sim_dir')
    p.add_argument('--metric', default='FasterLVISMetric',
                   choices=['LVISMetric', 'FasterLVISMetric', 'StreamedLVISMetric'])
    p.add_argument('--backend', default='faster-coco-eval',
                   choices=['lvis-api', 'faster-coco-eval'],
                   help='StreamedLVISMetric only')
    p.add_argument('--num-images', type=int, default=None)
    p.add_argument('--world-size', type=int, default=2)
    p.add_argument('--num-chunks', type=int, default=8)
    p.add_argument('--work-dir', default=None)
    p.add_argument('--json', default=None, help='also write the report here')
    p.add_argument('--rank', type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument('--gt', default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.rank is not None:
        size = int(os.environ['LVIS_BENCH_SIZE'])
        print(json.dumps(run_rank(args, args.rank, args.gt, args.work_dir, size)))
        return 0
    with open(osp.join(args.sim_dir, 'summary.json')) as f:
        total = json.load(f)['images']
    size = args.num_images or total
    work = args.work_dir or tempfile.mkdtemp(prefix='lvis_path_bench_')
    os.makedirs(work, exist_ok=True)
    gt_path = cut_gt(args.sim_dir, args.num_images, work)
    env = dict(os.environ, PYTHONPATH=REPO, LVIS_BENCH_SIZE=str(size))
    base = [sys.executable, osp.abspath(__file__), args.sim_dir, '--metric', args.metric,
            '--backend', args.backend, '--world-size', str(args.world_size),
            '--num-chunks', str(args.num_chunks), '--work-dir', work, '--gt', gt_path]
    reports = []
    t0 = time.perf_counter()
    # ranks >= 1 first (their part files must exist when rank 0 collects), then rank 0
    for rank in list(range(1, args.world_size)) + [0]:
        proc = subprocess.run(base + ['--rank', str(rank)], capture_output=True, text=True,
                              env=env)
        if proc.returncode != 0:
            raise SystemExit(f'rank {rank} failed (exit {proc.returncode}):\n'
                             f'{proc.stderr[-3000:]}')
        reports.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    report = dict(metric=args.metric, backend=(args.backend if args.metric ==
                                               'StreamedLVISMetric' else None),
                  images=size, world_size=args.world_size, num_chunks=args.num_chunks,
                  seconds=time.perf_counter() - t0, ranks=reports,
                  load_avg=os.getloadavg())
    line = json.dumps(report)
    print(line)
    if args.json:
        with open(args.json, 'w') as f:
            f.write(line + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
