# iNaturalist 2018, SE-ResNet-50 with APA-gated SE and AGLU units.
# Target: APA paper, iNaturalist 2018 table, SE-R50 APA + AGLU: 74.8 top-1 (from the paper's
# listing on paperswithcode; not checked against the paper's table yet).
# Recipe (public code kostas1515/AGLU, classification/README: "torchrun --nproc_per_node=4
# train.py --model se_resnet50 --batch-size 256 --lr 0.5 --lr-scheduler cosineannealinglr
# --lr-warmup-epochs 5 --lr-warmup-method linear --auto-augment ra --epochs 500 --random-erase
# 0.1 --weight-decay 0.0001 --norm-weight-decay 0.0 --label-smoothing 0.1 --mixup-alpha 0.2
# --cutmix-alpha 1.0 --train-crop-size 192 --val-resize-size 232 --ra-sampler --ra-reps 4
# --dset_name=inat18 --classif_norm cosine --use_gumbel_se"), line by line:
#   SE-R50, APA SE, AGLU ................ model base gated-se-resnet50_apa-aglu.py
#   batch 1024 (4 x 256) ................ 8 GPUs x 128; auto_scale_lr base 1024
#   SGD lr 0.5, momentum 0.9, wd 1e-4 ... optim_wrapper.optimizer
#   no weight decay on norm layers ...... paramwise_cfg norm_decay_mult=0
#   lambda, kappa without weight decay .. paramwise_cfg custom_keys (model base)
#   5-epoch linear warm-up (0.01 lr), cosine to 0, 500 epochs .. param_scheduler, train_cfg
#   RRC 192, flip, RandAugment (2 ops, magnitude 9 of 30) .. train_pipeline
#   random erasing p 0.1 ................ RandomErasing(erase_prob=0.1), fill = mean (= 0 after
#                                         normalisation, as torchvision's value 0)
#   repeated-augmentation sampler x4 .... RepeatAugSampler(num_repeats=4)
#   mixup 0.2 or cutmix 1.0 per batch ... model.train_cfg.augments
#   label smoothing 0.1 ................. LabelSmoothLoss
#   cosine classifier, s = 16 ........... head CosineClsHead
#   test: resize 232, centre crop 224 ... test_pipeline
#   no --criterion iif: raw logits at test (no IIF; set head.logit_adjust to add it)
# Deviations: mmpretrain's RandAugment op set ('timm_increasing') and magnitude scale differ
# slightly from torchvision's RandAugment; per-iteration schedules; cv2 resizing. The README
# states --train-crop-size 176 in one revision and 192 in another: 192 (the latest) here.
# Data and pipelines (configs/_base_/datasets/inat18.py): data/inat18/ with iNaturalist18_train.txt
# / iNaturalist18_val.txt ("path label" lists of the decoupling paper, 437.5k training images,
# 8142 classes; val 24.4k, 3 per class). Schedule: schedules/inat18_bs1024_warmup-coslr-500e.py.
_base_ = [
    '../_base_/models/gated-se-resnet50_apa-aglu.py',
    '../_base_/datasets/inat18.py',
    '../_base_/schedules/inat18_bs1024_warmup-coslr-500e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    head=dict(
        _delete_=True,
        type='CosineClsHead',
        num_classes=8142,
        in_channels=2048,
        scale=16.,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original',
                  loss_weight=1.0),
        topk=(1, 5)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.2), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3,
                                     save_best='shot/top1', rule='greater'))
