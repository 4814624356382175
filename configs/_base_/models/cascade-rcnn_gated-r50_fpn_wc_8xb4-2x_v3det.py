# V3Det Cascade R-CNN R50-FPN recipe of the APA paper's public configs (kostas1515/AGLU,
# mmdetection_v3.2 .../activations/se_cascade_rcnn_*_v3det_2x_wc*.py), shared by
# configs/v3det/cascade-rcnn_*: mmdet's V3Det Cascade recipe (13204 classes, RFS 1e-3,
# multi-scale (1333, 640..800), 8 GPUs x 4 images, AdamW lr 1e-4 wd 0.1, grad clip 35,
# 2 x 68760 iterations, test score_thr 1e-4, NMS 0.6, 300 dets) with each stage's classifier
# swapped for a wrapped-Cauchy cosine classifier (fixed scale 300) and softmax
# cross-entropy. Deviations as faster-rcnn_gated-r50_fpn_wc_8xb4-2x_v3det.py.
_base_ = 'mmdet::v3det/cascade_rcnn_r50_fpn_8x4_sample1e-3_mstrain_v3det_2x.py'
custom_imports = dict(imports=['gated_mm'], allow_failed_imports=False)

wc_stage = dict(
    type='Shared2FCBBoxHead',
    in_channels=256,
    fc_out_channels=1024,
    roi_feat_size=7,
    num_classes=13204,
    reg_class_agnostic=True,
    cls_predictor_cfg=dict(type='WrappedCauchyLinear', scale=300.0, learnable_scale=False),
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    loss_bbox=dict(type='L1Loss', loss_weight=1.0))
model = dict(
    # mmdet's ResNet-50 backbone (4 outputs, stem + stage 1 frozen, BN eval, ImageNet init)
    # built as GatedResNet; ReLU and no attention is torchvision's layout. Leaves set the gates.
    backbone=dict(type='GatedResNet', act_cfg=dict(type='ReLU', inplace=True), attention_cfg=None),
    roi_head=dict(bbox_head=[
        dict(wc_stage, bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                                       target_stds=[0.1, 0.1, 0.2, 0.2])),
        dict(wc_stage, bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                                       target_stds=[0.05, 0.05, 0.1, 0.1])),
        dict(wc_stage, bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                                       target_stds=[0.033, 0.033, 0.067, 0.067]))
    ]))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        '.kappa': dict(decay_mult=0.0),
        '.lambda_': dict(decay_mult=0.0)
    }))

# Runtime policy of configs/_base_/default_runtime.py on top of mmdet's runtime (its hooks,
# DetLocalVisualizer, log processor, checkpoint interval and default_scope stay): TensorBoard,
# the last 3 checkpoints plus the best, a progress bar over validation / test batches.
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=3, save_best='auto'),
    progress=dict(type='ProgressBarHook'))
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
