# ImageNet-LT, SE-ResNet-50 with APA-gated SE and AGLU units: the APA paper's recipe, and the
# root of every configs/imagenet_lt/ config (the others change only the backbone gates).
# Target: APA paper (ECCV 2024), Table 2 (ImageNet-LT test, SE-R50, "APA* + AGLU"):
#   many 68.3 / medium 54.8 / few 39.4 / average 57.9 top-1.
# Recipe (docs/methods.md "ImageNet-LT recipe"; public code kostas1515/AGLU, classification/README:
# "torchrun --nproc_per_node=4 train.py --dset_name=imagenet_lt --model se_resnet50 -b 64
#  --lr-scheduler cosineannealinglr --lr 0.2 --epochs 200 --mixup 0.2 --auto-augment imagenet
#  --classif_norm cosine --wd 0.0001 --use_gumbel_se --criterion iif"), line by line:
#   SE-R50, APA SE gates, AGLU units ...... model base gated-se-resnet50_apa-aglu.py
#   batch 256 (4 x 64 there) ............. 8 GPUs x 32 here; auto_scale_lr base 256
#   SGD lr 0.2, momentum 0.9, wd 1e-4 ..... optim_wrapper.optimizer
#   lambda, kappa without weight decay .... paramwise_cfg (model base); BN keeps wd (as public)
#   3-epoch linear warm-up from 0.01*lr ... LinearLR(start_factor=0.01, 0..3 epochs)
#   cosine to 0 over the other 197 ....... CosineAnnealingLR(T_max=197, eta_min=0)
#   200 epochs ............................ train_cfg.max_epochs
#   mixup alpha 0.2 (p = 1) ............... model.train_cfg.augments Mixup(alpha=0.2)
#   AutoAugment 'imagenet', RRC 224, flip . mmpretrain::imagenet_bs64_autoaug train pipeline
#   test: resize 256, centre crop 224 ..... mmpretrain::imagenet_bs64_autoaug test pipeline
#   cosine classifier, scale 16, input
#     squashed by |x|/(1+|x|) ............. head CosineClsHead(scale=16, squash=True)
#   plain cross-entropy (soft under mixup)  head loss CrossEntropyLoss
#   IIF at test: logits + w, variant 'rel'
#     (public default --iif rel) .......... head.logit_adjust IIF(variant='rel', mode='add')
#   test on the 50k ImageNet-LT test list . test_dataloader (ImageNet_LT_test.txt)
# Deviations: warm-up and cosine are stepped per iteration (public: per epoch); the public code
# re-indexes labels by frequency (label order does not change training; to evaluate its
# checkpoints use *_public-ckpt_imagenet-lt.py); mmcv (cv2) resizing instead of PIL.
# Data (configs/_base_/datasets/imagenet_lt.py): data/imagenet/{train,val}/... and
# ImageNet_LT_{train,val,test}.txt in data/imagenet/ ("relative/path.JPEG label" per line);
# validation on ImageNet_LT_val.txt, test on ImageNet_LT_test.txt. Another root: set
# data_root and the dataloaders' data_root in a config inheriting this one.
_base_ = [
    '../_base_/models/gated-se-resnet50_apa-aglu.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/schedules/imagenet-lt_bs256_warmup-coslr-200e.py',
    '../_base_/default_runtime.py',
]

train_ann_file = {{_base_.train_ann_file}}

model = dict(
    head=dict(
        _delete_=True,
        type='CosineClsHead',
        num_classes=1000,
        in_channels=2048,
        scale=16.,
        squash=True,
        logit_adjust=dict(type='IIF', variant='rel', mode='add', train_ann_file=train_ann_file),
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
    train_cfg=dict(augments=dict(type='Mixup', alpha=0.2)))

# data: configs/_base_/datasets/imagenet_lt.py (validation on ImageNet_LT_val.txt, test on
# ImageNet_LT_test.txt, ShotAccuracy many > 100, medium 20-100, few < 20); schedule (warm-up,
# cosine, 200 epochs, batch 256): configs/_base_/schedules/imagenet-lt_bs256_warmup-coslr-200e.py
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-4))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3,
                                     save_best='shot/top1', rule='greater'))
