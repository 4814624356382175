"""Checks and reports around mmdet's ``LVISMetric`` for ``tools/train.py`` / ``tools/test.py``.

* :func:`check_detection_config` (before building the runner): every JSON annotation file the
  config names must be non-empty JSON with images (else ``Expecting value: line 1 column 1
  (char 0)`` without the file's name, or 16 frames ending ``need at least one array to
  concatenate``); the detector heads' ``num_classes`` must equal the number of categories of
  every annotation file (else mmdet fails late with ``IndexError`` in ``cat_ids[label]``); the
  backbone must give the neck as many feature maps as its ``in_channels`` lists (else a bare
  ``AssertionError`` in FPN); a paper config's local ImageNet backbone checkpoint must exist
  (else: how to make it).
* :func:`enable_lvis_result_files` + :func:`report_lvis_results` (around ``runner.test()``):
  keep the detections as JSON, warn with the remedy when there are none (mmdet then logs
  "The testing results of the whole dataset is empty." and returns ``{}``), and write the
  per-category AP table (bbox and segm AP of every category with its frequency group,
  training image and instance counts), sortable by group and image count.

Per-category AP: LVIS AP (IoU 0.50:0.95, all areas) from ``LVISEval.eval['precision']`` of
lvis-api 0.5.3, the mean of the precision entries > −1 of that category (detectron2's and
mmdet's ``classwise`` definition); NaN when it has no ground truth in the evaluated images.
"""
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Optional

GROUP_ORDER = {'r': 0, 'c': 1, 'f': 2}
BACKBONE_HINT = ('make it from the public APA ImageNet checkpoint (github.com/kostas1515/AGLU, '
                 'classification/) with: python tools/dataset_converters/'
                 'convert_apa_checkpoint.py APA_CHECKPOINT.pth {path} --backbone-only')


LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _datasets(cfg, loaders=LOADERS) -> List[dict]:
    """(name, dataset cfg, config key of the dataset) of the dataloaders, wrappers (RFS)
    unwrapped."""
    out = []
    for key in loaders:
        loader = cfg.get(key)
        ds = loader.get('dataset') if loader else None
        where = f'{key}.dataset'
        while ds is not None and 'ann_file' not in ds and ds.get('dataset') is not None:
            ds, where = ds['dataset'], where + '.dataset'
        if ds is not None and ds.get('ann_file'):
            out.append((key, ds, where))
    return out


def _evaluator_ann_files(cfg, evaluators=('val_evaluator', 'test_evaluator')) -> List[tuple]:
    """(config key, path) of the ``ann_file`` of the evaluators."""
    out = []
    for key in evaluators:
        ev = cfg.get(key)
        evs = ev if isinstance(ev, (list, tuple)) else [ev]
        for i, e in enumerate(evs):
            if isinstance(e, dict) and isinstance(e.get('ann_file'), str):
                out.append((f'{key}' + (f'[{i}]' if len(evs) > 1 else '') + '.ann_file',
                            e['ann_file']))
    return out


def load_annotation_file(path: str, key: str) -> dict:
    """Load a COCO / LVIS-format annotation file that must hold images.

    Args:
        path: the JSON file.
        key: the config key that names it, for the message (e.g.
            ``'train_dataloader.dataset.ann_file'``).

    Raises:
        ValueError: one line naming the file and ``key``, when the file is empty, not JSON,
            not a JSON object or has no images.
    """
    redo = 'download or convert it again'
    if osp.getsize(path) == 0:
        raise ValueError(f'{path} ({key}) is empty (0 bytes): expected a COCO/LVIS-format '
                         f'JSON annotation file; {redo}')
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:  # json.JSONDecodeError is a ValueError
        raise ValueError(f'{path} ({key}) is not valid JSON ({e}): the file is truncated or '
                         f'not an annotation file; {redo}') from None
    if not isinstance(data, dict):
        raise ValueError(f'{path} ({key}) holds a JSON {type(data).__name__}, not the COCO/LVIS '
                         f'object with images, annotations and categories (a results file?)')
    if not data.get('images'):
        raise ValueError(f'{path} ({key}) has no images ("images" is empty or missing): a '
                         f'COCO/LVIS annotation file lists the images it annotates; set {key} '
                         f'to a file with images, or {redo}')
    return data


