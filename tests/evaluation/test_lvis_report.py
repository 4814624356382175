"""gated_mm.evaluation.lvis_report: the checks and reports tools/train.py and tools/test.py
run around mmdet's LVISMetric (class-count mismatch, missing ImageNet backbone, no
detections, per-category AP table)."""
import json

import pytest
from mmengine.config import Config

import gated_mm  # noqa: F401  (registers GatedResNet: its default out_indices are read)
from gated_mm.evaluation import lvis_report


def lvis_file(path, n_cats=3):
    cats = [dict(id=i + 1, name=f'c{i}', frequency='rcf'[i % 3], image_count=10 * (i + 1),
                 instance_count=10 * (i + 1), synonyms=[f'c{i}'], def_='') for i in range(n_cats)]
    images = [dict(id=1, width=64, height=64, coco_url='http://x/1.png', neg_category_ids=[],
                   not_exhaustive_category_ids=[]),
              dict(id=2, width=64, height=64, coco_url='http://x/2.png', neg_category_ids=[],
                   not_exhaustive_category_ids=[])]
    box = lambda x: [x, x, 10.0, 10.0]  # noqa: E731
    anns = [dict(id=1, image_id=1, category_id=1, bbox=box(5.0), area=100.0,
                 segmentation=[[5, 5, 15, 5, 15, 15, 5, 15]]),
            dict(id=2, image_id=2, category_id=2, bbox=box(20.0), area=100.0,
                 segmentation=[[20, 20, 30, 20, 30, 30, 20, 30]])]
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return path


def det_cfg(tmp_path, ann, num_classes=3, **extra):
    cfg = dict(
        work_dir=str(tmp_path),
        model=dict(roi_head=dict(bbox_head=dict(num_classes=num_classes),
                                 mask_head=dict(num_classes=num_classes)),
                   test_cfg=dict(rcnn=dict(score_thr=0.05))),
        train_dataloader=dict(dataset=dict(type='ClassBalancedDataset', oversample_thr=1e-3,
                                           dataset=dict(ann_file=str(ann)))),
        test_dataloader=dict(dataset=dict(ann_file=str(ann))),
        test_evaluator=dict(type='LVISMetric', ann_file=str(ann), metric=['bbox']))
    cfg.update(extra)
    return Config(cfg)


def test_class_count_mismatch_is_one_actionable_line(tmp_path):
    ann = lvis_file(tmp_path / 'a.json', n_cats=3)
    lvis_report.check_detection_config(det_cfg(tmp_path, ann, 3))  # consistent: no error
    with pytest.raises(ValueError) as e:
        lvis_report.check_detection_config(det_cfg(tmp_path, ann, 1203))
    msg = str(e.value)
    assert '\n' not in msg and 'num_classes=1203' in msg and 'has 3 categories' in msg
    assert 'set num_classes=3' in msg and 'LVISSubsetDataset' in msg
    # a class subset chosen with metainfo (mmdet filters the file): its size counts
    cfg = det_cfg(tmp_path, ann, 2)
    for key in ('train_dataloader', 'test_dataloader'):
        ds = cfg[key].dataset
        ds = ds.get('dataset', ds)
        ds.metainfo = dict(classes=('c0', 'c1'))
    lvis_report.check_detection_config(cfg)


