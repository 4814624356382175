# First stage of the decoupled classifiers (Kang et al., ICLR 2020): plain softmax CE with
# instance-balanced sampling and a linear classifier (tau-norm and LWS act on its weights).
# Recipe of the root config (APA paper's ImageNet-LT recipe: 200 epochs, batch 256, SGD 0.2 /
# 0.9 / 1e-4, 3-epoch warm-up + cosine, AutoAugment), with these changes, line by line:
#   no mixup (the re-balancing losses take hard labels) ... model.train_cfg = None
#   no IIF at test (the loss / classifier does the re-balancing) ... head.logit_adjust = None
#   linear classifier (Kang et al.) ... head LinearClsHead
_base_ = ['../gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(head=dict(_delete_=True, type='LinearClsHead', num_classes=1000, in_channels=2048,
                       loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)),
             train_cfg=None)
