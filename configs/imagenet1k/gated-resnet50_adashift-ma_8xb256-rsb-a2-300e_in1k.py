# ImageNet-1k, AdaShift-MA ResNet-50 (Cai, CVPR 2024): the shift is multi-head attention over
# a 7x7 grid of pooled tokens (any input size; see the model base). +185,856 parameters over
# ResNet-50. The paper's table reports AdaS-B and the hybrid; recipe: the AdaShift-B config's.
_base_ = './gated-resnet50_adashift-b_8xb256-rsb-a2-300e_in1k.py'

model = dict(
    backbone=dict(
        act_cfg=dict(
            _delete_=True,
            stem=dict(type='AdaShiftMA', proj=True, shift_weight_init=1.0),
            bn1=dict(type='AdaShiftMA'),
            bn2=dict(type='AdaShiftMA'),
            add=dict(type='AdaShiftMA'))))
