# cRT, classifier re-training (Kang et al., "Decoupling Representation and Classifier for
# Long-Tailed Recognition", ICLR 2020, Sec. 4) on the ce-linear first stage, line by line:
#   backbone of the first stage, frozen (stem + 4 stages, BN eval) ... backbone init_cfg
#     Pretrained(prefix='backbone.'), frozen_stages=4, norm_eval=True
#   fresh linear classifier ... head (not loaded)
#   class-balanced sampling ... RebalancedSampler(sampling='class_balanced')
#   10 epochs, cosine schedule, lr 0.2 at batch 512 (public code) -> 0.1 at batch 256 ...
#     optimizer lr, CosineAnnealingLR, max_epochs
#   no mixup, no IIF (as ce-linear)
_base_ = ['./ce-linear_gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py']

first_stage = 'work_dirs/ce-linear_gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt/epoch_200.pth'
model = dict(backbone=dict(frozen_stages=4, norm_eval=True,
                           init_cfg=dict(type='Pretrained', checkpoint=first_stage,
                                         prefix='backbone.')))
train_dataloader = dict(sampler=dict(_delete_=True, type='RebalancedSampler',
                                     sampling='class_balanced'))
optim_wrapper = dict(optimizer=dict(lr=0.1))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=10, eta_min=0., by_epoch=True, begin=0,
                        end=10, convert_to_iter_based=True)]
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1))
stage1_config = './ce-linear_gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py'
stage1_load = 'backbone'
