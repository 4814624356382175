# Class-balanced focal loss (Cui et al., "Class-Balanced Loss Based on Effective Number of
# Samples", CVPR 2019): w_y (1 - p_y)^gamma (-log p_y), w from the effective number.
# Recipe of the root config (APA paper's ImageNet-LT recipe: 200 epochs, batch 256, SGD 0.2 /
# 0.9 / 1e-4, 3-epoch warm-up + cosine, AutoAugment), with these changes, line by line:
#   no mixup (the re-balancing losses take hard labels) ... model.train_cfg = None
#   no IIF at test (the loss / classifier does the re-balancing) ... head.logit_adjust = None
#   beta = 0.999, gamma = 0.5 (paper's ImageNet setting) ... ClassBalancedLoss(beta, gamma)
#   softmax focal (paper: sigmoid focal) ... loss_type='focal'
_base_ = ['../gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(head=dict(logit_adjust=None,
                       loss=dict(_delete_=True, type='ClassBalancedLoss', beta=0.999,
                                 loss_type='focal', gamma=0.5,
                                 train_ann_file={{_base_.train_ann_file}})),
             train_cfg=None)
