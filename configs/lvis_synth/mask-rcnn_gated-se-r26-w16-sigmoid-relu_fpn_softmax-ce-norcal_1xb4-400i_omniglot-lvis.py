# Omniglot-LVIS quick config: NorCal (Pan et al., NeurIPS 2021, arXiv:2107.02170; public code
# tydpan/NorCal) on the softmax-CE quick config: training is that config's, unchanged; test
# a softmax-CE checkpoint with this file (docs/detection_benchmark.md):
#   python tools/test.py configs/lvis_synth/<this file> work_dirs/softmax_ce/iter_400.pth
# Deltas from the paper recipe (../lvis_baselines/mask-rcnn_r50_fpn_norcal_...): the quick
# config's model / data / schedule; gamma 0.6 (the paper tunes it per model; sweep with
# --cfg-options model.roi_head.bbox_head.loss_cls.gamma=...).
_base_ = './mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_softmax-ce_1xb4-400i_omniglot-lvis.py'

data_root = '{{$GATED_MM_OMNIGLOT_LVIS:{{ fileDirname }}/../../data/omniglot-lvis}}/'
num_classes = 24

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='NorCalCrossEntropyLoss',
                          num_classes=num_classes, gamma=0.6, use_sigmoid=False,
                          freq_file=data_root + 'annotations/lvis_v1_train.json',
                          loss_weight=1.0))))
