"""Real photos in the real LVIS v1 label space: ``coco_to_lvis.py --lvis-categories`` lays
COCO-mini out as an LVIS v1 annotation pair with LVIS v1's 1,203 categories, image counts and
groups; lvis-api and mmdet's own ``LVISV1Dataset`` read it, labels are COCO's relabelled through
the WordNet synset map, negatives are the truthful ones, and GOL / DropLoss reading the file
mark LVIS's 815 tail classes (λ = 0.0011, N = 99,388).

Data: ``$GATED_MM_DATA/coco-mini`` and ``lvis-v1-meta/lvis_v1_categories.json`` (LVIS v1's
category list with its train ``image_count`` and lvis-api's COCO -> synset map; default
``<repo>/../shared/data``); skipped without them."""
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('GATED_MM_DATA', ROOT.parent / 'shared' / 'data'))
COCO_MINI = DATA / 'coco-mini'
VOCAB = DATA / 'lvis-v1-meta' / 'lvis_v1_categories.json'
CONVERTER = ROOT / 'tools/dataset_converters/coco_to_lvis.py'

needs_data = pytest.mark.skipif(
    not ((COCO_MINI / 'annotations').is_dir() and VOCAB.is_file()),
    reason=f'COCO-mini or the LVIS v1 category list not found under {DATA} (set GATED_MM_DATA)')


def run(args):
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope='module')
def lvis_v1_coco(tmp_path_factory):
    out = tmp_path_factory.mktemp('lvis_v1_coco')
    proc = run([CONVERTER, COCO_MINI, out, '--lvis-categories', VOCAB])
    assert proc.returncode == 0, proc.stderr
    assert 'groups rare/common/frequent = 337/461/405' in proc.stdout
    return out


def _vocab():
    return json.loads(VOCAB.read_text())


@needs_data
def test_categories_counts_and_labels_are_lvis_v1(lvis_v1_coco):
    vocab = _vocab()
    coco_map = {e['coco_category_id']: e['lvis_category_id'] for e in vocab['coco_to_lvis']}
    for split in ('train', 'val'):
        lvis = json.loads((lvis_v1_coco / f'lvis_v1_{split}.json').read_text())
        coco = json.loads((COCO_MINI / f'annotations/instances_{split}2017.json').read_text())
        assert set(lvis) >= {'info', 'licenses', 'images', 'annotations', 'categories'}
        # the 1,203 categories with LVIS's ids, names, synsets, groups and train image counts
        assert lvis['categories'] == vocab['categories']
        assert Counter(c['frequency'] for c in lvis['categories']) == dict(r=337, c=461, f=405)
        # every non-crowd COCO annotation relabelled through the synset map; 'hot dog'
        # (COCO 58, frank.n.02: no LVIS v1 category) and crowd regions dropped
        src = {a['id']: a for a in coco['annotations']}
        kept = [a for a in coco['annotations']
                if not a.get('iscrowd', 0) and coco_map[a['category_id']] is not None]
        assert len(lvis['annotations']) == len(kept) > 500
        for ann in lvis['annotations']:
            assert ann['category_id'] == coco_map[src[ann['id']]['category_id']]
            assert ann['bbox'] == src[ann['id']]['bbox'] and 'iscrowd' not in ann
        mapped = sorted(i for i in coco_map.values() if i is not None)
        assert len(mapped) == 79
        by_img = {}
        for a in coco['annotations']:
            by_img.setdefault(a['image_id'], set()).add(coco_map[a['category_id']])
        for img in lvis['images']:
            shown = by_img.get(img['id'], set()) - {None}
            # negatives: exactly the mapped (exhaustively annotated) categories not shown
            assert img['neg_category_ids'] == [c for c in mapped if c not in shown]
            crowd = {coco_map[a['category_id']] for a in coco['annotations']
                     if a['image_id'] == img['id'] and a.get('iscrowd', 0)} - {None}
            assert img['not_exhaustive_category_ids'] == sorted(crowd)
            assert img['coco_url'].startswith(f'http://images.cocodataset.org/{split}2017/')
        assert len(lvis['images']) == len(coco['images'])
    assert lvis['info']['split'] == 'val' and 'num_images' not in lvis


