# APA paper (Alexandridis et al., ECCV 2024), balanced-detection table (b) V3Det:
#   "Faster R-CNN-R50 w/ APA*+AGLU": AP^b 29.9 (w/ SE 27.0, mmdet's Faster R-CNN R50 25.4).
# ImageNet APA + AGLU SE-ResNet-50: APA-gated SE (LayerNorm, no-bias MLP r = 16, Dropout 0.1,
# APA kappa ~ U(-1, 0), lambda ~ U(0, 1)) and AGLU at every ReLU position (detection init
# kappa ~ U(1.0, 1.3), lambda ~ U(0, 1)); stem + stage 1 frozen with their kappa / lambda, BN
# eval; V3Det recipe of the base file (wrapped-Cauchy classifier, scale 300).
_base_ = '../_base_/models/faster-rcnn_gated-r50_fpn_wc_8xb4-2x_v3det.py'

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
