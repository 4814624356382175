# SE-ResNet-50 with APA-gated SE blocks and AGLU activations, an mmpretrain ImageClassifier.
# APA paper (Alexandridis et al., ECCV 2024), Sec. 4 / public code: AGLU at every ReLU
# position (stem, after bn1, bn2, after the residual add); SE after bn3 with LayerNorm,
# no-bias MLP (r = 16), Dropout(0.1) and an APA gate (kappa ~ U(-1, 0), lambda ~ U(0, 1)).
custom_imports = dict(imports=['gated_mm'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='GatedResNet',
        depth=50,
        act_cfg=dict(type='AGLU', kappa_init=(0.8, 1.2), lambda_init=(0.0, 1.0)),
        # style='apa': LayerNorm, no-bias MLP, Dropout(0.1), APA gate kappa ~ U(-1, 0),
        # lambda ~ U(0, 1), defined once in GatedSE.STYLES['apa']
        attention_cfg=dict(type='GatedSE', ratio=16, style='apa')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

# lambda_ and kappa are excluded from weight decay (APA public classification code).
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        '.kappa': dict(decay_mult=0.0),
        '.lambda_': dict(decay_mult=0.0)
    }))
