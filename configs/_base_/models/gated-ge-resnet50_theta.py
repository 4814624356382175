# GE-theta ResNet-50 (Hu et al., "Gather-Excite", NeurIPS 2018), an mmpretrain ImageClassifier:
# a global depthwise gather (kernel = the whole map: 56/28/14/7 per stage at 224x224; other
# sizes are first pooled adaptively to it) + BN, sigmoid excite, after bn3 and before the add
# of every bottleneck; ReLU elsewhere. 31.1 M parameters with the fc (paper: 31.2 M).
_base_ = './gated-resnet50.py'

model = dict(
    backbone=dict(attention_cfg=[
        dict(type='GatherExcite', variant='theta', extent=0, feat_size=56),
        dict(type='GatherExcite', variant='theta', extent=0, feat_size=28),
        dict(type='GatherExcite', variant='theta', extent=0, feat_size=14),
        dict(type='GatherExcite', variant='theta', extent=0, feat_size=7),
    ]))
