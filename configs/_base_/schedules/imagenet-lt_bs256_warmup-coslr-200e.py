# ImageNet-LT schedule of the APA paper (public code kostas1515/AGLU, classification/README:
# "--lr-scheduler cosineannealinglr --epochs 200", torchvision's 3 warm-up epochs):
# 3-epoch linear warm-up from 0.01 lr, cosine to 0 over the other 197 epochs, stepped per
# iteration (public: per epoch); 200 epochs, validation every 10; lr given for batch 256.
# The optimizer (SGD lr 0.2, momentum 0.9, wd 1e-4) is set in the leaf: optim_wrapper belongs
# to the model base (kappa / lambda without weight decay), and mmengine does not allow two
# bases to define one key (the checkpoint hook likewise stays in the leaf, next to the runtime).
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=197, eta_min=0., by_epoch=True, begin=3, end=200,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
