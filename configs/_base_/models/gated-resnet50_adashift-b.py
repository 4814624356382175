# AdaShift-B ResNet-50 (Cai, "AdaShift: Learning Discriminative Self-Gated Neural Feature
# Activation With an Adaptive Shift Factor", CVPR 2024), an mmpretrain ImageClassifier.
# phi(x) = x * sigmoid(x + LayerNorm_C(GAP(x))) (LayerNorm weight 0.01, eps 1e-6) at every
# ReLU position of the public code: stem, after bn1, bn2 and after the residual add.
# 2C parameters per unit: +45,440 over ResNet-50.
_base_ = './gated-resnet50.py'

# a single config: the ReLU positions
model = dict(backbone=dict(act_cfg=dict(_delete_=True, type='AdaShiftB')))
