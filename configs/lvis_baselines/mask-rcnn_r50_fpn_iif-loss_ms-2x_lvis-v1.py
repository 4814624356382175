# IIF for detection (Alexandridis et al., "Inverse Image Frequency for Long-tailed Image
# Recognition", IEEE TIP 2023, arXiv:2209.04861; public code kostas1515/iif,
# instance_segmentation/configs/activations/iif/iif_r50_4x4_2x.py) on Mask R-CNN R50-FPN 2x
# (gated_mm/models/losses/iif_detection.py).
# Paper numbers (as quoted in the APA paper, arXiv:2407.08567, Table 5, R50, 2x):
#   AP^m 26.3 / AP^r 18.6 / AP^c 25.2 / AP^f 30.8 / AP^b 25.8.
# Hyper-parameters, line by line (public iif_r50_4x4_2x.py):
#   loss: softmax CE on w * z, w = IIF 'raw' = log(N_images / image_count), background 1
#   classifier init: fc_cls constant 0.001, bias 0
#   data: no repeat-factor sampling (oversample_thr 0.0: plain LVIS v1 train), multi-scale
#   schedule, optimiser and test: the shared 2x recipe
_base_ = '../_base_/models/mask-rcnn_r50_fpn_ms-2x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='IIFDetLoss', num_classes={{_base_.num_classes}},
                          variant='raw', freq_file={{_base_.lvis_train_ann}}),
            init_cfg=[
                dict(type='Constant', val=0.001, bias=0.0, override=dict(name='fc_cls')),
                dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
                dict(type='Xavier', distribution='uniform',
                     override=[dict(name='shared_fcs'), dict(name='cls_fcs'),
                               dict(name='reg_fcs')])
            ])))
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
