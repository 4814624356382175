# ImageNet-LT attention ablation: ResNet-50 with CBAM (channel then spatial attention)
# after bn3, ReLU units.
# Target: APA paper, attention-type ablation on ImageNet-LT:
#   Spatial + Channel + APA: avg 56.9.
# CBAM as in the public APA code (kostas1515/AGLU classification/cbam.py; docs/methods.md): channel gate with LayerNorm on each
# pooled vector and Dropout(0.1) after the bias MLP (r = 16) even with Sigmoid gates; spatial
# gate conv 7x7 -> BN (weight 1, eps 1e-5, momentum 0.01). APA gates: kappa, lambda ~ U(0, 1).
# NEEDS CHECKING against the final CBAM of gated_mm/models/attention/cbam.py (args used:
# channels, ratio, mode, gate_cfg, layer_norm, dropout, bias, spatial_norm_weight_init).
# Recipe: everything but the backbone gates is inherited from
# gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py (the paper's ImageNet-LT recipe,
# checked line by line in its header: 200 epochs, batch 256, SGD 0.2 / 0.9 / 1e-4, 3-epoch
# warm-up + cosine, mixup 0.2, AutoAugment, cosine classifier s = 16, IIF 'rel' at test).
_base_ = ['./gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(
            _delete_=True,
            type='CBAM',
            ratio=16,
            mode='both',
            gate_cfg=dict(type='APA', kappa_init=(0.0, 1.0), lambda_init=(0.0, 1.0)),
            layer_norm=True,
            dropout=0.1,
            bias=True,
            spatial_norm_weight_init=1.0)))
