# Places-LT fine-tuning schedule of the APA paper (public code kostas1515/AGLU,
# classification/README: "--epochs 40 --lr-scheduler cosineannealinglr --lr-warmup-epochs 3
# --lr-warmup-method linear"): 3-epoch linear warm-up from 0.01 lr, cosine to 0 over the
# other 37, stepped per iteration; 40 epochs, validation every 5; lr given for batch 256.
# Optimizer (SGD lr 0.1, momentum 0.9, wd 5e-5): in the leaf, see
# imagenet-lt_bs256_warmup-coslr-200e.py.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=37, eta_min=0., by_epoch=True, begin=3, end=40,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=40, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
