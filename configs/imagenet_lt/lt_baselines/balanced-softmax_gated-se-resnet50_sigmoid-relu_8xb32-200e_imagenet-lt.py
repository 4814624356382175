# Balanced Softmax (Ren et al., "Balanced Meta-Softmax for Long-Tailed Visual Recognition",
# NeurIPS 2020, Eq. 4): CE(z + log n_y); no hyper-parameter.
# Recipe of the root config (APA paper's ImageNet-LT recipe: 200 epochs, batch 256, SGD 0.2 /
# 0.9 / 1e-4, 3-epoch warm-up + cosine, AutoAugment), with these changes, line by line:
#   no mixup (the re-balancing losses take hard labels) ... model.train_cfg = None
#   no IIF at test (the loss / classifier does the re-balancing) ... head.logit_adjust = None
#   loss BalancedSoftmaxLoss on the training list counts ... head.loss
# Gates: plain SE-ResNet-50 (Sigmoid SE gate, ReLU), the APA paper's baseline.
_base_ = ['./balanced-softmax_gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(_delete_=True, type='GatedSE', ratio=16,
                           gate_cfg=dict(type='Sigmoid'))))
