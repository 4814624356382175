# Balanced Softmax (Ren et al., "Balanced Meta-Softmax for Long-Tailed Visual Recognition",
# NeurIPS 2020, Eq. 4): CE(z + log n_y); no hyper-parameter.
# Recipe of the root config (APA paper's ImageNet-LT recipe: 200 epochs, batch 256, SGD 0.2 /
# 0.9 / 1e-4, 3-epoch warm-up + cosine, AutoAugment), with these changes, line by line:
#   no mixup (the re-balancing losses take hard labels) ... model.train_cfg = None
#   no IIF at test (the loss / classifier does the re-balancing) ... head.logit_adjust = None
#   loss BalancedSoftmaxLoss on the training list counts ... head.loss
_base_ = ['../gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(head=dict(logit_adjust=None,
                       loss=dict(_delete_=True, type='BalancedSoftmaxLoss',
                                 train_ann_file={{_base_.train_ann_file}})),
             train_cfg=None)