@needs_data
def test_droploss_tail_is_lvis_815(lvis_v1_coco):
    """The training file carries LVIS v1's training-set size: image_count / 99,388 < 0.0011
    marks the 815 tail classes the APA / GOL LVIS v1 configs state."""
    from gated_mm.datasets import load_category_frequency
    from gated_mm.models.losses import GumbelDropLoss
    path = str(lvis_v1_coco / 'lvis_v1_train.json')
    counts, n = load_category_frequency(path)
    assert n == 99388 and counts == [c['image_count'] for c in _vocab()['categories']]
    assert sum(c / n < 0.0011 for c in counts) == 815
    loss = GumbelDropLoss(num_classes=1203, lambda_=0.0011, freq_file=path)
    assert int(loss.tail_mask.sum()) == 815


@needs_data
def test_lvis_api_and_mmdet_lvis_v1_dataset_read_it(lvis_v1_coco):
    import gated_mm  # noqa: F401  (lvis np.float fix)
    from lvis import LVIS, LVISEval, LVISResults
    from mmdet.registry import DATASETS
    from mmengine.registry import DefaultScope
    gt = LVIS(str(lvis_v1_coco / 'lvis_v1_val.json'))
    assert len(gt.get_cat_ids()) == 1203
    dets = [dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'],
                 score=1.0, segmentation=a['segmentation']) for a in gt.dataset['annotations']]
    for iou_type in ('bbox', 'segm'):
        ev = LVISEval(gt, LVISResults(gt, [dict(d) for d in dets]), iou_type)
        ev.run()
        res = ev.get_results()
        assert res['AP'] == pytest.approx(1.0)
        for group in ('APr', 'APc', 'APf'):
            assert res[group] == pytest.approx(1.0) or res[group] == -1
    with DefaultScope.overwrite_default_scope('mmdet'):
        for split, test_mode in (('train', False), ('val', True)):
            ds = DATASETS.build(dict(
                type='LVISV1Dataset', data_root=str(COCO_MINI) + '/',
                ann_file=str(lvis_v1_coco / f'lvis_v1_{split}.json'), data_prefix=dict(img=''),
                pipeline=[], test_mode=test_mode,
                filter_cfg=None if test_mode else dict(filter_empty_gt=True, min_size=32)))
            assert len(ds.metainfo['classes']) == 1203 and len(ds) >= 75
            info = ds.get_data_info(0)
            assert Path(info['img_path']).is_file()
            labels = [i['bbox_label'] for k in range(len(ds))
                      for i in ds.get_data_info(k)['instances']]
            # mmdet's label = position of the LVIS id in the 1,203-category list
            assert 0 <= min(labels) and max(labels) < 1203 and 792 in labels  # person: id 793


@needs_data
def test_converter_errors_are_one_line(tmp_path):
    bad = tmp_path / 'cats.json'
    bad.write_text(json.dumps(dict(categories=_vocab()['categories'][:24])))
    proc = run([CONVERTER, COCO_MINI, tmp_path / 'out', '--lvis-categories', bad])
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        'coco_to_lvis.py: error: coco_to_lvis: the LVIS category file has 24 categories, '
        'LVIS v1 has 1203']
    no_map = tmp_path / 'no_map.json'
    no_map.write_text(json.dumps(dict(categories=_vocab()['categories'])))
    proc = run([CONVERTER, COCO_MINI, tmp_path / 'out', '--lvis-categories', no_map])
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
    assert '--coco-to-synset' in proc.stderr
    # lvis-api's data/coco_to_synset.json format gives the same files
    synsets = {f'c{e["coco_category_id"]}': dict(coco_cat_id=e['coco_category_id'],
                                                 synset=e['synset'], meaning=e['synset'])
               for e in _vocab()['coco_to_lvis']}
    (tmp_path / 'coco_to_synset.json').write_text(json.dumps(synsets))
    proc = run([CONVERTER, COCO_MINI, tmp_path / 'out', '--lvis-categories', no_map,
                '--coco-to-synset', tmp_path / 'coco_to_synset.json'])
    assert proc.returncode == 0, proc.stderr
    assert '79 COCO categories mapped' in proc.stdout
