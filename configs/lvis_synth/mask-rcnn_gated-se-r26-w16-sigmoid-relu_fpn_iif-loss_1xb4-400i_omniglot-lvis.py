# Omniglot-LVIS quick config: IIF for detection (Alexandridis et al., IEEE TIP 2023,
# arXiv:2209.04861; public code kostas1515/iif, iif_loss.py), otherwise the GOL-baseline quick
# config (same backbone, data, schedule; docs/detection_benchmark.md).
# Deltas from the paper recipe (../lvis_baselines/mask-rcnn_r50_fpn_iif-loss_ms-2x_lvis-v1.py):
#   the quick config's backbone / data / schedule; RFS kept (oversample_thr 0.05) as in every
#   quick config of the table, where the public 2x recipe turns it off.
#   Loss as the recipe: softmax CE on w * z, IIF 'raw' weights from the training file,
#   fc_cls init constant 0.001, bias 0.
_base_ = './mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-400i_omniglot-lvis.py'

data_root = '{{$GATED_MM_OMNIGLOT_LVIS:{{ fileDirname }}/../../data/omniglot-lvis}}/'
num_classes = 24

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='IIFDetLoss', num_classes=num_classes,
                          variant='raw',
                          freq_file=data_root + 'annotations/lvis_v1_train.json'),
            init_cfg=[
                dict(type='Constant', val=0.001, bias=0.0, override=dict(name='fc_cls')),
                dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
                dict(type='Xavier', distribution='uniform',
                     override=[dict(name='shared_fcs'), dict(name='cls_fcs'),
                               dict(name='reg_fcs')])
            ])))
