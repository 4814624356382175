# Omniglot-LVIS, CI size, GOL + APA + AGLU: the CI config
# (./mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-150i_omniglot-lvis-8c.py: 8 classes,
# 150 iterations, same data, schedule and GOL + DropLoss) with the gates of the APA paper's LVIS
# model (Alexandridis et al., ECCV 2024, Table 5; kostas1515/AGLU instance_segmentation):
# AGLU units and APA-gated SE (as ./mask-rcnn_gated-se-r26-w16-apa-aglu_fpn_gol_1xb4-400i_
# omniglot-lvis.py and ../lvis/mask-rcnn_gated-se-r50-apa-aglu_fpn_gol_8xb2-ms-2x_lvis-v1.py).
# The learning test of the gated detector in tests/test_omniglot_lvis.py
# (docs/detection_benchmark.md, "CI test"). Not a benchmark. Data and commands: as the CI config.
_base_ = './mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-150i_omniglot-lvis-8c.py'

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='AGLU', kappa_init=(1.0, 1.3),
                     lambda_init=(0.0, 1.0)),
        attention_cfg=dict(
            _delete_=True,
            type='GatedSE',
            ratio=16,
            gate_cfg=dict(type='APA', kappa_init=(-1.0, 0.0), lambda_init=(0.0, 1.0)),
            layer_norm=True,
            dropout=0.1)))
