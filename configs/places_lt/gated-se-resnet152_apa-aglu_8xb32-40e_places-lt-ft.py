# Places-LT, SE-ResNet-152 with APA-gated SE and AGLU units, fine-tuned from ImageNet-1k.
# Target: APA paper, Places-LT table, APA + AGLU: 42.0 top-1 (from the paper's listing on
# paperswithcode; many/medium/few not checked against the paper's table yet).
# Recipe (public code kostas1515/AGLU, classification/README: "torchrun --nproc_per_node=4
# train.py --dset_name places_lt --model se_resnet152 --epochs 40 -b 64 --lr 0.1 --wd 5e-05
# --lr-scheduler cosineannealinglr --lr-warmup-epochs 3 --lr-warmup-method linear --pretrained
# <SE-R152 ImageNet-1k> --mixup 0.2 --auto-augment imagenet --classif_norm lr_cosine
# --label-smoothing 0.1 --cutmix-alpha 1.0 --use_gumbel_se --criterion iif --fn_places"):
#   SE-R152, APA SE, AGLU, from the ImageNet-1k model .. backbone depth 152, init_cfg
#     Pretrained (our configs/imagenet1k_apa SE-R152 checkpoint, or a public one converted with
#     convert_apa_checkpoint.py --backbone-only and
#     --cfg-options model.backbone.init_cfg.checkpoint=OUT.pth model.backbone.init_cfg.prefix=None)
#   only the last stage and the classifier train (fn_places) .. frozen_stages=3
#   batch 256 (4 x 64) .................. 8 GPUs x 32; auto_scale_lr base 256
#   SGD lr 0.1, momentum 0.9, wd 5e-5 ... optim_wrapper.optimizer
#   lambda, kappa without weight decay .. paramwise_cfg (model base)
#   3-epoch linear warm-up (0.01 lr), cosine to 0, 40 epochs .. param_scheduler, train_cfg
#   mixup 0.2 or cutmix 1.0 per batch ... model.train_cfg.augments (one chosen per batch, as
#                                         torchvision's RandomChoice of the two)
#   AutoAugment imagenet, RRC 224, flip . mmpretrain::imagenet_bs64_autoaug train pipeline
#   label smoothing 0.1 ................. LabelSmoothLoss(0.1, mode='original')
#   lr_cosine classifier ................ CosineClsHead, scale 25 FIXED: the public lr_cosine
#                                         scale parameter starts at 5 (s = 5^2) and fn_places
#                                         freezes every parameter but layer4 and fc.weight
#   IIF 'rel' at test ................... head.logit_adjust
# Deviations: fn_places re-initialises each APA/AGLU parameter of layer4 to U(0, 1) (not
# reproduced: the pretrained values are kept); the public frozen layers keep BN statistics
# updating in train mode (here frozen stages are in eval mode); per-iteration schedules.
# Data (configs/_base_/datasets/places_lt.py): data/places365_standard/ with Places_LT_train.txt,
# Places_LT_test.txt (Liu et al. 2019; 62.5k training images, 4980 to 5 per class; test 36.5k,
# 100 per class). Schedule: configs/_base_/schedules/places-lt_bs256_warmup-coslr-40e.py.
_base_ = [
    '../_base_/models/gated-se-resnet50_apa-aglu.py',
    '../_base_/datasets/places_lt.py',
    '../_base_/schedules/places-lt_bs256_warmup-coslr-40e.py',
    '../_base_/default_runtime.py',
]

train_ann_file = {{_base_.train_ann_file}}
pretrained = 'work_dirs/gated-se-resnet152_apa-aglu_8xb32-100e_in1k/epoch_100.pth'

model = dict(
    backbone=dict(
        depth=152,
        frozen_stages=3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(
        _delete_=True,
        type='CosineClsHead',
        num_classes=365,
        in_channels=2048,
        scale=25.,
        learnable_scale=False,
        logit_adjust=dict(type='IIF', variant='rel', mode='add', train_ann_file=train_ann_file),
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original',
                  loss_weight=1.0),
        topk=(1, 5)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.2), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-5))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3,
                                     save_best='shot/top1', rule='greater'))
