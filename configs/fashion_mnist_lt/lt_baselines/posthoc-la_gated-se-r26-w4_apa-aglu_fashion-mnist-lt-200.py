# Post-hoc logit adjustment (Menon et al., ICLR 2021, Eq. 9): argmax z - tau log pi on the
# CE first stage, tau = 1; no training (evaluated on the first-stage checkpoint).
_base_ = ['./ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200.py']

model = dict(head=dict(type='AdjustedLinearClsHead',
                       logit_adjust=dict(type='PosthocLogitAdjustment', tau=1.0,
                                         train_dataset={{_base_.train_set}})))
stage1_config = './ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200.py'
stage1_load = 'all'
load_from = 'work_dirs/ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200/epoch_4.pth'
train_cfg = dict(by_epoch=True, max_epochs=0, val_interval=1)
