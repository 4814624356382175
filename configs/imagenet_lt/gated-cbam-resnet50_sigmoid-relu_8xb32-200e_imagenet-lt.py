# ImageNet-LT attention ablation: ResNet-50 with CBAM (channel then spatial attention)
# after bn3, ReLU units.
# Target: APA paper, attention-type ablation on ImageNet-LT:
#   Spatial + Channel [98]: avg 55.6.
# CBAM with style='apa', the public APA code's layout (github.com/kostas1515/AGLU,
# classification/cbam.py; defined once in CBAM.STYLES['apa']): channel gate with LayerNorm on
# each pooled vector and Dropout(0.1) after the bias MLP (r = 16); spatial gate conv 7x7 ->
# BN (weight 1, eps 1e-5, momentum 0.01); APA gates kappa, lambda ~ U(0, 1)
# (replaced by Sigmoid gates here).
# Reproduces the public cb_resnet50(), i.e. CBAMBottleneck: Sigmoid gates, ReLU units;
# checked against a float64 transcription of the public code in
# tests/models/attention/test_fidelity_cbam.py (docs/fidelity.md).
# Recipe: everything but the backbone gates is inherited from
# gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py (the paper's ImageNet-LT recipe,
# checked line by line in its header: 200 epochs, batch 256, SGD 0.2 / 0.9 / 1e-4, 3-epoch
# warm-up + cosine, mixup 0.2, AutoAugment, cosine classifier s = 16, IIF 'rel' at test).
_base_ = ['./gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(
            _delete_=True, type='CBAM', ratio=16, mode='both', style='apa',
            gate_cfg=dict(type='Sigmoid'))))
