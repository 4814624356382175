# Omniglot-LVIS quick config: the GOL baseline (SE-ResNet-26 with Sigmoid gate and ReLU;
# GOL + DropLoss with the APA repository's GOL preset, the loss of the APA paper's LVIS
# table (Alexandridis et al., ECCV 2024, Table 5; kostas1515/AGLU
# mmdetection_v3.2/mmdet/models/losses/droploss.py, use_classif='gumbel'); cosine mask head)
# trained from scratch on a CPU in minutes on Omniglot-LVIS, a long-tailed LVIS v1-format set
# of real handwritten characters (24 classes, 609 train / 98 val canvases of 128 x 128;
# docs/detection_benchmark.md). Tested by tools/test.py (bbox and segm AP, APr, APc, APf).
# Make the data first (about 10 s, deterministic given --seed):
#   python tools/dataset_converters/omniglot_to_lvis.py data/omniglot-lvis
# Train and test (one CPU process):
#   python tools/train.py configs/lvis_synth/<this file> --work-dir work_dirs/x
#   python tools/test.py configs/lvis_synth/<this file> work_dirs/x/iter_400.pth
#
# Deltas from the paper recipe (its base: ../lvis/mask-rcnn_gated-se-r50-sigmoid-relu_..._lvis-v1):
#   backbone SE-ResNet-26 with stem / base channels 16 (quarter width), FPN / RPN / RoI
#   features 64 channels, bbox head fcs 256, mask head 2 convs of 64; random init, nothing
#   frozen, BN trained (no ImageNet weights offline);
#   input 128 x 128 as generated (no resizing, no flip: a mirrored character is another one);
#   RPN 1000 -> 300 proposals at test, RoI sampler 64 per image;
#   24 classes; DropLoss lambda_ 0.1 (tail = rare + common classes, <= 60 of 609 training
#   images, as LVIS v1's 0.0011 selects LVIS's rare + common); RFS oversample_thr 0.05;
#   1 process x 4 images, SGD lr 0.02, 50-iteration warm-up, steps at 300 / 375 of 400
#   iterations, gradient clipping 35; mask upsampling deconv (no CPU CARAFE in mmcv 2.1.0);
#   test: score_thr 0.05, 30 detections per image; NMS 0.3 and mask_thr 0.4 as the paper.
_base_ = '../lvis/mask-rcnn_gated-se-r26-w32-sigmoid-relu_fpn_gol_1xb2-300i_mini-lvis.py'

data_root = '{{$GATED_MM_OMNIGLOT_LVIS:{{ fileDirname }}/../../data/omniglot-lvis}}/'
num_classes = 24

model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    train_cfg=dict(rcnn=dict(sampler=dict(num=64))),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        mask_roi_extractor=dict(out_channels=64),
        bbox_head=dict(
            in_channels=64,
            fc_out_channels=256,
            num_classes=num_classes,
            loss_cls=dict(num_classes=num_classes, lambda_=0.1, preset='apa',
                          freq_file=data_root + 'annotations/lvis_v1_train.json')),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_convs=2,
                       num_classes=num_classes)),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(score_thr=0.05, max_per_img=30)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,  # 128-pixel PNGs: loading in the main process is cheaper on 2 cores
    persistent_workers=False,
    dataset=dict(
        oversample_thr=0.05,
        dataset=dict(data_root=data_root, ann_file='annotations/lvis_v1_train.json',
                     data_prefix=dict(img=''), pipeline=train_pipeline)))
test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file='annotations/lvis_v1_val.json',
                 data_prefix=dict(img=''), pipeline=test_pipeline))
test_evaluator = dict(ann_file=data_root + 'annotations/lvis_v1_val.json')

max_iters = 400
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False, milestones=[300, 375],
         gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02))
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters))
