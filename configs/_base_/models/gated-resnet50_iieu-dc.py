# IIEU-DC ResNet-50 (Cai, ICCV 2023, Sec. 2.3 / Fig. 4): IIEU-B plus the Dynamic Coupler,
# which replaces the residual add x + res by softmax-weighted alpha0 * x + alpha1 * res
# (LayerNorm of both branches' channel means, a C -> C/16 -> C MLP with an IIEU in vector form,
# LayerNorm with weight 0.01). +2,640,496 parameters over IIEU-B ResNet-50.
_base_ = './gated-resnet50_iieu-b.py'

model = dict(backbone=dict(merge_cfg=dict(type='DynamicCoupler', ratio=16)))
