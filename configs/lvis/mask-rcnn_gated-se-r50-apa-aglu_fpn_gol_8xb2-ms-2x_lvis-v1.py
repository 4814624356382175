# APA paper (Alexandridis et al., ECCV 2024), Table 5, LVIS v1 Mask R-CNN FPN 2x:
#   "GOL+AGLU (ours), APA*-R50": AP^m 29.1 / AP^r 21.6 / AP^c 29.6 / AP^f 31.7 / AP^b 29.0.
# Backbone: SE-ResNet-50 with APA-gated SE (LayerNorm, no-bias MLP r = 16, Dropout 0.1, APA
# kappa ~ U(-1, 0), lambda ~ U(0, 1)) and AGLU at every ReLU position (detection init
# kappa ~ U(1.0, 1.3), lambda ~ U(0, 1)); ImageNet pre-trained, stem + stage 1 frozen (their
# kappa, lambda included), BN in eval mode. Recipe in the base file (same as the baseline).
# Classification loss: GOL + DropLoss with preset 'apa', the APA repository's GOL
# (kostas1515/AGLU mmdetection_v3.2/mmdet/models/losses/droploss.py, the loss behind
# this table; docs/gol_loss.md), set in the base file.
_base_ = '../_base_/models/mask-rcnn_gated-r50_fpn_gol_ms-2x_lvis-v1.py'

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
