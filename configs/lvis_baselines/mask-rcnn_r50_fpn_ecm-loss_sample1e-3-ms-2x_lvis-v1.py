# ECM loss (Hyun Cho and Krähenbühl, "Long-tail Detection with Effective Class-Margins",
# ECCV 2022, arXiv:2301.09724; public code janghyuncho/ECM-Loss,
# configs/effective_class_margin_loss/r50_ecm_2x.py) on Mask R-CNN R50-FPN 2x
# (gated_mm/models/losses/ecm.py).
# Paper numbers (as quoted in the APA paper, arXiv:2407.08567, Table 5, R50, 2x):
#   AP^m 27.4 / AP^r 19.7 / AP^c 27.0 / AP^f 31.1 / AP^b 27.9.
# Hyper-parameters, line by line (public r50_ecm_2x.py):
#   loss: ECM, C + 1 sigmoid outputs, background count = 6.3313 x the foreground image counts
#   classifier: cosine (mmdet NormedLinear, temperature 20); mask predictor NormedConv2d, 20
#   optimiser: SGD lr 0.02, momentum 0.9, wd 1e-4, gradient clipping max_norm 5
#   schedule: 24 epochs, linear warm-up 10,000 iterations from 1e-4, steps at 20 / 22
#   data: RFS 1e-3 (mmdet lvis_v1_instance), multi-scale 640..800, flip; test score_thr 1e-4,
#         300 dets
_base_ = '../_base_/models/mask-rcnn_r50_fpn_ms-2x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
            loss_cls=dict(_delete_=True, type='ECMLoss', num_classes={{_base_.num_classes}},
                          fg_bg_ratio=6.3313, freq_file={{_base_.lvis_train_ann}})),
        mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))
optim_wrapper = dict(clip_grad=dict(max_norm=5, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.0001, by_epoch=False, begin=0, end=10000),
    dict(type='MultiStepLR', begin=0, end=24, by_epoch=True, milestones=[20, 22], gamma=0.1)
]
