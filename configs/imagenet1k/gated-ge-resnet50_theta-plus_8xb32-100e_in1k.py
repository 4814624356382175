# ImageNet-1k, GE-theta+ ResNet-50: GE-theta plus a 1x1-conv MLP (C -> C/16 -> C, ReLU) in the
# excite. Paper: 21.88 top-1 error, 33.7 M parameters (here 33.6 M). Recipe: GE-theta config's.
_base_ = './gated-ge-resnet50_theta_8xb32-100e_in1k.py'

model = dict(
    backbone=dict(attention_cfg=[
        dict(type='GatherExcite', variant='theta+', extent=0, feat_size=s, ratio=16)
        for s in (56, 28, 14, 7)
    ]))
