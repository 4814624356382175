# Omniglot-LVIS quick config: Seesaw Loss (Wang et al., "Seesaw Loss for Long-Tailed Instance
# Segmentation", CVPR 2021, arXiv:2008.10032), mmdet 3.3's SeesawLoss (C + 2 outputs: classes
# and a 2-way objectness), otherwise the GOL-baseline quick config (same backbone, data, RFS,
# schedule; docs/detection_benchmark.md).
# Deltas from the paper recipe (../lvis_baselines/mask-rcnn_r50_fpn_seesaw-loss_random-ms-2x_...):
#   the quick config's backbone / data / schedule; RFS kept (the mmdet recipe samples
#   uniformly); plain linear classifier instead of NormedLinear (temperature 20); mmdet's
#   default fc_cls init. p = 0.8, q = 2.0 as the paper.
_base_ = './mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-400i_omniglot-lvis.py'

num_classes = 24

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='SeesawLoss', p=0.8, q=2.0,
                          num_classes=num_classes, loss_weight=1.0),
            init_cfg=None)))
