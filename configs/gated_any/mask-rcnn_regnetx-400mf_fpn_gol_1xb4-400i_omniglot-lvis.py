# Omniglot-LVIS quick config, the ungated twin of
# mask-rcnn_gated-regnetx-400mf-aglu-apa-se_fpn_gol_1xb4-400i_omniglot-lvis.py: mmdet's
# RegNetX-400MF (ReLU, no SE; from scratch, nothing frozen, BN trained) in the GOL-baseline
# Omniglot-LVIS quick recipe (configs/lvis_synth/, data, schedule, GOL + DropLoss with the
# APA repository's preset: the loss of the APA paper's LVIS table, Alexandridis et al., ECCV
# 2024, Table 5). Follows mmdet configs/regnet/mask-rcnn_regnetx-3.2GF_fpn_1x_coco.py for the
# backbone (PyCls mean / std; arch regnetx_400mf, as mmdet configs/regnet/*400MF*).
# Make the data: python tools/dataset_converters/omniglot_to_lvis.py data/omniglot-lvis
_base_ = '../lvis_synth/mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-400i_omniglot-lvis.py'

model = dict(
    data_preprocessor=dict(
        mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395], bgr_to_rgb=False),
    backbone=dict(
        _delete_=True,
        type='RegNet',
        arch='regnetx_400mf',
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        style='pytorch'),
    neck=dict(in_channels=[32, 64, 160, 384]))
