# Omniglot-LVIS quick config: the ungated twin (mask-rcnn_regnetx-400mf_fpn_gol_1xb4-400i_
# omniglot-lvis.py) converted by config (type='Gated', gated_mm/models/gating): AGLU at every
# ReLU call site of the RegNetX-400MF backbone and of the RPN, bbox and mask heads, and the APA
# paper's SE (LayerNorm, no-bias MLP r = 16, Dropout 0.1, APA gate) before the residual add of
# every bottleneck; otherwise identical. Units and inits as the APA paper's LVIS configs
# (Alexandridis et al., "Adaptive Parametric Activation", ECCV 2024, Sec. 3; detection init
# kappa ~ U(1.0, 1.3), lambda ~ U(0, 1)); the quick-size heads as configs/lvis_synth/.
_base_ = './mask-rcnn_regnetx-400mf_fpn_gol_1xb4-400i_omniglot-lvis.py'

aglu = dict(type='AGLU', kappa_init=(1.0, 1.3), lambda_init=(0.0, 1.0))
relu_to_aglu = dict(replace=['ReLU'], by=aglu)
fpn_levels = [(1, 64, 32, 32), (1, 64, 16, 16), (1, 64, 8, 8), (1, 64, 4, 4), (1, 64, 2, 2)]

model = dict(
    backbone=dict(
        _delete_=True, type='Gated', model={{_base_.model.backbone}}, act=relu_to_aglu,
        insert=dict(after='layer*.*.bn3', cfg=dict(type='GatedSE', style='apa', ratio=16)),
        input_shape=(1, 3, 64, 64)),
    rpn_head=dict(
        _delete_=True, type='Gated', model={{_base_.model.rpn_head}}, act=relu_to_aglu,
        input_shape=fpn_levels),
    roi_head=dict(
        bbox_head=dict(
            _delete_=True, type='Gated', model={{_base_.model.roi_head.bbox_head}},
            act=relu_to_aglu, input_shape=(2, 64, 7, 7)),
        mask_head=dict(
            _delete_=True, type='Gated', model={{_base_.model.roi_head.mask_head}},
            act=relu_to_aglu, input_shape=(2, 64, 14, 14))))
