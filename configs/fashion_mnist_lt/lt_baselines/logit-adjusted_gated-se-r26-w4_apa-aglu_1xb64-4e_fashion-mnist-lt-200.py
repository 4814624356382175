# Logit-adjusted loss (Menon et al., ICLR 2021, Eq. 10): CE(z + tau log pi), tau = 1 (the
# paper's choice); the rest as the CE first stage (reduced setting, see that config).
_base_ = ['./ce_gated-se-r26-w4_apa-aglu_1xb64-4e_fashion-mnist-lt-200.py']

model = dict(head=dict(loss=dict(_delete_=True, type='LogitAdjustedLoss', tau=1.0,
                                 train_dataset={{_base_.train_set}})))
