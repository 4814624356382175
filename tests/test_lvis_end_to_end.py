"""The LVIS pipeline on real data: COCO-mini converted to LVIS v1 format, checked with lvis-api,
then a short training of the gated Mask R-CNN with GOL (quick config, APA + AGLU) and
``tools/test.py`` printing bbox / segm AP, APr, APc, APf and writing the per-group table.

Data: ``$GATED_MM_DATA/coco-mini`` (default ``<repo>/../shared/data``); skipped without it.
The training here is 2 iterations at a tiny input scale (the pipeline, not a result); the
quick config's own 300-iteration run is the README's mini-LVIS table; a run that fits 4
real train images (configs/lvis_fit/, too long for CI) is in docs/detection_benchmark.md."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('GATED_MM_DATA', ROOT.parent / 'shared' / 'data'))
COCO_MINI = DATA / 'coco-mini'
QUICK = ROOT / 'configs/lvis/mask-rcnn_gated-se-r26-w32-apa-aglu_fpn_gol_1xb2-300i_mini-lvis.py'
CONVERTER = ROOT / 'tools/dataset_converters/coco_to_lvis.py'

needs_data = pytest.mark.skipif(not (COCO_MINI / 'annotations').is_dir(),
                                reason=f'COCO-mini not found at {COCO_MINI} (set GATED_MM_DATA)')


def run(args, env=None, timeout=600):
    env = dict(os.environ if env is None else env, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='2')
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return proc


def ok(proc):
    if proc.returncode != 0:
        pytest.fail(f'exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n'
                    f'{proc.stderr[-5000:]}')
    return proc


# ---------------------------------------------------------------- conversion
def test_convert_semantics_on_a_constructed_set():
    from gated_mm.datasets import convert_coco_to_lvis
    cats = [dict(id=1, name='a'), dict(id=3, name='b'), dict(id=7, name='c')]
    images = [dict(id=i, file_name=f'{i}.jpg', height=10, width=10) for i in (1, 2, 3)]
    poly = [[0, 0, 4, 0, 4, 4]]

    def ann(i, img, cat, crowd=0):
        return dict(id=i, image_id=img, category_id=cat, bbox=[0, 0, 4, 4], area=8,
                    iscrowd=crowd, segmentation=poly)

    # class a: 3 images (frequent at common_max=2), b: 2 (common), c: 1 crowd only (rare, 0)
    train = dict(images=images, categories=cats,
                 annotations=[ann(1, 1, 1), ann(2, 2, 1), ann(3, 3, 1), ann(4, 1, 3),
                              ann(5, 2, 3), ann(6, 2, 3), ann(7, 3, 7, crowd=1)])
    val = dict(images=images[:2], categories=cats,
               annotations=[ann(8, 1, 3), ann(9, 1, 7, crowd=1), ann(10, 1, 7)])
    lt, lv = convert_coco_to_lvis(train, val, rare_max=0, common_max=2)
    by_id = {c['id']: c for c in lt['categories']}
    assert [(by_id[i]['image_count'], by_id[i]['instance_count'], by_id[i]['frequency'])
            for i in (1, 3, 7)] == [(3, 3, 'f'), (2, 3, 'c'), (0, 0, 'r')]
    assert lv['categories'] == lt['categories']  # val carries the training counts
    assert all('iscrowd' not in a for a in lt['annotations']) and len(lt['annotations']) == 6
    img3 = [i for i in lt['images'] if i['id'] == 3][0]
    assert img3['neg_category_ids'] == [3] and img3['not_exhaustive_category_ids'] == [7]
    assert img3['coco_url'] == 'http://images.cocodataset.org/train2017/3.jpg'
    v1 = [i for i in lv['images'] if i['id'] == 1][0]
    # class c has an instance and a crowd there: evaluated, unmatched detections ignored
    assert v1['neg_category_ids'] == [1] and v1['not_exhaustive_category_ids'] == [7]
    assert lt['info']['groups'] == dict(r=1, c=1, f=1)
    with pytest.raises(ValueError, match='rare_max < common_max'):
        convert_coco_to_lvis(train, val, rare_max=3, common_max=3)


@pytest.fixture(scope='module')
def mini_lvis(tmp_path_factory):
    out = tmp_path_factory.mktemp('mini_lvis')
    proc = ok(run([CONVERTER, COCO_MINI, out]))
    assert 'groups rare/common/frequent' in proc.stdout
    return out


@needs_data
def test_converted_mini_lvis_is_valid_lvis(mini_lvis):
    """lvis-api loads the files and scores the ground truth itself as AP = 1 in every group."""
    import gated_mm  # noqa: F401  (lvis np.float fix)
    from lvis import LVIS, LVISEval, LVISResults
    train = json.loads((mini_lvis / 'lvis_v1_train.json').read_text())
    groups = train['info']['groups']
    assert sum(groups.values()) == 80 and min(groups.values()) > 0
    assert 'rare <= 1 < common <= 3' in train['info']['frequency_thresholds']
    gt = LVIS(str(mini_lvis / 'lvis_v1_val.json'))
    for img in gt.dataset['images']:
        path = COCO_MINI / img['coco_url'].replace('http://images.cocodataset.org/', '')
        assert path.is_file()
    dets = [dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'],
                 score=1.0, segmentation=a['segmentation']) for a in gt.dataset['annotations']]
    for iou_type in ('bbox', 'segm'):
        ev = LVISEval(gt, LVISResults(gt, [dict(d) for d in dets]), iou_type)
        ev.run()
        res = ev.get_results()
        assert res['AP'] == pytest.approx(1.0)
        for group in ('APr', 'APc', 'APf'):
            assert res[group] == pytest.approx(1.0) or res[group] == -1


@needs_data
def test_converter_errors_are_one_line(tmp_path):
    proc = run([CONVERTER, tmp_path, tmp_path / 'out'])
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f'coco_to_lvis.py: error: annotation file not found: '
        f'{tmp_path}/annotations/instances_train2017.json']


# ---------------------------------------------------------------- train + test
@needs_data
def test_train_and_test_on_mini_lvis(mini_lvis, tmp_path):
    env = dict(os.environ, GATED_MM_MINI_LVIS=str(mini_lvis))
    common = ['train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
              'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    ok(run([ROOT / 'tools/train.py', QUICK, '--work-dir', tmp_path, '--cfg-options', *common,
            'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2',
            'train_dataloader.dataset.dataset.indices=6',
            'train_dataloader.dataset.dataset.pipeline.2.scales=[(192,128)]'], env=env))
    assert (tmp_path / 'iter_2.pth').is_file()
    proc = ok(run([ROOT / 'tools/test.py', QUICK, tmp_path / 'iter_2.pth', '--work-dir',
                   tmp_path, '--cfg-options', *common, 'test_dataloader.dataset.indices=4',
                   'test_dataloader.dataset.pipeline.1.scale=(192,128)',
                   # an untrained model's Gumbel scores are ~6e-4: keep them, but few
                   'model.test_cfg.rcnn.score_thr=0.0001', 'model.test_cfg.rcnn.max_per_img=30',
                   'model.test_cfg.rpn.max_per_img=100'], env=env))
    log = proc.stdout + proc.stderr
    keys = [f'lvis/{t}_{g}' for t in ('bbox', 'segm') for g in ('AP', 'APr', 'APc', 'APf')]
    for key in keys:
        assert key in log, key
    metrics = json.loads((tmp_path / 'test_metrics.json').read_text())
    assert all(-1 <= metrics[k] <= 1 for k in keys)
    table = (tmp_path / 'lvis_group_ap.md').read_text().splitlines()
    assert table[0] == '| task | AP | APr | APc | APf |' and len(table) == 4
    assert 'LVIS AP by frequency group' in proc.stdout
    assert (tmp_path / 'lvis_group_ap.png').stat().st_size > 1000
    assert (tmp_path / 'lvis_group_ap.csv').read_text().startswith('task,AP,APr,APc,APf')


def test_group_table_from_metrics():
    spec = importlib.util.spec_from_file_location('gm_test_tool', ROOT / 'tools/test.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    metrics = {'lvis/bbox_AP': 0.2, 'lvis/bbox_APr': -1.0, 'lvis/bbox_APc': 0.1,
               'lvis/bbox_APf': 0.3, 'lvis/bbox_AP50': 0.5, 'coco/bbox_mAP': 0.4}
    rows = tool.lvis_group_rows(metrics)
    assert rows == [('bbox', 'lvis', {'AP': 0.2, 'APr': None, 'APc': 0.1, 'APf': 0.3})]
    assert tool.format_lvis_groups(rows).splitlines()[-1] == \
        '| lvis/bbox | 0.200 | n/a | 0.100 | 0.300 |'
    assert tool.lvis_group_rows({'coco/bbox_mAP': 0.4, 'accuracy/top1': 1.0}) == []
