# cRT, classifier re-training (Kang et al., "Decoupling Representation and Classifier for
# Long-Tailed Recognition", ICLR 2020, Sec. 4) on the ce-linear first stage, line by line:
#   backbone of the first stage, frozen (stem + 4 stages, BN eval) ... backbone init_cfg
#     Pretrained(prefix='backbone.'), frozen_stages=4, norm_eval=True
#   fresh linear classifier ... head (not loaded)
#   class-balanced sampling ... RebalancedSampler(sampling='class_balanced')
#   10 epochs, cosine schedule, lr 0.2 at batch 512 (public code) -> 0.1 at batch 256 ...
#     optimizer lr, CosineAnnealingLR, max_epochs
#   no mixup, no IIF (as ce-linear)
# Gates: plain SE-ResNet-50 (Sigmoid SE gate, ReLU), the APA paper's baseline; the rest as the
# APA + AGLU cRT config, on this gate's first stage.
_base_ = ['./crt_gated-se-resnet50_apa-aglu_8xb32-10e_imagenet-lt.py']

first_stage = 'work_dirs/ce-linear_gated-se-resnet50_sigmoid-relu_8xb32-200e_imagenet-lt/epoch_200.pth'
model = dict(
    backbone=dict(
        act_cfg=dict(_delete_=True, type='ReLU', inplace=True),
        attention_cfg=dict(_delete_=True, type='GatedSE', ratio=16,
                           gate_cfg=dict(type='Sigmoid')),
        init_cfg=dict(checkpoint=first_stage)))
stage1_config = './ce-linear_gated-se-resnet50_sigmoid-relu_8xb32-200e_imagenet-lt.py'