def test_missing_backbone_checkpoint_says_how_to_make_it(tmp_path):
    ann = lvis_file(tmp_path / 'a.json')
    cfg = det_cfg(tmp_path, ann)
    ckpt = str(tmp_path / 'checkpoints/backbone.pth')
    cfg.model.backbone = dict(type='GatedResNet',
                              init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    with pytest.raises(ValueError, match='convert_apa_checkpoint.py .* --backbone-only'):
        lvis_report.check_detection_config(cfg, training=True)
    lvis_report.check_detection_config(cfg, training=False)  # testing loads the checkpoint
    cfg.load_from = 'work_dirs/x/epoch_24.pth'
    lvis_report.check_detection_config(cfg, training=True)


def test_no_detections_warns_with_the_remedy(tmp_path):
    ann = lvis_file(tmp_path / 'a.json')
    cfg = det_cfg(tmp_path, ann)
    prefix = lvis_report.enable_lvis_result_files(cfg)
    assert cfg.test_evaluator.outfile_prefix == prefix
    (tmp_path / 'lvis_results' / 'results.bbox.json').write_text('[]')
    msgs = []

    class Log:
        def warning(self, m):
            msgs.append(m)

        info = warning
    assert lvis_report.report_lvis_results(cfg, {}, prefix, Log()) == []
    assert len(msgs) == 1 and 'no detections' in msgs[0]
    assert '--cfg-options model.test_cfg.rcnn.score_thr=' in msgs[0] and '0.05' in msgs[0]


def test_per_category_table_sorted_by_group_and_image_count(tmp_path):
    ann = lvis_file(tmp_path / 'a.json')
    cfg = det_cfg(tmp_path, ann)
    prefix = lvis_report.enable_lvis_result_files(cfg)
    # category 1 found exactly, category 2 missed (a box elsewhere), category 3 has no GT
    dets = [dict(image_id=1, category_id=1, bbox=[5.0, 5.0, 10.0, 10.0], score=0.9),
            dict(image_id=2, category_id=2, bbox=[40.0, 40.0, 10.0, 10.0], score=0.9)]
    (tmp_path / 'lvis_results' / 'results.bbox.json').write_text(json.dumps(dets))
    rows = lvis_report.report_lvis_results(cfg, {'lvis/bbox_AP': 0.5}, prefix, None)
    assert [r['frequency'] for r in rows] == ['r', 'c', 'f']
    by_id = {r['category_id']: r for r in rows}
    assert by_id[1]['bbox_AP'] == pytest.approx(1.0) and by_id[2]['bbox_AP'] == 0.0
    assert by_id[3]['bbox_AP'] != by_id[3]['bbox_AP']  # NaN: no ground truth
    csv = (tmp_path / 'lvis_per_category_ap.csv').read_text().splitlines()
    assert csv[0] == 'category_id,name,frequency,image_count,instance_count,bbox_AP'
    assert (tmp_path / 'lvis_per_category_ap.md').is_file()


def test_empty_and_image_less_annotation_files_are_one_line(tmp_path):
    """A 0-byte file (upstream: 'Expecting value: line 1 column 1 (char 0)', no file named),
    a truncated one, valid JSON with no images (upstream: 16 frames ending 'need at least one
    array to concatenate'), and a results list given as annotations: one line naming the file
    and the config key, for datasets and evaluators, detectors or not."""
    good = lvis_file(tmp_path / 'good.json')
    cases = {'empty.json': ('', 'is empty (0 bytes): expected a COCO/LVIS-format JSON'),
             'cut.json': (good.read_text()[:100], 'is not valid JSON ('),
             'noimg.json': (json.dumps(dict(images=[], annotations=[], categories=[])),
                            'has no images ("images" is empty or missing)'),
             'list.json': ('[]', 'holds a JSON list, not the COCO/LVIS object')}
    for name, (content, what) in cases.items():
        bad = tmp_path / name
        bad.write_text(content)
        cfg = det_cfg(tmp_path, good)
        cfg.test_dataloader.dataset.ann_file = str(bad)
        with pytest.raises(ValueError) as e:
            lvis_report.check_detection_config(cfg, training=False)
        msg = str(e.value)
        assert '\n' not in msg and msg.startswith(
            f'{bad} (test_dataloader.dataset.ann_file) {what}'), msg
        # the evaluator's file, and a wrapped training set (key path through the wrapper)
        cfg = det_cfg(tmp_path, good)
        cfg.test_evaluator.ann_file = str(bad)
        with pytest.raises(ValueError, match=r'\(test_evaluator\.ann_file\)'):
            lvis_report.check_detection_config(cfg, training=False)
        cfg = det_cfg(tmp_path, good, model=dict())  # no detector heads: still checked
        cfg.train_dataloader.dataset.dataset.ann_file = str(bad)
        with pytest.raises(ValueError, match=r'\(train_dataloader\.dataset\.dataset\.ann_file\)'):
            lvis_report.check_detection_config(cfg, training=True)
    lvis_report.check_detection_config(det_cfg(tmp_path, good))


def test_classification_backbone_in_a_detector_is_one_line(tmp_path):
    """The README's GatedResNet dict (out_indices=(3, ), also its default) under an FPN: upstream
    a bare AssertionError in FPN.forward; now the key and the fix."""
    good = lvis_file(tmp_path / 'good.json')
    neck = dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5)
    for backbone in (dict(type='GatedResNet', depth=50, out_indices=(3, )),
                     dict(type='GatedResNet', depth=50)):  # the default: the last stage
        cfg = det_cfg(tmp_path, good)
        cfg.model.backbone, cfg.model.neck = backbone, neck
        with pytest.raises(ValueError) as e:
            lvis_report.check_detection_config(cfg, training=False)
        assert str(e.value) == (
            'model.backbone.out_indices=(3,) gives 1 feature map(s) but model.neck (FPN) '
            'expects 4 (in_channels=[256, 512, 1024, 2048]): set model.backbone.out_indices='
            "(0, 1, 2, 3) (a classification backbone's out_indices=(3, ) returns the last "
            'stage only)')
    cfg.model.backbone.out_indices = (0, 1, 2, 3)
    lvis_report.check_detection_config(cfg, training=False)
