# cRT, classifier re-training (Kang et al., ICLR 2020, Sec. 4): the CE first stage's backbone
# frozen (every stage and the stem; BatchNorm in eval mode), a freshly initialised linear
# classifier trained with class-balanced sampling (Kang et al.: 10 epochs, cosine schedule;
# here 1 epoch, reduced setting, see the CE config).
_base_ = ['./ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200.py']

model = dict(backbone=dict(
    frozen_stages=4, norm_eval=True,
    init_cfg=dict(type='Pretrained', prefix='backbone.',
                  checkpoint='work_dirs/ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200/'
                             'epoch_4.pth')))
train_dataloader = dict(sampler=dict(_delete_=True, type='RebalancedSampler',
                                     sampling='class_balanced'))
max_epochs = 1
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
                        end=max_epochs, convert_to_iter_based=True)]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
# compare_lt.py: train the first stage of the same gates and seed first, load its backbone
stage1_config = './ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200.py'
stage1_load = 'backbone'
