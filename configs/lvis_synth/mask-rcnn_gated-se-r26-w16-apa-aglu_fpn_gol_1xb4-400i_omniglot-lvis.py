# Omniglot-LVIS quick config: GOL + APA + AGLU (SE-ResNet-26 w16 with APA-gated SE and AGLU),
# otherwise identical to the GOL-baseline quick config it inherits (same data, schedule, GOL
# + DropLoss with the APA repository's preset, the loss of the APA paper's LVIS table).
# Gates as the paper LVIS config mask-rcnn_gated-se-r50-apa-aglu_fpn_gol_8xb2-ms-2x_lvis-v1.py.
_base_ = './mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-400i_omniglot-lvis.py'

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
