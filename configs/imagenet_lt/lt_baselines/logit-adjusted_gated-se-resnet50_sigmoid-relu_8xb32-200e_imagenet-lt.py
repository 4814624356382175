# Logit-adjusted loss (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021,
# Eq. 10): CE(z + tau log pi).
# Recipe of the root config (APA paper's ImageNet-LT recipe: 200 epochs, batch 256, SGD 0.2 /
# 0.9 / 1e-4, 3-epoch warm-up + cosine, AutoAugment), with these changes, line by line:
#   no mixup (the re-balancing losses take hard labels) ... model.train_cfg = None
#   no IIF at test (the loss / classifier does the re-balancing) ... head.logit_adjust = None
#   tau = 1 (paper's ImageNet-LT choice) ... head.loss.tau
# Gates: plain SE-ResNet-50 (Sigmoid SE gate, ReLU), the APA paper's baseline.
_base_ = ['./logit-adjusted_gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(_delete_=True, type='GatedSE', ratio=16,
                           gate_cfg=dict(type='Sigmoid'))))
