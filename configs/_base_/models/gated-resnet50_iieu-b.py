# IIEU-B ResNet-50 (Cai, "IIEU: Rethinking Neural Feature Activation from Decision-Making",
# ICCV 2023), an mmpretrain ImageClassifier: the mmpretrain ResNet-50 model base with its
# backbone replaced by GatedResNet.
# Placement (public code): IIEU replaces every ReLU of the bottleneck -- after bn1, bn2, bn3
# (before the add) and on the projection shortcut -- and the stem's (x_pre = the image);
# nothing after the residual add. Each unit: LayerNorm(C) of the shift (weight 0.01) and the
# threshold eta = 0.05: 3C parameters, +79,680 over ResNet-50 (paper: "negligible").
# The public code keeps PyTorch's default conv init and no zero-init of the last BN.
_base_ = 'mmpretrain::_base_/models/resnet50.py'
custom_imports = dict(imports=['gated_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='GatedResNet',
        depth=50,
        act_cfg=dict(
            stem=dict(type='IIEU'),
            bn1=dict(type='IIEU'),
            bn2=dict(type='IIEU'),
            bn3=dict(type='IIEU'),
            shortcut=dict(type='IIEU')),
        attention_cfg=None,
        zero_init_residual=False))
