# LDAM with deferred re-weighting (Cao et al., NeurIPS 2019): margins
# Delta_c = 0.5 n_c^(-1/4) / max n^(-1/4) (m_max = 0.5, paper), scale s = 30 on a cosine
# classifier (the public code's normalised linear layer; CosineClsHead without squash and
# with scale 1, s applied in the loss), class-balanced weights (beta = 0.9999, paper) from
# the last epoch on (the paper defers to epoch 160 of 200; here epoch 3 of 4, 0-based).
# The rest as the CE first stage (reduced setting, see that config).
_base_ = ['./ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200.py']

model = dict(head=dict(
    _delete_=True, type='CosineClsHead', num_classes=10, in_channels=128, scale=1.0,
    squash=False, topk=(1, ),
    loss=dict(type='LDAMLoss', max_margin=0.5, scale=30.0, drw_epoch=3, drw_beta=0.9999,
              train_dataset={{_base_.train_set}})))
custom_hooks = [dict(type='SetEpochHook')]
