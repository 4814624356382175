# Shared recipe of the long-tailed LVIS v1 baselines in configs/lvis_baselines/ (the comparison
# setting of the APA paper's Table 5: Mask R-CNN R50-FPN, 2x; Alexandridis et al., ECCV 2024,
# arXiv:2407.08567). Each leaf sets its classification loss / calibration and its own deltas.
#
# Recipe, line by line (inherited from mmdet's LVIS v1 config unless set here):
#   backbone: ResNet-50 (torchvision ImageNet weights), stem + stage 1 frozen, BN eval  [mmdet]
#         built as GatedResNet with ReLU and no attention (torchvision's layout)      [here]
#   data: LVIS v1 train, RFS (ClassBalancedDataset, oversample_thr 1e-3), multi-scale
#         (1333, 640..800 step 32), flip 0.5; test (1333, 800)                        [mmdet]
#   batch 8 GPUs x 2 images = 16; SGD lr 0.02, momentum 0.9, wd 1e-4                    [mmdet]
#   test: score_thr 1e-4, 300 detections per image, NMS 0.5, mask_thr 0.5              [mmdet]
#   schedule: 2x = 24 epochs, 500-iteration linear warm-up (x0.001), steps at 16 / 22  [here]
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['gated_mm'], allow_failed_imports=False)

num_classes = 1203
lvis_train_ann = 'data/lvis_v1/annotations/lvis_v1_train.json'

model = dict(
    backbone=dict(type='GatedResNet', act_cfg=dict(type='ReLU', inplace=True), attention_cfg=None))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=24, val_interval=24)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=24, by_epoch=True, milestones=[16, 22], gamma=0.1)
]
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={  # the package-wide policy (no APA/AGLU here)
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
