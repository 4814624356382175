# APA paper (Alexandridis et al., ECCV 2024), balanced-detection table (b) V3Det:
#   "Cascade R-CNN-R50 w/ SE": AP^b 33.3 (mmdet's Cascade R-CNN R50: 31.6).
# ImageNet SE-ResNet-50 backbone (Sigmoid SE gate r = 16 after bn3, ReLU; stem + stage 1
# frozen, BN eval) in the V3Det recipe of the base file (wrapped-Cauchy classifier, scale 300).
_base_ = '../_base_/models/cascade-rcnn_gated-r50_fpn_wc_8xb4-2x_v3det.py'

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
