# AdaShift-MA ResNet-50 (Cai, CVPR 2024): the shift is multi-head attention over a 7x7 grid of
# average-pooled tokens (q, k, v = three LayerNorms, heads = max(C // 64, 1)), LayerNorm'd
# (weight 0.01) and broadcast back over each cell. Public placement: stem, after bn1, bn2 and
# after the add; the stem unit adds a bias-free Linear(C, C) before a LayerNorm of weight 1.
# Works at any input size (adaptive pooling to 7x7 and nearest upsampling; identical to the
# public 224x224 behaviour when H and W are multiples of 7). +185,856 parameters over R50.
_base_ = './gated-resnet50.py'

model = dict(
    backbone=dict(
        act_cfg=dict(
            _delete_=True,
            stem=dict(type='AdaShiftMA', proj=True, shift_weight_init=1.0),
            bn1=dict(type='AdaShiftMA'),
            bn2=dict(type='AdaShiftMA'),
            add=dict(type='AdaShiftMA'))))
