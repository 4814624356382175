# Equalization Loss v2 (Tan et al., "Equalization Loss v2: A New Gradient Balance Approach
# for Long-tailed Object Detection", CVPR 2021, arXiv:2012.08548; public code tztztztztz/eqlv2)
# with mmdet 3.3's EQLV2Loss (through gated_mm's EQLV2HeadLoss, which only adds the BBoxHead
# hooks: C + 1 outputs, sigmoid test scores x (1 - background); docs/lt_detection_baselines.md).
# Paper numbers: the APA paper's Table 5 has no EQL v2 row; the EQL v2 paper's LVIS v1 table
# (Mask R-CNN R50, 1x) was not transcribed here: compare against it.
# Hyper-parameters, line by line (the paper / public config):
#   loss: sigmoid BCE, C + 1 outputs, gradient-guided weights, gamma 12, mu 0.8, alpha 4
#   data: no repeat-factor sampling (the paper's EQL v2 is trained with uniform sampling),
#         multi-scale 640..800, flip
#   schedule: 1x (12 epochs, steps 8 / 11), SGD lr 0.02 (16 images); test score_thr 1e-4,
#         300 dets
_base_ = '../_base_/models/mask-rcnn_r50_fpn_ms-2x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='EQLV2HeadLoss', num_classes={{_base_.num_classes}}, gamma=12,
                          mu=0.8, alpha=4.0))))
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
train_cfg = dict(max_epochs=12, val_interval=12)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
