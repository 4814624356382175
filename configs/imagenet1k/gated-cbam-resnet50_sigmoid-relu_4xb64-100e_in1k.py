# ImageNet-1k, the original CBAM-ResNet-50 (Woo et al., ECCV 2018; 22.66 top-1 error in its
# Table): Sigmoid gates, MLP with bias, no LayerNorm/Dropout, spatial BN weight initialised
# to 0, ReLU. For the APA code's Sigmoid baseline (LayerNorm + Dropout kept) use
# style='apa', gate_cfg=dict(type='Sigmoid'). Recipe: the SE config's.
_base_ = './gated-cbam-resnet50_apa-aglu_4xb64-100e_in1k.py'

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(_delete_=True, type='CBAM', ratio=16, mode='both', style='original')))
