# Can the full LVIS pipeline fit real photographs? The GOL baseline mini-LVIS quick config
# (../lvis/mask-rcnn_gated-se-r26-w32-sigmoid-relu_fpn_gol_1xb2-300i_mini-lvis.py: SE-gated
# ResNet-26, GOL + DropLoss head, RFS, cosine mask head) trained from scratch on the first 4
# images of COCO-mini's train split (44 instances of 18 classes) and tested on those same 4
# images: a capacity / pipeline check on real images, not a generalisation result
# (docs/detection_benchmark.md, "COCO-mini: fitting a few real images").
# Make the files first (images stay in $GATED_MM_DATA/coco-mini):
#   python tools/dataset_converters/coco_to_lvis.py $GATED_MM_DATA/coco-mini data/mini-lvis
#   python -c "import json; p='data/mini-lvis/lvis_v1_train'; d=json.load(open(p+'.json'));
#     d['images']=d['images'][:4]; k={i['id'] for i in d['images']};
#     d['annotations']=[a for a in d['annotations'] if a['image_id'] in k];
#     json.dump(d, open(p+'_first4.json', 'w'))"
# Train and test:
#   python tools/train.py configs/lvis_fit/<this file> --work-dir work_dirs/fit4
#   python tools/test.py configs/lvis_fit/<this file> work_dirs/fit4/iter_150.pth
#
# Deltas from the quick config: train and test annotations lvis_v1_train_first4.json (its
# categories, frequency groups and DropLoss frequencies are the full 80-image train
# split's); one input scale (384, 224) for train and test, no flip (fitting, not
# augmentation); lr 0.01 as the quick config (0.02 diverged here: loss_cls 0.4 -> 1556 by
# iteration 80), 150 iterations x 2 images (75 epochs), 30-iteration warm-up, steps at
# 110 / 135; test keeps 100 detections per image (one image has 33 objects).
_base_ = '../lvis/mask-rcnn_gated-se-r26-w32-sigmoid-relu_fpn_gol_1xb2-300i_mini-lvis.py'

ann_root = '{{$GATED_MM_MINI_LVIS:{{ fileDirname }}/../../data/mini-lvis}}/'
fit_ann = ann_root + 'lvis_v1_train_first4.json'

model = dict(test_cfg=dict(rcnn=dict(max_per_img=100)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(384, 224), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(384, 224), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(dataset=dict(ann_file=fit_ann, pipeline=train_pipeline)))
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(ann_file=fit_ann, pipeline=test_pipeline))
test_evaluator = dict(ann_file=fit_ann)

max_iters = 150
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False, milestones=[110, 135],
         gamma=0.1)
]
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters))
