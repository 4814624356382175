# Balanced Softmax (Ren et al., NeurIPS 2020): CE(z + log n_y) on the training counts; the
# rest as the CE first stage (reduced setting, see that config).
_base_ = ['./ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200.py']

model = dict(head=dict(loss=dict(_delete_=True, type='BalancedSoftmaxLoss',
                                 train_dataset={{_base_.train_set}})))
