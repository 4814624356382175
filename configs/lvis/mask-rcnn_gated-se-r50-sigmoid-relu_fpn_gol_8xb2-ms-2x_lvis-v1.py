# APA paper (Alexandridis et al., ECCV 2024), Table 5, LVIS v1 Mask R-CNN FPN 2x:
#   "GOL (baseline), SE-R50": AP^m 28.2 / AP^r 20.6 / AP^c 28.9 / AP^f 30.8 / AP^b 28.1.
# Backbone: SE-ResNet-50 (plain SE: Sigmoid gate, r = 16, after bn3; ReLU), ImageNet
# pre-trained, stem + stage 1 frozen (gates included), BN in eval mode. The recipe (GOL +
# DropLoss, cosine mask head, RFS, 2x, test settings) is in the base file.
# Classification loss: GOL + DropLoss with preset 'apa', the APA repository's GOL
# (kostas1515/AGLU mmdetection_v3.2/mmdet/models/losses/droploss.py, the loss behind
# this table; docs/gol_loss.md), set in the base file.
_base_ = '../_base_/models/mask-rcnn_gated-r50_fpn_gol_ms-2x_lvis-v1.py'

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
