# NorCal post-hoc calibration (Pan et al., "On Model Calibration for Long-Tailed Object
# Detection and Instance Segmentation", NeurIPS 2021, arXiv:2107.02170; public code
# tydpan/NorCal, projects/NorCal/norcal/roi_heads.py) of a softmax-CE Mask R-CNN R50-FPN 2x
# with RFS (gated_mm/models/heads/norcal.py).
# Paper numbers (as quoted in the APA paper, arXiv:2407.08567, Table 5, with R101, 2x):
#   AP^m 27.3 / AP^r 20.8 / AP^c 26.5 / AP^f 31.0 / AP^b 28.1 (no R50 row there).
# Hyper-parameters, line by line:
#   training: unchanged mmdet softmax CE (C + 1 logits), RFS 1e-3, 2x (the shared recipe);
#     NorCal is applied at test time only: test a CE checkpoint with this config
#   calibration: exp(z_c) / n_c^gamma for the classes, background unchanged, renormalised
#     (public defaults: method 'gamma', calibrate_on 'exps', renorm True)
#   gamma: selected per model in the paper (public code: TEST.CALIBRATION.GAMMA on the
#     command line); 0.6 here is a starting value, not the paper's: sweep it, e.g.
#     --cfg-options model.roi_head.bbox_head.loss_cls.gamma=0.8
#   test: score_thr 1e-4, 300 dets (public Base-NorCal.yaml, as mmdet's LVIS test)
_base_ = '../_base_/models/mask-rcnn_r50_fpn_ms-2x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='NorCalCrossEntropyLoss',
                          num_classes={{_base_.num_classes}}, gamma=0.6,
                          freq_file={{_base_.lvis_train_ann}}, use_sigmoid=False,
                          loss_weight=1.0))))
