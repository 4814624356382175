# V3Det Faster R-CNN R50-FPN recipe of the APA paper's public configs (kostas1515/AGLU,
# mmdetection_v3.2 .../activations/*faster_rcnn*_v3det_2x_wc*.py), shared by
# configs/v3det/faster-rcnn_*: mmdet's V3Det recipe (13204 classes, RFS 1e-3, multi-scale
# (1333, 640..800), 8 GPUs x 4 images, AdamW lr 1e-4 wd 0.1, grad clip 35, 2 x 68760
# iterations, steps at 2 x 45840 / 2 x 63030, test score_thr 1e-4, NMS 0.6, 300 dets) with
# the classifier swapped for a wrapped-Cauchy cosine classifier (fixed scale 300) trained
# with softmax cross-entropy (mmdet: NormedLinear + sigmoid CrossEntropyCustomLoss).
# Deviations: kappa / lambda_ excluded from weight decay; the public config's `fp16 =
# dict(loss_scale=512.)` is an mmdet 2.x key that mmengine ignores (use --amp to turn AMP
# on); the wrapped-Cauchy bias is added to the logit, not the cosine (option
# bias_position='cosine' for the public form).
_base_ = 'mmdet::v3det/faster_rcnn_r50_fpn_8x4_sample1e-3_mstrain_v3det_2x.py'
custom_imports = dict(imports=['gated_mm'], allow_failed_imports=False)

model = dict(
    # mmdet's ResNet-50 backbone (4 outputs, stem + stage 1 frozen, BN eval, ImageNet init)
    # built as GatedResNet; ReLU and no attention is torchvision's layout. Leaves set the gates.
    backbone=dict(type='GatedResNet', act_cfg=dict(type='ReLU', inplace=True), attention_cfg=None),
    roi_head=dict(
        bbox_head=dict(
            cls_predictor_cfg=dict(_delete_=True, type='WrappedCauchyLinear', scale=300.0,
                                   learnable_scale=False),
            loss_cls=dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=False,
                          loss_weight=1.0))))
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