def _check_backbone_feeds_neck(model: dict, scope: str = 'mmdet') -> None:
    """Raise ``ValueError`` when the backbone's ``out_indices`` give a different number of
    feature maps than the first neck's ``in_channels`` list (FPN, ChannelMapper, ...); without
    ``out_indices`` the default of the backbone class registered in ``scope`` counts."""
    backbone, neck = model.get('backbone'), model.get('neck')
    neck = neck[0] if isinstance(neck, (list, tuple)) and neck else neck
    if not isinstance(backbone, dict) or not isinstance(neck, dict):
        return
    in_channels = neck.get('in_channels')
    if not isinstance(in_channels, (list, tuple)):
        return
    out_indices = backbone.get('out_indices')
    if out_indices is None:  # the backbone's default (GatedResNet: (3, ), the last stage)
        import importlib
        import inspect
        cls = backbone.get('type')
        try:
            if isinstance(cls, str):
                cls = importlib.import_module(f'{scope}.registry').MODELS.get(cls)
            out_indices = inspect.signature(cls).parameters['out_indices'].default
        except (ImportError, TypeError, ValueError, KeyError):
            return
    if not isinstance(out_indices, (list, tuple)) or len(out_indices) == len(in_channels):
        return
    raise ValueError(
        f'model.backbone.out_indices={tuple(out_indices)} gives {len(out_indices)} feature '
        f'map(s) but model.neck ({neck.get("type")}) expects {len(in_channels)} '
        f'(in_channels={list(in_channels)}): set model.backbone.out_indices='
        f'{tuple(range(len(in_channels)))} (a classification backbone\'s out_indices=(3, ) '
        f'returns the last stage only)')


def _ann_path(ds: dict) -> str:
    ann = ds['ann_file']
    root = ds.get('data_root') or ''
    return ann if osp.isabs(ann) or not root else osp.join(root, ann)


def _head_num_classes(model: dict) -> Dict[str, int]:
    found = {}
    roi = model.get('roi_head') or {}
    for name in ('bbox_head', 'mask_head'):
        head = roi.get(name)
        heads = head if isinstance(head, (list, tuple)) else [head]
        for i, h in enumerate(heads):
            if isinstance(h, dict) and 'num_classes' in h:
                tag = f'model.roi_head.{name}' + (f'[{i}]' if len(heads) > 1 else '')
                found[tag] = int(h['num_classes'])
    for name in ('bbox_head', ):
        h = model.get(name)
        if isinstance(h, dict) and 'num_classes' in h:
            found[f'model.{name}'] = int(h['num_classes'])
    return found


