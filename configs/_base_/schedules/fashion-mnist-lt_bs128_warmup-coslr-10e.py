# The CPU quick-start schedule (configs/fashion_mnist_lt/): 1-epoch linear warm-up from 0.1 lr,
# cosine over the other max_epochs - 1 (eta_min 0), stepped per iteration; 10 epochs, one
# validation at the end; lr given for batch 128. Optimizer (SGD lr 0.1, momentum 0.9, wd 5e-4,
# Nesterov): in the leaf, see imagenet-lt_bs256_warmup-coslr-200e.py.
max_epochs = 10
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
