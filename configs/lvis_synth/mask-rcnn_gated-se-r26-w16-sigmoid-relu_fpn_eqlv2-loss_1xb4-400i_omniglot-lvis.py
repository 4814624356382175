# Omniglot-LVIS quick config: Equalization Loss v2 (Tan et al., "Equalization Loss v2",
# CVPR 2021, arXiv:2012.08548), mmdet 3.3's EQLV2Loss through gated_mm's EQLV2HeadLoss (which
# adds the mmdet BBoxHead hooks mmdet's class lacks: sigmoid test scores), otherwise the
# GOL-baseline quick config (same backbone, data, RFS, schedule; docs/detection_benchmark.md).
# Deltas from the paper recipe (../lvis_baselines/mask-rcnn_r50_fpn_eqlv2-loss_1x_lvis-v1.py):
#   the quick config's backbone / data / schedule; RFS kept (the paper trains without
#   it); mmdet's default fc_cls init. gamma 12, mu 0.8, alpha 4 as the paper.
_base_ = './mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-400i_omniglot-lvis.py'

num_classes = 24

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='EQLV2HeadLoss',
                          num_classes=num_classes, gamma=12, mu=0.8, alpha=4.0),
            init_cfg=None)))