def check_detection_config(cfg, training: bool = True) -> None:
    """Raise ``ValueError`` with one actionable line when

    * a JSON annotation file is empty, not JSON or without images
      (:func:`load_annotation_file`): the train / val sets' and ``val_evaluator``'s when
      ``training``, else the test set's and ``test_evaluator``'s, and every file whose
      categories are counted;
    * the heads' class count differs from an annotation file's;
    * the backbone's ``out_indices`` do not fit the neck's ``in_channels``;
    * (``training``, no ``load_from``) a local ``Pretrained`` backbone checkpoint is missing.

    Annotation files that do not exist yet are skipped (the dataset reports them)."""
    model = cfg.get('model') or {}
    heads = _head_num_classes(model)
    loaded = {}

    def load(path, key):
        if path not in loaded:
            loaded[path] = load_annotation_file(path, key)
        return loaded[path]

    # the files of the loops that run first, named by their own keys
    in_use = (LOADERS[:2], ('val_evaluator', )) if training else (LOADERS[2:],
                                                                    ('test_evaluator', ))
    for key, ds, where in _datasets(cfg, in_use[0]):
        path = _ann_path(ds)
        if path.endswith('.json') and osp.isfile(path):
            load(path, f'{where}.ann_file')
    for key, path in _evaluator_ann_files(cfg, in_use[1]):
        if path.endswith('.json') and osp.isfile(path):
            load(path, key)
    _check_backbone_feeds_neck(model, cfg.get('default_scope') or 'mmdet')
    if heads:
        for key, ds, where in _datasets(cfg):
            path = _ann_path(ds)
            classes = (ds.get('metainfo') or {}).get('classes')
            if classes:  # mmdet keeps only these classes of the file
                n_cats, path = len(classes), f'{where}.metainfo.classes'
            elif not osp.isfile(path):
                continue
            else:
                n_cats = len(load(path, f'{where}.ann_file').get('categories', []))
            for tag, n in heads.items():
                if n_cats and n != n_cats:
                    raise ValueError(
                        f'{tag}.num_classes={n} but {path} ({key}) has {n_cats} categories: '
                        f'set num_classes={n_cats} in model.roi_head.bbox_head, mask_head and '
                        f'bbox_head.loss_cls, and use dataset type=\'LVISSubsetDataset\' for a '
                        f'converted LVIS subset (class names from the file)')
    init = (model.get('backbone') or {}).get('init_cfg')
    if training and not cfg.get('load_from') and isinstance(init, dict) \
            and init.get('type') == 'Pretrained':
        ckpt = str(init.get('checkpoint', ''))
        if ckpt and '://' not in ckpt and not osp.isfile(ckpt):
            raise ValueError(f'ImageNet backbone checkpoint {ckpt} not found; '
                             + BACKBONE_HINT.format(path=ckpt))


def lvis_evaluators(cfg) -> List[dict]:
    """The LVIS evaluators (dicts) of the config's ``test_evaluator``."""
    ev = cfg.get('test_evaluator')
    evs = ev if isinstance(ev, (list, tuple)) else [ev]
    return [e for e in evs if isinstance(e, dict) and 'LVIS' in str(e.get('type', ''))
            and 'Fixed' not in str(e.get('type', ''))]


def enable_lvis_result_files(cfg) -> Optional[str]:
    """Make the config's ``LVISMetric`` keep its detection JSONs under
    ``<work_dir>/lvis_results/`` (unless it already has ``outfile_prefix``); returns the
    prefix, or None without an LVIS evaluator."""
    evs = lvis_evaluators(cfg)
    if not evs:
        return None
    ev = evs[0]
    if not ev.get('outfile_prefix'):
        os.makedirs(osp.join(cfg.work_dir, 'lvis_results'), exist_ok=True)
        ev['outfile_prefix'] = osp.join(cfg.work_dir, 'lvis_results', 'results')
    return ev['outfile_prefix']


def _score_thr(cfg) -> Optional[float]:
    test_cfg = (cfg.get('model') or {}).get('test_cfg') or {}
    rcnn = test_cfg.get('rcnn') or test_cfg
    return rcnn.get('score_thr') if isinstance(rcnn, dict) else None


def per_category_ap(ann_file: str, result_file: str, iou_type: str,
                    faster: bool = False) -> Dict[int, float]:
    """{category id: AP} of lvis-api's evaluation of ``result_file`` (see module docstring);
    ``faster``: of faster-coco-eval's LVIS mode (``FasterLVISMetric``; same numbers)."""
    import numpy as np
    if faster:
        from .faster_lvis import faster_lvis_evaluate, load_lvis_gt
        gt = load_lvis_gt(ann_file)
        _, ev = faster_lvis_evaluate(gt, result_file, iou_type, print_function=lambda *a: None)
        prec, cat_ids = ev.eval['precision'][..., -1], sorted(gt.getCatIds())
    else:
        from lvis import LVIS, LVISEval, LVISResults
        gt = LVIS(ann_file)
        with open(result_file) as f:
            dets = json.load(f)
        ev = LVISEval(gt, LVISResults(gt, dets), iou_type)
        ev.run()
        prec, cat_ids = ev.eval['precision'], ev.params.cat_ids  # (iou, recall, cat, area)
    out = {}
    for idx, cat_id in enumerate(cat_ids):
        p = prec[:, :, idx, 0]
        p = p[p > -1]
        out[cat_id] = float(np.mean(p)) if p.size else float('nan')
    return out


