# ImageNet-1k, SE-ResNet-50 with APA-gated SE and AGLU units.
# Target: APA paper, ImageNet-1k table (d): SE-R50 77.5 -> +APA* + AGLU 78.7 top-1 (public
# checkpoint: 78.7).
# Recipe: the public code documents one ImageNet-1k recipe, the SE-R152 pre-training of its
# Places-LT model (kostas1515/AGLU classification/README, "adjusted from NVIDIA's resnext101-32x4d
# recipe": "torchrun --nproc_per_node=4 train.py --dset_name=ImageNet --model se_resnet152 -b 64
# --epochs 100 --mixup 0.2 --momentum 0.875 --wd 6.103515625e-05 --lr-scheduler
# cosineannealinglr --lr-warmup-epochs 3 --lr-warmup-method linear --lr 0.256 --auto-augment
# imagenet --use_gumbel_se --train-crop-size 192 --val-resize-size 232"); used here for
# SE-R50/101/152 alike (ASSUMPTION: the recipes of the R50/R101 rows are not published).
#   SE-R50, APA SE, AGLU ................ model base gated-se-resnet50_apa-aglu.py (linear head,
#                                         no --classif_norm: nn.Linear classifier, plain CE)
#   batch 256 (4 x 64) .................. 8 GPUs x 32; auto_scale_lr base 256
#   SGD lr 0.256, momentum 0.875, wd 6.103515625e-05 .. optim_wrapper.optimizer
#   lambda, kappa without weight decay .. paramwise_cfg (model base)
#   3-epoch linear warm-up (0.01 lr), cosine to 0, 100 epochs .. schedule base
#                                         imagenet_bs256_warmup-coslr-100e.py
#   mixup 0.2 ........................... model.train_cfg.augments
#   RRC 192, flip, AutoAugment imagenet . datasets/imagenet_bs32_autoaug-192px.py
#   test: resize 232, centre crop 224 ... (the same dataset base)
# Deviations: warm-up/cosine stepped per iteration; cv2 resizing (public: PIL bilinear).
_base_ = [
    '../_base_/models/gated-se-resnet50_apa-aglu.py',
    '../_base_/datasets/imagenet_bs32_autoaug-192px.py',
    '../_base_/schedules/imagenet_bs256_warmup-coslr-100e.py',
    '../_base_/default_runtime.py',
]

model = dict(train_cfg=dict(augments=dict(type='Mixup', alpha=0.2)))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.256, momentum=0.875, weight_decay=6.103515625e-05))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3,
                                     save_best='accuracy/top1', rule='greater'))
