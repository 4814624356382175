# Mask R-CNN FPN on LVIS v1 (RFS 1e-3, multi-scale, 1x) on mmdet's RegNetX-3.2GF, converted by
# config (type='Gated', gated_mm/models/gating): AGLU at every ReLU call site of the backbone,
# the RPN head, the bbox head and the mask head (one unit, own kappa and lambda, per call
# site), and the APA paper's SE (LayerNorm, no-bias MLP r = 16, Dropout 0.1, APA gate) before
# the residual add of every bottleneck (after bn3, as SE-ResNet).
# Follows: mmdet configs/lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py (data, recipe)
# and mmdet configs/regnet/mask-rcnn_regnetx-3.2GF_fpn_1x_coco.py (backbone, neck, PyCls
# mean/std, weight decay 5e-5); units as the APA paper (Alexandridis et al., "Adaptive
# Parametric Activation", ECCV 2024, Sec. 3, Eq. 4-5: APA replaces Sigmoid gates, AGLU
# replaces ReLU; detection init kappa ~ U(1.0, 1.3), lambda ~ U(0, 1), public code
# github.com/kostas1515/AGLU). The paper has no RegNet result: no target number.
# The ImageNet RegNet checkpoint loads into the converted backbone with only the new
# kappa / lambda / SE keys missing (mmengine logs them).
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['gated_mm'], allow_failed_imports=False)

aglu = dict(type='AGLU', kappa_init=(1.0, 1.3), lambda_init=(0.0, 1.0))
relu_to_aglu = dict(replace=['ReLU'], by=aglu)
# probe shapes of the heads' inputs: FPN levels P2-P6, RoI features 7x7 and 14x14
fpn_levels = [(1, 256, 32, 32), (1, 256, 16, 16), (1, 256, 8, 8), (1, 256, 4, 4),
              (1, 256, 2, 2)]

model = dict(
    data_preprocessor=dict(
        mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395], bgr_to_rgb=False),
    backbone=dict(
        _delete_=True,
        type='Gated',
        model=dict(
            type='RegNet',
            arch='regnetx_3.2gf',
            out_indices=(0, 1, 2, 3),
            frozen_stages=1,
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=True,
            style='pytorch',
            init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://regnetx_3.2gf')),
        act=relu_to_aglu,
        insert=dict(after='layer*.*.bn3', cfg=dict(type='GatedSE', style='apa', ratio=16)),
        input_shape=(1, 3, 64, 64)),
    neck=dict(in_channels=[96, 192, 432, 1008]),
    rpn_head=dict(
        _delete_=True, type='Gated', model={{_base_.model.rpn_head}}, act=relu_to_aglu,
        input_shape=fpn_levels),
    roi_head=dict(
        bbox_head=dict(
            _delete_=True, type='Gated', model={{_base_.model.roi_head.bbox_head}},
            act=relu_to_aglu, input_shape=(2, 256, 7, 7)),
        mask_head=dict(
            _delete_=True, type='Gated', model={{_base_.model.roi_head.mask_head}},
            act=relu_to_aglu, input_shape=(2, 256, 14, 14))))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.00005),
    # kappa / lambda_ of APA and AGLU without weight decay (as configs/lvis/*)
    paramwise_cfg=dict(custom_keys={
        '.kappa': dict(decay_mult=0.0),
        '.lambda_': dict(decay_mult=0.0)
    }))

# Runtime policy of configs/_base_/default_runtime.py on top of mmdet's runtime (as
# configs/lvis/*): TensorBoard, the last 3 checkpoints plus the best, a progress bar.
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=3, save_best='auto'),
    progress=dict(type='ProgressBarHook'))
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
