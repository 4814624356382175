# ImageNet-1k, GE-theta- ResNet-50: parameter-free gather (global average pooling), sigmoid
# excite; adds no parameters (25.6 M). Paper: 22.14 top-1 error. Recipe: GE-theta config's.
_base_ = './gated-ge-resnet50_theta_8xb32-100e_in1k.py'

model = dict(
    backbone=dict(attention_cfg=dict(
        _delete_=True, type='GatherExcite', variant='theta-', extent=0)))
