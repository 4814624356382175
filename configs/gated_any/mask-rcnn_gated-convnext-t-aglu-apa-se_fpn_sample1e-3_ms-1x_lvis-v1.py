# Mask R-CNN FPN on LVIS v1 (RFS 1e-3, multi-scale, 1x) on mmpretrain's ConvNeXt-T, converted
# by config (type='Gated', gated_mm/models/gating): AGLU at every GELU call site of the
# backbone and every ReLU call site of the RPN, bbox and mask heads (one unit, own kappa and
# lambda, per call site), and the APA paper's SE (LayerNorm, no-bias MLP r = 16, Dropout 0.1,
# APA gate) after every ConvNeXt block.
# Follows: mmdet configs/lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py (data, recipe)
# and mmdet configs/convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py (backbone,
# neck, ImageNet checkpoint, AdamW lr 2e-4 with layer-wise decay 0.95, weight decay 0.05);
# units as the APA paper (Alexandridis et al., "Adaptive Parametric Activation", ECCV 2024,
# Sec. 3, Eq. 4-5; detection init kappa ~ U(1.0, 1.3), lambda ~ U(0, 1), public code
# github.com/kostas1515/AGLU). The paper has no ConvNeXt result: no target number.
# Parameter names are the upstream ones (the layer-wise decay finds backbone.stages.<i>).
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['gated_mm', 'mmpretrain.models'], allow_failed_imports=False)

checkpoint_file = ('https://download.openmmlab.com/mmclassification/v0/convnext/downstream/'
                   'convnext-tiny_3rdparty_32xb128-noema_in1k_20220301-795e9634.pth')
aglu = dict(type='AGLU', kappa_init=(1.0, 1.3), lambda_init=(0.0, 1.0))
relu_to_aglu = dict(replace=['ReLU'], by=aglu)
fpn_levels = [(1, 256, 32, 32), (1, 256, 16, 16), (1, 256, 8, 8), (1, 256, 4, 4),
              (1, 256, 2, 2)]

model = dict(
    backbone=dict(
        _delete_=True,
        type='Gated',
        model=dict(
            type='mmpretrain.ConvNeXt',
            arch='tiny',
            out_indices=[0, 1, 2, 3],
            drop_path_rate=0.4,
            layer_scale_init_value=1.0,
            gap_before_final_norm=False,
            init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file, prefix='backbone.')),
        act=dict(replace=['GELU'], by=aglu),
        insert=dict(after='stages.*.*', cfg=dict(type='GatedSE', style='apa', ratio=16)),
        input_shape=(1, 3, 64, 64)),
    neck=dict(in_channels=[96, 192, 384, 768]),
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
    _delete_=True,
    type='OptimWrapper',
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg={
        'decay_rate': 0.95,
        'decay_type': 'layer_wise',
        'num_layers': 6
    },
    optimizer=dict(type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05))

# Runtime policy of configs/_base_/default_runtime.py on top of mmdet's runtime (as
# configs/lvis/*): TensorBoard, the last 3 checkpoints plus the best, a progress bar.
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=3, save_best='auto'),
    progress=dict(type='ProgressBarHook'))
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
