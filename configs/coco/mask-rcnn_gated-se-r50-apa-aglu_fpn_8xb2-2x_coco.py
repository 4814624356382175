# APA paper (Alexandridis et al., ECCV 2024), balanced-detection table (a) COCO:
#   "w/ APA*+AGLU": AP^b 41.2 / AP^m 37.6 (Mask R-CNN APA-SE-R50-FPN 2x).
# mmdet's Mask R-CNN R50-FPN 2x recipe with the ImageNet APA + AGLU SE-ResNet-50: APA-gated SE
# (LayerNorm, no-bias MLP r = 16, Dropout 0.1, APA kappa ~ U(-1, 0), lambda ~ U(0, 1)) and
# AGLU at every ReLU position (detection init kappa ~ U(1.0, 1.3), lambda ~ U(0, 1)); stem +
# stage 1 frozen with their kappa / lambda. Deviation: kappa / lambda_ are excluded from weight
# decay (the public detection code applies it, by accident).
_base_ = './mask-rcnn_gated-r50-relu_fpn_8xb2-2x_coco.py'

# ImageNet backbone (APA + AGLU SE-ResNet): convert the public APA ImageNet checkpoint
# (github.com/kostas1515/AGLU, classification/) to a backbone-only state dict:
#   python tools/dataset_converters/convert_apa_checkpoint.py APA_CKPT.pth \
#       checkpoints/gated-se-resnet50_apa-aglu_in1k_backbone.pth --backbone-only
# tools/train.py stops with this instruction when the file is missing.
pretrained = 'checkpoints/gated-se-resnet50_apa-aglu_in1k_backbone.pth'
model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='AGLU', kappa_init=(1.0, 1.3),
                     lambda_init=(0.0, 1.0)),
        attention_cfg=dict(
            _delete_=True,
            type='GatedSE',
            ratio=16,
            gate_cfg=dict(type='APA', kappa_init=(-1.0, 0.0), lambda_init=(0.0, 1.0)),
            layer_norm=True,
            dropout=0.1),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
