# Omniglot-LVIS quick config: Federated Loss (Zhou et al., arXiv:2103.07461; public code
# xingyizhou/CenterNet2, facebookresearch/Detic), otherwise the GOL-baseline quick config
# (same backbone, data, RFS, schedule; docs/detection_benchmark.md).
# Deltas from the paper recipe (../lvis_baselines/mask-rcnn_r50_fpn_federated-loss_...):
#   the quick config's backbone / data / schedule (see the GOL-baseline quick config);
#   K = 12 sampled classes of 24 (LVIS: 50 of 1203; a 4-image batch holds 6-12 classes);
#   sampling weight image_count ** 0.5 and fc_cls bias -log(99) as the paper recipe.
_base_ = './mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-400i_omniglot-lvis.py'

data_root = '{{$GATED_MM_OMNIGLOT_LVIS:{{ fileDirname }}/../../data/omniglot-lvis}}/'
num_classes = 24

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='FederatedLoss',
                          num_classes=num_classes, num_sample_cats=12,
                          freq_weight=0.5,
                          freq_file=data_root + 'annotations/lvis_v1_train.json'),
            init_cfg=[
                dict(type='Constant', val=0.0, bias=-4.59512, override=dict(name='fc_cls')),
                dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
                dict(type='Xavier', distribution='uniform',
                     override=[dict(name='shared_fcs'), dict(name='cls_fcs'),
                               dict(name='reg_fcs')])
            ])))
