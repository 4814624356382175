# Omniglot-LVIS quick config: ECM loss (Hyun Cho and Krähenbühl, ECCV 2022, arXiv:2301.09724;
# public code janghyuncho/ECM-Loss), otherwise the GOL-baseline quick config (same backbone,
# data, RFS, schedule; docs/detection_benchmark.md).
# Deltas from the paper recipe (../lvis_baselines/mask-rcnn_r50_fpn_ecm-loss_...):
#   the quick config's backbone / data / schedule (lr 0.02, 50-iteration warm-up, no clipping
#   change); plain linear classifier and the quick config's cosine mask head instead of
#   NormedLinear / NormedConv2d (temperature 20); mmdet's default fc_cls init;
#   background count 6.3313 x the foreground image counts (the public code's value, measured
#   on LVIS; not re-measured for this set).
_base_ = './mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-400i_omniglot-lvis.py'

data_root = '{{$GATED_MM_OMNIGLOT_LVIS:{{ fileDirname }}/../../data/omniglot-lvis}}/'
num_classes = 24

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='ECMLoss', num_classes=num_classes,
                          fg_bg_ratio=6.3313,
                          freq_file=data_root + 'annotations/lvis_v1_train.json'),
            init_cfg=None)))
