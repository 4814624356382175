# IIEU-B ResNet-50 (Cai, "IIEU: Rethinking Neural Feature Activation from Decision-Making",
# ICCV 2023), an mmpretrain ImageClassifier: gated-resnet50.py (mmpretrain's ResNet-50 with
# the GatedResNet backbone) with IIEU units.
# Placement (public code): IIEU replaces every ReLU of the bottleneck -- after bn1, bn2, bn3
# (before the add) and on the projection shortcut -- and the stem's (x_pre = the image);
# nothing after the residual add. Each unit: LayerNorm(C) of the shift (weight 0.01) and the
# threshold eta = 0.05: 3C parameters, +79,680 over ResNet-50 (paper: "negligible").
# The public code keeps PyTorch's default conv init and no zero-init of the last BN.
_base_ = './gated-resnet50.py'

model = dict(
    backbone=dict(
        act_cfg=dict(
            _delete_=True,
            stem=dict(type='IIEU'),
            bn1=dict(type='IIEU'),
            bn2=dict(type='IIEU'),
            bn3=dict(type='IIEU'),
            shortcut=dict(type='IIEU')),
        zero_init_residual=False))
