# Omniglot-LVIS quick config: softmax cross-entropy baseline (mmdet's default Mask R-CNN
# classification loss: C + 1 logits with a background class, no DropLoss), otherwise
# identical to the GOL-baseline quick config it inherits (same backbone, data, RFS, schedule).
_base_ = './mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-400i_omniglot-lvis.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=False,
                          loss_weight=1.0),
            # mmdet's default bbox head init (the GOL bias -2 init is for sigmoid-style scores)
            init_cfg=None)))
