# LWS, learnable weight scaling (Kang et al., ICLR 2020, Sec. 4) on the ce-linear first stage:
#   z_c = f_c (w_c x + b_c), only f trained; backbone and w, b frozen ... LWSClsHead, load_from
#   class-balanced sampling, 10 epochs, cosine, lr 0.1 at batch 256 ... as the cRT config
_base_ = ['./crt_gated-se-resnet50_apa-aglu_8xb32-10e_imagenet-lt.py']

model = dict(backbone=dict(init_cfg=None),
             head=dict(_delete_=True, type='LWSClsHead', num_classes=1000, in_channels=2048,
                       loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))
load_from = 'work_dirs/ce-linear_gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt/epoch_200.pth'
stage1_load = 'all'
