# CIFAR SE-ResNet-32 with APA-gated SE blocks (r = 4) and AGLU units, an mmpretrain
# ImageClassifier: the APA paper's CIFAR model (public code kostas1515/AGLU, se_resnet32), i.e.
# the SE-ResNet-50 APA + AGLU model base with the CIFAR backbone, data preprocessor and head.
# Backbone GatedCifarResNet: GatedResNet with the basic block (GatedBasicBlock), three stages
# of (depth - 2) / 6 = 5 blocks, 16-32-64 channels, the 3x3 CIFAR stem and option-A shortcuts;
# SE after bn2 (ratio 4; LayerNorm, no-bias MLP, Dropout 0.1, APA gate as the base's); AGLU at
# the stem, after bn1 and after the add. With ReLU and no attention it is the plain 0.46 M
# ResNet-32 (0.478 M with these SE / APA / AGLU units). Head: cosine classifier, scale 16 (the
# paper's --classif_norm cosine) for 100 classes; its logit_adjust (IIF) is set by the config,
# which knows the training counts. kappa, lambda without weight decay: the base's paramwise_cfg.
_base_ = ['./gated-se-resnet50_apa-aglu.py']

model = dict(
    data_preprocessor=dict(
        num_classes=100,
        # public code: Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)) x 255
        mean=[125.307, 122.961, 113.8575],
        std=[51.5865, 50.847, 51.255],
        to_rgb=False),
    backbone=dict(type='GatedCifarResNet', depth=32, stem_channels=16, base_channels=16,
                  shortcut='A', attention_cfg=dict(ratio=4)),
    head=dict(type='CosineClsHead', num_classes=100, in_channels=64, scale=16.))
