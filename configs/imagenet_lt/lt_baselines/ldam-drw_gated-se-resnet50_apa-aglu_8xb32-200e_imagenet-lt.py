# LDAM-DRW (Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware Margin
# Loss", NeurIPS 2019).
# Recipe of the root config (APA paper's ImageNet-LT recipe: 200 epochs, batch 256, SGD 0.2 /
# 0.9 / 1e-4, 3-epoch warm-up + cosine, AutoAugment), with these changes, line by line:
#   no mixup (the re-balancing losses take hard labels) ... model.train_cfg = None
#   no IIF at test (the loss / classifier does the re-balancing) ... head.logit_adjust = None
#   m_max = 0.5, s = 30 (paper / public code kaidic/LDAM-DRW) ... LDAMLoss(max_margin, scale)
#   normalised (cosine) classifier, s in the loss ... CosineClsHead(scale=1, squash=False)
#   DRW with beta = 0.9999 (paper) from epoch 160 of 200 (the paper's CIFAR ratio; its
#     ImageNet-LT runs defer to 60 of 90) ... LDAMLoss(drw_epoch=160, drw_beta=0.9999)
_base_ = ['../gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(head=dict(_delete_=True, type='CosineClsHead', num_classes=1000, in_channels=2048,
                       scale=1.0, squash=False, topk=(1, 5),
                       loss=dict(type='LDAMLoss', max_margin=0.5, scale=30.0, drw_epoch=160,
                                 drw_beta=0.9999, train_ann_file={{_base_.train_ann_file}})),
             train_cfg=None)
custom_hooks = [dict(type='SetEpochHook')]
