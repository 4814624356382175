# CIFAR-100-LT (rho = 100), SE-ResNet-32 with APA-gated SE (r = 4) and AGLU units.
# Target: APA paper, CIFAR-100-LT (rho = 100) table, SE-R32 APA + AGLU (the number is in the
# paper's CIFAR table, arXiv:2407.08567; not copied here yet: fill it in when checked).
# Recipe (public code kostas1515/AGLU, classification/README: "torchrun --nproc_per_node=1
# train.py --model se_resnet32 --batch-size 512 --lr 0.2 --lr-warmup-epochs 3
# --lr-warmup-method linear --auto-augment cifar10 --epochs 500 --weight-decay 0.001
# --mixup-alpha 0.2 --dset_name=cifar100 --classif_norm cosine --lr-scheduler
# cosineannealinglr --imb_factor 0.01 --use_gumbel_se --criterion iif"), line by line:
#   ResNet-32 (3 stages x 5 basic blocks, 16-32-64 channels, option-A shortcuts), SE after bn2
#     with LayerNorm, Dropout 0.1, APA gate, r = 4; AGLU at the stem, after bn1, after the add
#     ................................... backbone GatedCifarResNet (basic blocks)
#   CIFAR-100, n_i = 500 * 100^(-i/99) . LongTailDataset(CIFAR100, imbalance_ratio=100)
#   batch 512 on 1 GPU ................... train_dataloader.batch_size=512
#   SGD lr 0.2, momentum 0.9, wd 1e-3 .... optim_wrapper.optimizer
#   lambda, kappa without weight decay ... paramwise_cfg
#   3-epoch linear warm-up (0.01 lr), cosine to 0, 500 epochs .. param_scheduler, train_cfg
#   RandomCrop 32 pad 4, flip, AutoAugment cifar10, Cutout 16 .. train_pipeline
#   mixup alpha 0.2 ...................... model.train_cfg.augments
#   cosine classifier, s = 16 ............ head CosineClsHead
#   IIF 'rel' added at test .............. head.logit_adjust
# Deviations: the public LT subset is drawn with np.random.seed(0) shuffles (ours: a private
# seeded generator, same counts, other images); warm-up/cosine stepped per iteration.
# Bases: model _base_/models/gated-se-resnet32_apa-aglu_cifar.py (GatedCifarResNet, cosine head),
# data _base_/datasets/cifar100_lt.py, schedule
# _base_/schedules/cifar100-lt_bs512_warmup-coslr-500e.py.
_base_ = [
    '../_base_/models/gated-se-resnet32_apa-aglu_cifar.py',
    '../_base_/datasets/cifar100_lt.py',
    '../_base_/schedules/cifar100-lt_bs512_warmup-coslr-500e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    head=dict(logit_adjust=dict(type='IIF', variant='rel', mode='add',
                                train_dataset={{_base_.train_set}})),
    train_cfg=dict(augments=dict(type='Mixup', alpha=0.2)))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-3))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3,
                                     save_best='shot/top1', rule='greater'))
