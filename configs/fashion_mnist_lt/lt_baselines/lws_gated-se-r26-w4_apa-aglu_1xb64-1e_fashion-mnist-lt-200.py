# LWS, learnable weight scaling (Kang et al., ICLR 2020, Sec. 4): z_c = f_c (w_c x + b_c) with
# the CE first stage's backbone and classifier frozen, only f learned, class-balanced sampling
# (here 1 epoch, reduced setting, see the CE config).
_base_ = ['./crt_gated-se-r26-w4_apa-aglu_1xb64-1e_fashion-mnist-lt-200.py']

model = dict(
    backbone=dict(init_cfg=None),
    head=dict(_delete_=True, type='LWSClsHead', num_classes=10, in_channels=128, topk=(1, ),
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
load_from = 'work_dirs/ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200/epoch_4.pth'
stage1_load = 'all'
