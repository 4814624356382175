r"""Cosine classifier head with a squashed input, for long-tailed classification.

The APA paper's classification recipe (Alexandridis et al., "Adaptive Parametric Activation",
ECCV 2024, arXiv:2407.08567; public code ``kostas1515/AGLU``, ``classification/resnet_cifar.py``,
``CosNorm_Classifier``; see ``docs/methods.md``, "ImageNet-LT recipe")::

    x̂ = (‖x‖ / (1 + ‖x‖)) · x / ‖x‖  =  x / (1 + ‖x‖)          (squash, ‖x̂‖ < 1)
    ŵ_c = w_c / ‖w_c‖                                            (unit class vectors)
    z_c = s · ⟨x̂, ŵ_c⟩                                           (logits, no bias)

with a fixed scale ``s`` (16 in the paper) or a learnable one, ``s = ρ²`` with ``ρ`` a
parameter (the public ``lr_cosine`` option: ρ initialised to 5, so s starts at 25; the square
keeps s ≥ 0). ``squash=False`` gives the plain cosine classifier ``s · cos(x, w_c)``.
The right-hand form x / (1 + ‖x‖) is used (finite at x = 0, where the public x/‖x‖ is NaN).

At test time (``predict``) the logits may be adjusted post hoc, e.g. by IIF
(``logit_adjust=dict(type='IIF', variant=..., train_ann_file=...)``, see
:class:`gated_mm.models.heads.IIF`); the training loss uses the raw logits.
"""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS as ROOT_MODELS
from torch import Tensor, nn

from mmpretrain.models.heads import ClsHead
from mmpretrain.structures import DataSample
from ..registry import register_in_scopes


@register_in_scopes(('mmpretrain', ))
class CosineClsHead(ClsHead):
    """Cosine classifier head (squashed input, fixed or learnable scale), mmpretrain API.

    Args:
        num_classes: C, number of classes.
        in_channels: D, feature dimension (e.g. 2048 for ResNet-50 after global pooling).
        scale: s, the logit scale (16 in the APA recipe). With ``learnable_scale`` it is the
            initial value of s (25 for the public ``lr_cosine``).
        learnable_scale: learn s as ρ² (parameter ``scale_sqrt`` = ρ, initialised to √scale).
        squash: use x / (1 + ‖x‖) (True, APA recipe) or x / ‖x‖ (False, plain cosine).
        eps: floor of ‖x‖ (only for ``squash=False``) and of ‖w_c‖.
        logit_adjust: config of a module applied to the logits in ``predict`` only (e.g.
            ``dict(type='IIF', variant='rel', train_ann_file=...)``), or None.
        loss, topk, cal_acc, init_cfg: as mmpretrain's ``ClsHead``.

    Weights: ``weight`` (C, D) initialised U(−1/√D, 1/√D) (public code) unless ``init_cfg``
    says otherwise; no bias.

    Shape: features (N, D) (the last item of the neck's tuple) → logits (N, C).

    Raises:
        ValueError: ``num_classes`` or ``in_channels`` < 1, ``scale`` <= 0, or (in forward)
            features whose last dimension is not ``in_channels``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 scale: float = 16.,
                 learnable_scale: bool = False,
                 squash: bool = True,
                 eps: float = 1e-12,
                 logit_adjust: Optional[dict] = None,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 topk=(1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        if num_classes < 1 or in_channels < 1:
            raise ValueError(f'CosineClsHead: num_classes and in_channels must be >= 1, got '
                             f'num_classes={num_classes}, in_channels={in_channels}')
        if not scale > 0:
            raise ValueError(f'CosineClsHead: scale must be > 0, got {scale}')
        self.num_classes, self.in_channels = num_classes, in_channels
        self.squash, self.eps = squash, eps
        self.learnable_scale = learnable_scale
        self.weight = nn.Parameter(torch.empty(num_classes, in_channels))
        if learnable_scale:
            self.scale_sqrt = nn.Parameter(torch.tensor([math.sqrt(scale)]))
        else:
            self.register_buffer('scale', torch.tensor(float(scale)), persistent=False)
        self.logit_adjust = None if logit_adjust is None else ROOT_MODELS.build(logit_adjust)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1. / math.sqrt(self.in_channels)
        nn.init.uniform_(self.weight, -bound, bound)

    def init_weights(self):
        super().init_weights()
        if not self.init_cfg:
            self.reset_parameters()

    @property
    def logit_scale(self) -> Tensor:
        """The current s (a 0-d/1-element tensor)."""
        return self.scale_sqrt.square() if self.learnable_scale else self.scale

    def pre_logits(self, feats: Tuple[Tensor]) -> Tensor:
        """The last item of ``feats`` (the neck output), shape (N, D)."""
        return feats[-1]

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        """Logits ``s · ⟨x̂, ŵ_c⟩``, shape (N, C)."""
        x = self.pre_logits(feats)
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f'CosineClsHead: expected features (N, {self.in_channels}) '
                             f'(in_channels), got {tuple(x.shape)}; check the neck (e.g. '
                             f'GlobalAveragePooling) and head.in_channels')
        norm = torch.linalg.vector_norm(x, dim=1, keepdim=True)
        x_hat = x / (1 + norm) if self.squash else x / norm.clamp_min(self.eps)
        w_hat = F.normalize(self.weight, dim=1, eps=self.eps)
        return (self.logit_scale * x_hat) @ w_hat.t()

    def predict(self,
                feats: Tuple[Tensor],
                data_samples: Optional[List[Optional[DataSample]]] = None
                ) -> List[DataSample]:
        """Softmax scores and labels of the (adjusted, if ``logit_adjust``) logits."""
        cls_score = self(feats)
        if self.logit_adjust is not None:
            cls_score = self.logit_adjust(cls_score)
        return self._get_predictions(cls_score, data_samples)

    def extra_repr(self) -> str:
        s = 'learnable' if self.learnable_scale else f'{float(self.scale):g}'
        return (f'num_classes={self.num_classes}, in_channels={self.in_channels}, scale={s}, '
                f'squash={self.squash}')
