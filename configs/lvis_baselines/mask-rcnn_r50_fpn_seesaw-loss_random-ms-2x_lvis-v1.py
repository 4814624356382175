# Seesaw Loss (Wang et al., "Seesaw Loss for Long-Tailed Instance Segmentation", CVPR 2021,
# arXiv:2008.10032) with mmdet 3.3's SeesawLoss, unchanged, as mmdet's config
# configs/seesaw_loss/mask-rcnn_r50_fpn_seesaw-loss_random-ms-2x_lvis-v1.py sets it up (where
# mmdet's loss differs from the paper's equations: docs/lt_detection_baselines.md).
# Paper numbers (as quoted in the APA paper, arXiv:2407.08567, Table 5, R50, 2x):
#   AP^m 26.4 / AP^r 19.6 / AP^c 26.1 / AP^f 29.8 / AP^b 27.4.
# Hyper-parameters, line by line (mmdet's config):
#   loss: SeesawLoss p 0.8 (mitigation), q 2.0 (compensation), eps 1e-2, C + 2 outputs
#         (classes and a 2-way objectness)
#   classifier: NormedLinear, temperature 20; mask head mmdet's default
#   data: uniform image sampling ("random": oversample_thr 0, no RFS), multi-scale
#         640..800, flip
#   schedule: 2x (steps 16 / 22, 500-iteration warm-up), SGD lr 0.02 (16 images); test
#         score_thr 1e-4, 300 dets (the shared recipe)
_base_ = '../_base_/models/mask-rcnn_r50_fpn_ms-2x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
            loss_cls=dict(_delete_=True, type='SeesawLoss', p=0.8, q=2.0,
                          num_classes={{_base_.num_classes}}, loss_weight=1.0))))
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
