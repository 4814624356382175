# Logit-adjusted loss (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021,
# Eq. 10): CE(z + tau log pi).
# Recipe of the root config (APA paper's ImageNet-LT recipe: 200 epochs, batch 256, SGD 0.2 /
# 0.9 / 1e-4, 3-epoch warm-up + cosine, AutoAugment), with these changes, line by line:
#   no mixup (the re-balancing losses take hard labels) ... model.train_cfg = None
#   no IIF at test (the loss / classifier does the re-balancing) ... head.logit_adjust = None
#   tau = 1 (paper's ImageNet-LT choice) ... head.loss.tau
_base_ = ['../gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(head=dict(logit_adjust=None,
                       loss=dict(_delete_=True, type='LogitAdjustedLoss', tau=1.0,
                                 train_ann_file={{_base_.train_ann_file}})),
             train_cfg=None)