def report_lvis_results(cfg, metrics: dict, prefix: Optional[str], logger=None) -> List[dict]:
    """After ``runner.test()``: warn with the remedy when there are no detections; else write
    ``<work_dir>/lvis_per_category_ap.{csv,md}`` (rows sorted by group r/c/f, then training
    image count, descending). Returns the rows ([] when nothing was written). The per-category
    AP that ``StreamedLVISMetric`` saved in this run (``<prefix>.<type>.per_category_ap.json``)
    is used as is; otherwise the result file is evaluated again."""
    def log(msg, level='warning'):
        if logger is not None:
            getattr(logger, level)(msg)
        else:
            print(msg)
    if prefix is None:
        return []
    evs = lvis_evaluators(cfg)
    tasks = evs[0].get('metric', 'bbox')
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    tasks = [t for t in tasks if t in ('bbox', 'segm')]
    files = {t: f'{prefix}.{t}.json' for t in tasks}
    counts, aps = {}, {}
    for t, path in files.items():
        done = f'{prefix}.{t}.per_category_ap.json'  # StreamedLVISMetric's, of this run
        if osp.isfile(done) and osp.isfile(path) and osp.getmtime(done) >= osp.getmtime(path):
            with open(done) as f:
                done = json.load(f)
            counts[t] = done['detections']
            aps[t] = {int(k): float(v) for k, v in done['ap'].items()}
        elif osp.isfile(path):
            with open(path) as f:
                counts[t] = len(json.load(f))
    if not counts or not any(counts.values()):
        thr = _score_thr(cfg)
        log(f'the detector produced no detections on the test set (score_thr={thr}); the '
            f'metrics are empty. An under-trained model scores low: lower the threshold, e.g. '
            f'--cfg-options model.test_cfg.rcnn.score_thr=0.0001, or train longer')
        return []
    ann_file = evs[0]['ann_file']
    with open(ann_file) as f:
        cats = json.load(f)['categories']
    faster = str(evs[0].get('type', '')).endswith('FasterLVISMetric')
    aps.update({t: per_category_ap(ann_file, files[t], t, faster) for t in tasks
                if counts.get(t) and t not in aps})
    rows = []
    for c in cats:
        row = dict(category_id=c['id'], name=c['name'], frequency=c.get('frequency', ''),
                   image_count=c.get('image_count', ''), instance_count=c.get('instance_count', ''))
        for t in tasks:
            row[f'{t}_AP'] = aps.get(t, {}).get(c['id'], float('nan'))
        rows.append(row)
    rows.sort(key=lambda r: (GROUP_ORDER.get(r['frequency'], 3),
                             -(r['image_count'] if isinstance(r['image_count'], int) else 0)))
    base = osp.join(cfg.work_dir, 'lvis_per_category_ap')
    keys = list(rows[0])
    with open(base + '.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f'{v:.4f}' if isinstance(v, float) else v) for k, v in r.items()})
    with open(base + '.md', 'w') as f:
        f.write('| ' + ' | '.join(keys) + ' |\n|' + '---|' * len(keys) + '\n')
        for r in rows:
            f.write('| ' + ' | '.join(f'{v:.3f}' if isinstance(v, float) else str(v)
                                      for v in r.values()) + ' |\n')
    log(f'per-category AP ({len(rows)} categories, by group and training images) written to '
        f'{base}.csv / .md', level='info')
    return rows
