# ImageNet-LT attention ablation: ResNet-50 with CBAM (spatial attention only)
# after bn3, ReLU units.
# Target: APA paper, attention-type ablation on ImageNet-LT:
#   Spatial + APA: avg 55.2.
# CBAM with style='apa', the public APA code's layout (github.com/kostas1515/AGLU,
# classification/cbam.py; defined once in CBAM.STYLES['apa']): spatial gate conv 7x7 ->
# BN (weight 1, eps 1e-5, momentum 0.01); APA gates kappa, lambda ~ U(0, 1).
# Reproduces spatial gate of SpatialBottleneckGumbel (APA) with ReLU units (the
# public code has no APA + ReLU spatial bottleneck; the paper's '+APA' row);
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
            _delete_=True, type='CBAM', ratio=16, mode='spatial', style='apa')))
