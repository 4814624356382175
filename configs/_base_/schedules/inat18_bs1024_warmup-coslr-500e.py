# iNaturalist 2018 schedule of the APA paper (public code kostas1515/AGLU, classification/README:
# "--batch-size 256 (x 4 GPUs) --lr-scheduler cosineannealinglr --lr-warmup-epochs 5
# --lr-warmup-method linear --epochs 500"): 5-epoch linear warm-up from 0.01 lr, cosine to 0
# over the other 495, stepped per iteration; 500 epochs, validation every 10; lr given for
# batch 1024. Optimizer (SGD lr 0.5, momentum 0.9, wd 1e-4, none on norms): in the leaf, see
# imagenet-lt_bs256_warmup-coslr-200e.py.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=495, eta_min=0., by_epoch=True, begin=5, end=500,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=500, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)
