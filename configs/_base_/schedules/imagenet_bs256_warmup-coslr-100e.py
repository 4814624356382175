# ImageNet-1k pre-training schedule of the public APA code (kostas1515/AGLU classification/README,
# adjusted from NVIDIA's resnext101-32x4d recipe: "--epochs 100 --lr-scheduler cosineannealinglr
# --lr-warmup-epochs 3 --lr-warmup-method linear"): 3-epoch linear warm-up from 0.01 lr, cosine
# to 0 over the other 97, stepped per iteration; 100 epochs, validation every 5; lr given for
# batch 256. Optimizer (SGD lr 0.256, momentum 0.875, wd 6.103515625e-05): in the leaf, see
# imagenet-lt_bs256_warmup-coslr-200e.py.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=97, eta_min=0., by_epoch=True, begin=3, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
