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
# Gates: plain SE-ResNet-50 (Sigmoid SE gate, ReLU), the APA paper's baseline.
_base_ = ['./ldam-drw_gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(_delete_=True, type='GatedSE', ratio=16,
                           gate_cfg=dict(type='Sigmoid'))))
