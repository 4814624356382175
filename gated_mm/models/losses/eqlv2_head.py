r"""mmdet 3.3's ``EQLV2Loss`` (Tan et al., "Equalization Loss v2", CVPR 2021,
arXiv:2012.08548) with the mmdet ``BBoxHead`` hooks it lacks.

mmdet's class computes the loss of the paper (C + 1 sigmoid outputs, gradient-guided
weights; ``tests/models/losses/test_lt_detection_losses.py`` checks it against the paper's equations) and
defines ``get_activation`` (σ(z_c) · (1 − σ(z_bg)), the public code's ``test_with_obj``) and
``get_channel_num``, but not ``custom_cls_channels`` / ``get_cls_channels``: a ``BBoxHead``
with it therefore scores detections with a *softmax* over the sigmoid-trained logits. This
subclass changes nothing in the loss; it only sets the hooks so that the head uses
``get_activation``::

    scores_ic = σ(z_ic) · (1 − σ(z_i,C+1)),   background column σ(z_i,C+1)

Everything else (arguments, buffers ``pos_grad`` / ``neg_grad`` / ``pos_neg``, the division
by the number of RoIs instead of mmdet's ``avg_factor``) is mmdet's.
"""
try:
    from mmdet.models.losses import EQLV2Loss
except ImportError:  # pragma: no cover  (mmdet is optional for the rest of gated_mm)
    EQLV2Loss = None

from ..registry import register_in_scopes

if EQLV2Loss is not None:

    @register_in_scopes(('mmdet', ))
    class EQLV2HeadLoss(EQLV2Loss):
        """``mmdet.models.losses.EQLV2Loss`` plus ``custom_cls_channels`` (C + 1 outputs) so
        that mmdet's ``BBoxHead`` scores with its ``get_activation`` (module docstring).

        Args: those of mmdet's ``EQLV2Loss`` (``num_classes``, ``gamma``, ``mu``, ``alpha``,
        ``test_with_obj``, ...).

        Raises:
            ValueError: ``bbox_head.num_classes`` differs from ``num_classes``.
        """

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.custom_cls_channels = True

        def get_cls_channels(self, num_classes: int) -> int:
            """C + 1 outputs (the last is the background / objectness logit)."""
            if num_classes != self.num_classes:
                raise ValueError(f'{type(self).__name__}: bbox_head.num_classes={num_classes} '
                                 f'but loss_cls.num_classes={self.num_classes}')
            return self.get_channel_num(num_classes)
else:  # pragma: no cover
    EQLV2HeadLoss = None
