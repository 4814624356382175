# GatedResNet-50 as mmpretrain's ResNet-50 classifier (ReLU at the ReLU positions, no
# attention): mmpretrain's ResNet-50 model base with its backbone replaced by GatedResNet; the
# root of the IIEU, AdaShift and Gather-Excite model bases, which change only act_cfg,
# attention_cfg or the residual merge.
_base_ = 'mmpretrain::_base_/models/resnet50.py'
custom_imports = dict(imports=['gated_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='GatedResNet',
        depth=50,
        act_cfg=dict(type='ReLU', inplace=True),
        attention_cfg=None))
