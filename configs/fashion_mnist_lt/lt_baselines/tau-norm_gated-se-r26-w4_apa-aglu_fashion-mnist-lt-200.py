# tau-normalisation (Kang et al., ICLR 2020, Eq. 3): the CE first stage's classifier with
# w_c / ||w_c||^tau, tau = 0.7 (public code's ImageNet-LT value; Kang et al. select tau on a
# validation set), bias dropped; no training.
_base_ = ['./ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200.py']

model = dict(head=dict(_delete_=True, type='TauNormClsHead', tau=0.7, num_classes=10,
                       in_channels=128, topk=(1, )))
load_from = 'work_dirs/ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200/epoch_4.pth'
train_cfg = dict(by_epoch=True, max_epochs=0, val_interval=1)
stage1_config = './ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200.py'
stage1_load = 'all'
