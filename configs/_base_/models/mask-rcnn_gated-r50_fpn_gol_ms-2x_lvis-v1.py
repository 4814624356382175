# GOL recipe for LVIS v1 Mask R-CNN FPN (2x, RFS), shared by configs/lvis/*: the APA paper's
# LVIS models (Alexandridis et al., ECCV 2024, Table 5) = GOL (Alexandridis et al., ECCV 2022)
# on a gated backbone. Public code kostas1515/AGLU instance_segmentation/configs/gol/;
# recipe notes in docs/gol_loss.md. The leaf configs set the backbone (SE-R50 or APA-R50).
#
# Recipe, line by line (inherited from mmdet's LVIS v1 config unless set here):
#   data: LVIS v1, RFS (ClassBalancedDataset, oversample_thr 1e-3), multi-scale train
#         (1333, 640..800 step 32), test (1333, 800)                        [mmdet base]
#   batch 8 GPUs x 2 images = 16                                            [mmdet base]
#   bbox head: Shared2FCBBoxHead, 1203 classes, GOL + DropLoss (lambda 0.0011, 815 tail
#         classes; APA repository's GOL preset 'apa'), fc_cls init constant 0.001,
#         bias -2                                                          [here]
#   mask head: FCNMaskHead, cosine conv predictor, learnable temperature init 4.5 used
#         squared, CARAFE upsampling (R50 recipe)                            [here]
#   test: score_thr 1e-4, NMS IoU 0.3, 300 dets, mask_thr 0.4                [here]
#   schedule: SGD lr 0.02, momentum 0.9, wd 1e-4, 500-iter linear warm-up (x0.001),
#         steps at epochs 16 and 22 of 24                                    [here]
# Deviations (stated, configurable): kappa/lambda_ of APA/AGLU are excluded from weight decay
# (the public detection configs meant to but a key typo applied it); the bbox head keeps
# mmdet's Xavier/Normal(0.001) init for shared_fcs/fc_reg (the public config's fc_cls-only
# init_cfg left them at PyTorch defaults). CARAFE: mmcv 2.1.0 has CUDA kernels only; type='carafe'
# builds gated_mm's CARAFEUpsample (mmcv's CARAFEPack; its kernel on GPU, PyTorch on CPU).
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['gated_mm'], allow_failed_imports=False)

num_classes = 1203
model = dict(
    # mmdet's ResNet-50 backbone (4 outputs, stem + stage 1 frozen, BN eval, ImageNet init)
    # built as GatedResNet; ReLU and no attention is torchvision's layout. Leaves set the gates.
    backbone=dict(type='GatedResNet', act_cfg=dict(type='ReLU', inplace=True), attention_cfg=None),
    roi_head=dict(
        bbox_head=dict(
            num_classes=num_classes,
            loss_cls=dict(
                _delete_=True,
                type='GumbelDropLoss',
                num_classes=num_classes,
                lambda_=0.0011,  # LVIS v1 (v0.5: 0.00177)
                # per-class image counts of the training set (buffers; a category file
                # with "categories"[*]["image_count"] and "num_images" works too)
                freq_file='data/lvis_v1/annotations/lvis_v1_train.json',
                # the APA repository's GOL (kostas1515/AGLU, mmdetection_v3.2/mmdet/models/
                # losses/droploss.py, use_classif='gumbel': q clamped to [-10, 10], no loss
                # clamp), the loss of the APA paper's LVIS table; 'gol': the GOL repository's
                # gumbel_ce.py; 'exact': no clamp (gated_mm/models/losses/gol.py)
                preset='apa',
                loss_weight=1.0),
            init_cfg=[
                dict(type='Constant', val=0.001, bias=-2.0, override=dict(name='fc_cls')),
                dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
                dict(type='Xavier', distribution='uniform',
                     override=[dict(name='shared_fcs'), dict(name='cls_fcs'),
                               dict(name='reg_fcs')])
            ]),
        mask_head=dict(
            num_classes=num_classes,
            predictor_cfg=dict(type='CosineConv2d', temperature=4.5, learnable=True,
                               squared=True),
            upsample_cfg=dict(type='carafe', scale_factor=2, up_kernel=5, up_group=1,
                              encoder_kernel=3, encoder_dilation=1,
                              compressed_channels=64))),
    test_cfg=dict(
        rcnn=dict(score_thr=0.0001, nms=dict(type='nms', iou_threshold=0.3),
                  max_per_img=300, mask_thr_binary=0.4)))

# 2x schedule (24 epochs, steps 16 / 22, 500-iteration linear warm-up)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=24, val_interval=24)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=24, by_epoch=True, milestones=[16, 22], gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(custom_keys={
        '.kappa': dict(decay_mult=0.0),
        '.lambda_': dict(decay_mult=0.0)
    }))
auto_scale_lr = dict(enable=False, base_batch_size=16)

# Runtime policy of configs/_base_/default_runtime.py on top of mmdet's runtime (its hooks,
# DetLocalVisualizer, log processor, checkpoint interval and default_scope stay): TensorBoard,
# the last 3 checkpoints plus the best, a progress bar over validation / test batches.
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=3, save_best='auto'),
    progress=dict(type='ProgressBarHook'))
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
