# APA paper (Alexandridis et al., ECCV 2024), balanced-detection table (a) COCO:
#   "MaskRCNN-R50": AP^b 39.2 / AP^m 35.4 (mmdet's Mask R-CNN R50-FPN 2x).
# mmdet's recipe unchanged (torchvision ImageNet R50, stem + stage 1 frozen, BN eval,
# (1333, 800), SGD lr 0.02, momentum 0.9, wd 1e-4, 500-iteration warm-up, 24 epochs, steps
# 16 / 22, 8 GPUs x 2 images) with the backbone built as GatedResNet: ReLU everywhere, no
# attention, which is exactly torchvision's ResNet-50 (same parameter names).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_2x_coco.py'
custom_imports = dict(imports=['gated_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(type='GatedResNet', act_cfg=dict(type='ReLU', inplace=True), attention_cfg=None))
# the gated variants exclude kappa / lambda_ from weight decay; kept here for uniformity
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
