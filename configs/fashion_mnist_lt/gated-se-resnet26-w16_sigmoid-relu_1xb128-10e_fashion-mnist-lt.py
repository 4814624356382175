# Baseline of the quick-start: the same network with the plain SE (Sigmoid gate) and ReLU,
# everything else identical, for a side-by-side comparison with the APA + AGLU model.
_base_ = ['./gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py']

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(
            _delete_=True, type='GatedSE', ratio=16, gate_cfg=dict(type='Sigmoid'))))
