# ImageNet-LT activation ablation: SE-ResNet-50, APA-gated SE, GELU at every ReLU position
# (stem, after bn1, after bn2, after the residual add).
# Target: APA paper, activation ablation on ImageNet-LT ("Activations" table): GELU avg 57.5
# (ReLU 57.4, AGLU 57.9 are gated-se-resnet50_apa-{relu,aglu}_8xb32-200e_imagenet-lt.py).
# Recipe: everything but the backbone gates is inherited from
# gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py (the paper's ImageNet-LT recipe,
# checked line by line in its header: 200 epochs, batch 256, SGD 0.2 / 0.9 / 1e-4, 3-epoch
# warm-up + cosine, mixup 0.2, AutoAugment, cosine classifier s = 16, IIF 'rel' at test).
_base_ = ['./gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(backbone=dict(act_cfg=dict(_delete_=True, type='GELU')))
