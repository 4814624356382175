# APA paper (Alexandridis et al., ECCV 2024), balanced-detection table (a) COCO:
#   "w/ SE": AP^b 40.5 / AP^m 36.9 (Mask R-CNN SE-R50-FPN 2x).
# mmdet's Mask R-CNN R50-FPN 2x recipe (see mask-rcnn_gated-r50-relu_fpn_8xb2-2x_coco.py)
# with an ImageNet SE-ResNet-50 backbone (Sigmoid SE gate r = 16 after bn3, ReLU). The public
# APA config (mmdetection_v3.2 .../mask_rcnn/attention/se_r50_fpn_2x_coco*.py) uses the
# same mmdet 2x schedule.
_base_ = './mask-rcnn_gated-r50-relu_fpn_8xb2-2x_coco.py'

# ImageNet backbone (SE-ResNet (Sigmoid gate, ReLU)): convert the public APA ImageNet checkpoint
# (github.com/kostas1515/AGLU, classification/) to a backbone-only state dict:
#   python tools/dataset_converters/convert_apa_checkpoint.py APA_CKPT.pth \
#       checkpoints/gated-se-resnet50_sigmoid-relu_in1k_backbone.pth --backbone-only
# tools/train.py stops with this instruction when the file is missing.
pretrained = 'checkpoints/gated-se-resnet50_sigmoid-relu_in1k_backbone.pth'
model = dict(
    backbone=dict(
        attention_cfg=dict(
            _delete_=True, type='GatedSE', ratio=16, gate_cfg=dict(type='Sigmoid')),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
