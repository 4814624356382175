# Quick CPU run of the LVIS pipeline on real data: GOL + APA + AGLU (half-width SE-ResNet-26
# with APA-gated SE and AGLU), otherwise identical to the GOL-baseline quick config it
# inherits (mini-LVIS, 300 iterations from scratch, CPU-sized test). A demonstration, not a
# paper target.
# Paper counterpart: mask-rcnn_gated-se-r50-apa-aglu_fpn_gol_8xb2-ms-2x_lvis-v1.py.
_base_ = './mask-rcnn_gated-se-r26-w32-sigmoid-relu_fpn_gol_1xb2-300i_mini-lvis.py'

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
