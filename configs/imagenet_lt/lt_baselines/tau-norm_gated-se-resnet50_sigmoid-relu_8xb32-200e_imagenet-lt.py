# tau-normalisation (Kang et al., ICLR 2020, Eq. 3) of the ce-linear first stage, no training:
#   w_c / ||w_c||^tau, tau = 0.7 (public code's ImageNet-LT value; the paper selects tau on the
#     validation set) ... TauNormClsHead(tau=0.7), load_from the first stage
#   test only: python tools/test.py THIS_CONFIG FIRST_STAGE_CHECKPOINT
_base_ = ['./ce-linear_gated-se-resnet50_sigmoid-relu_8xb32-200e_imagenet-lt.py']

model = dict(head=dict(_delete_=True, type='TauNormClsHead', tau=0.7, num_classes=1000,
                       in_channels=2048, topk=(1, 5)))
load_from = 'work_dirs/ce-linear_gated-se-resnet50_sigmoid-relu_8xb32-200e_imagenet-lt/epoch_200.pth'
stage1_config = './ce-linear_gated-se-resnet50_sigmoid-relu_8xb32-200e_imagenet-lt.py'
stage1_load = 'all'
