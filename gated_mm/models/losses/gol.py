r"""Gumbel Optimised Loss (GOL) and its DropLoss form for long-tailed detection.

Alexandridis et al., "Long-tailed Instance Segmentation using Gumbel Optimized Loss"
(ECCV 2022, arXiv:2207.10936), used as the LVIS classification loss of the APA paper
(Alexandridis et al., "Adaptive Parametric Activation", ECCV 2024, arXiv:2407.08567,
Table 5). User notes: ``docs/gol_loss.md``.

Gumbel activation (the test-time score of class c)::

    η(q) = exp(−exp(−q))

GOL, the binary cross-entropy of η, written analytically (t = exp(−q))::

    ℓ(q, y) = y · t − (1 − y) · log(1 − exp(−t))

    ∂ℓ/∂q = −y · t + (1 − y) · t / expm1(t)

Both terms are evaluated in log space, never forming η: ``log(1 − exp(−t))`` is
``log1p(−exp(−t))`` for t > log 2, ``log(−expm1(−t))`` below, and, for q > 15 (t < 3.1e-7,
where 1 − exp(−t) would lose every digit), its expansion ``−q + log1p(−t/2)`` (relative
error < t²/24 / q < 3e-16). Each branch sees only its own part of the input range (clamped),
so none produces inf/NaN values or gradients. The loss is computed in float32 for
float16/bfloat16 inputs (float64 stays float64). ``F.binary_cross_entropy`` on η, as in the
public codes, is refused under CUDA autocast ("unsafe to autocast") and forms 1 − η, which
rounds to 0 (log clamped at −100) once η is within an ulp of 1.

Presets (``preset=``): the two public codes clamp differently, and neither is the exact loss::

    'apa'          q ← clamp(q, −10, 10); ℓ analytic; no loss clamp.
                   kostas1515/AGLU, mmdetection_v3.2/mmdet/models/losses/droploss.py,
                   DropLoss(use_classif='gumbel'): the loss of the APA paper's LVIS table.
    'gol'          q ← clamp(q, −4, 10); ℓ = BCE(η(q), y); ℓ ← clamp(ℓ, 0, 20) element-wise
                   (zero gradient where clamped: a positive with q < −log 20 ≈ −3.0).
                   kostas1515/GOL, mmdet/models/losses/gumbel_ce.py (``binary_cross_entropy``;
                   the repository README's ``gumbel_cross_entropy``). That file clamps after
                   ``weight_reduce_loss``, i.e. element-wise for ``reduction='none'`` and on
                   the reduced loss otherwise; this preset clamps element-wise.
    'exact'        no clamp (finite for every finite q in float32 except y = 1 with q < −88,
                   where y·exp(−q) overflows).

BCE(η, y) equals the analytic ℓ wherever F.binary_cross_entropy's log clamp (−100) is
inactive, which holds for every q in [−4, 10]; the presets are computed analytically. The
gradients differ only where BCE's backward divides by max(η(1 − η), 1e-12), i.e. q < −3.32:
for positives that region lies inside the 'gol' loss clamp (zero gradient in both), for
negatives both gradients are below 1e-20. The GOL repository's DropLoss
(mmdet/models/losses/droploss.py, use_classif='gumbel', its LVIS configs) uses the q clamp
[−4, 10] and BCE without the loss clamp; there that 1e-12 floor makes the gradient of a
positive with q < −3.32 vanish, which no analytic preset reproduces.
``logit_clamp`` / ``loss_clamp`` given explicitly override the preset's.

DropLoss (Tan et al.'s EQL drop rule as DropLoss, Hsieh et al., AAAI 2021; as in both public
codes): with the class flag T(c) = 1 if image_count(c) / N_images < λ, the negative term of a
T-class is

* dropped for every foreground RoI;
* dropped for a background RoI at random with probability 1 − r, independently per
  (RoI, class), where r is the fraction of the batch's foreground RoIs whose class is in T
  (public code: kept where u ≤ r, u ~ U[0, 1) from ``torch.rand_like`` of the (N, C) loss).

Positive terms are never dropped. λ = 0.0011 for LVIS v1 (815 classes), 0.00177 for v0.5.

Reduction: Σ_{i,c} w_i · drop_ic · ℓ_ic / avg_factor with w the per-RoI weight mmdet
passes (``label_weights``) and avg_factor the number of RoIs (mmdet's ``BBoxHead.loss``
passes the count of RoIs with positive weight; without it, the number of rows). The public
codes ignore w and avg_factor and divide by the number of rows: identical for mmdet's RoI
sampler (every sampled RoI has weight 1).

Other deviations from the public code:

* Class frequencies are buffers of the module (saved in checkpoints, moved with
  ``.to(device)``), computed from an LVIS annotation or category file (``freq_file``) or
  given as ``image_count`` + ``num_images``; the public code reads a hard-coded table and
  needs CUDA. With no foreground RoI in a batch, r is undefined: nothing is dropped for the
  background RoIs (the public code's behaviour, where r is NaN).
* The accuracy is logged as ``acc_fg`` (public code: ``acc_classes``).

Classifier prior (``init_bias``): both public codes' LVIS configs initialise the classifier
that feeds GOL with ``init_cfg=dict(type='Constant', val=0.001, bias=-2,
override=dict(name='fc_cls'))`` (kostas1515/GOL and kostas1515/AGLU,
``configs/activations/gumbel/gumbel_r50_rfs_4x4_1x.py``), the Gumbel form of the focal-loss
prior init (Lin et al., ICCV 2017, Sec. 4.1): at q = b every class starts with score
η(b) = exp(−e^{−b}), 6.2e-4 for b = −2, so the C negative terms of a RoI start at
≈ −C·log(1 − η(b)) = C·6.2e-4 (0.75 for LVIS's 1,203 classes) instead of C·0.46 at mmdet's
bias 0 (553 for 1,203), whose gradients make the first iterations diverge. The losses carry
it: when mmengine initialises the head that owns the loss (``init_weights``: the head's own
``init_cfg`` first, then its children, this loss among them), the loss sets the bias of the
head's classifier ``fc_cls`` (mmdet's ``BBoxHead`` family) to ``init_bias`` and logs it;
the weights keep the head's init. A loaded checkpoint (``load_from``, ``--resume``, testing)
overwrites it as usual. ``init_bias=None`` leaves the head's ``init_cfg`` in charge. The
owning head is recorded when the loss is assigned to it (a module-registration hook of
PyTorch, installed by the first GOL loss built; it records the owner of GOL losses only).
"""
import inspect
import math
import os.path as osp
import weakref
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..registry import register_in_scopes

#: Clamps per preset (see the module docstring): name → (logit_clamp, loss_clamp, source).
GOL_PRESETS = {
    'apa': ((-10.0, 10.0), None,
            'kostas1515/AGLU mmdetection_v3.2/mmdet/models/losses/droploss.py'),
    'gol': ((-4.0, 10.0), (0.0, 20.0), 'kostas1515/GOL mmdet/models/losses/gumbel_ce.py'),
    'exact': (None, None, 'exact loss, no clamp'),
}

#: q above which log(1 − exp(−e^{−q})) uses its expansion −q + log1p(−e^{−q}/2).
_ASYMPTOTIC_Q = 15.0

#: Initial classifier bias of both public codes' GOL configs (η(−2) = exp(−e²) ≈ 6.2e-4).
GOL_INIT_BIAS = -2.0


def _compute_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def gumbel_scores(logits: Tensor) -> Tensor:
    """Gumbel activation η(q) = exp(−exp(−q)), same shape; float32 (float64 kept)."""
    q = logits.to(_compute_dtype(logits))
    return torch.exp(-torch.exp(-q))


def gumbel_log1m_cdf(q: Tensor) -> Tensor:
    """log(1 − η(q)) = log(1 − exp(−t)), t = exp(−q): full relative precision for every q.

    Three regimes: q > 15 (t < 3.1e-7): −q + log1p(−t/2); t > log 2: log1p(−exp(−t)); else
    log(−expm1(−t)) (Mächler's log1mexp). q is clamped to [−50, 15] inside the last two, where
    the value beyond −50 (−exp(−e^50)) is 0 in every float format, so no branch ever sees an
    argument that yields inf/NaN values or gradients.
    """
    q_large = q.clamp(min=_ASYMPTOTIC_Q)
    t = torch.exp(-q.clamp(min=-50.0, max=_ASYMPTOTIC_Q))
    mid = torch.where(t > math.log(2.0), torch.log1p(-torch.exp(-t)), torch.log(-torch.expm1(-t)))
    asymptotic = -q_large + torch.log1p(-0.5 * torch.exp(-q_large))
    return torch.where(q > _ASYMPTOTIC_Q, asymptotic, mid)


def gol_loss(logits: Tensor,
             targets: Tensor,
             logit_clamp: Optional[Tuple[float, float]] = None,
             loss_clamp: Optional[Tuple[float, float]] = None) -> Tensor:
    """Element-wise GOL ℓ(q, y) = y·exp(−q) − (1 − y)·log(1 − exp(−exp(−q))).

    Args:
        logits: q, any shape, any float dtype (computed in float32, float64 kept).
        targets: y in [0, 1], broadcastable to ``logits``.
        logit_clamp: optional (low, high) clamp of q before the loss (zero gradient outside;
            'apa' preset (−10, 10), 'gol' (−4, 10)).
        loss_clamp: optional (low, high) clamp of the element-wise loss (zero gradient
            outside; 'gol' preset (0, 20)).

    Returns:
        Tensor of ``logits``' shape in float32 (float64 for float64 input).
    """
    dtype = _compute_dtype(logits)
    with torch.autocast(device_type=logits.device.type, enabled=False):
        q = logits.to(dtype)
        if logit_clamp is not None:
            q = q.clamp(min=logit_clamp[0], max=logit_clamp[1])
        y = targets.to(dtype)
        # y·exp(−q) as exp(log y − q): exactly 0 (with a 0 gradient) where y = 0, even where
        # exp(−q) overflows; ∞ only for y > 0 and q < −88 (float32), the true value's overflow
        loss = torch.exp(torch.log(y) - q) - (1 - y) * gumbel_log1m_cdf(q)
        if loss_clamp is not None:
            loss = loss.clamp(min=loss_clamp[0], max=loss_clamp[1])
        return loss


def _check_clamp(clamp, owner: str, what: str = 'logit_clamp'):
    if clamp is None:
        return None
    if len(clamp) != 2 or not clamp[0] < clamp[1]:
        raise ValueError(f'{owner}: {what} must be None or (low, high) with low < high, '
                         f'got {clamp!r}')
    return (float(clamp[0]), float(clamp[1]))


def resolve_gol_preset(preset: str, logit_clamp='preset', loss_clamp='preset',
                       owner: str = 'GOLLoss') -> Tuple[Optional[tuple], Optional[tuple], str]:
    """(logit_clamp, loss_clamp, name) of a preset; an explicit clamp (a pair or None, anything
    but the string 'preset') overrides the preset's and makes the name ``'<preset>+custom'``.

    Raises:
        ValueError: unknown preset or a malformed clamp.
    """
    if preset not in GOL_PRESETS:
        raise ValueError(f'{owner}: unknown preset {preset!r}; choose one of '
                         f'{sorted(GOL_PRESETS)} (apa: APA paper LVIS table)')
    p_logit, p_loss, _ = GOL_PRESETS[preset]
    custom = False
    if isinstance(logit_clamp, str) and logit_clamp == 'preset':
        logit_clamp = p_logit
    else:
        custom = custom or _check_clamp(logit_clamp, owner) != p_logit
    if isinstance(loss_clamp, str) and loss_clamp == 'preset':
        loss_clamp = p_loss
    else:
        custom = custom or _check_clamp(loss_clamp, owner, 'loss_clamp') != p_loss
    return (_check_clamp(logit_clamp, owner), _check_clamp(loss_clamp, owner, 'loss_clamp'),
            preset + ('+custom' if custom else ''))


#: GOL loss -> weak reference to the module it was assigned to (its bbox head).
_OWNERS: 'weakref.WeakKeyDictionary[nn.Module, weakref.ref]' = weakref.WeakKeyDictionary()
_OWNER_HOOK = None


def _record_gol_owner(module: nn.Module, name: str, submodule: Optional[nn.Module]):
    """PyTorch module-registration hook: remember the module a GOL loss is assigned to."""
    if isinstance(submodule, GOLLoss):
        _OWNERS[submodule] = weakref.ref(module)


def _install_owner_hook() -> None:
    global _OWNER_HOOK
    if _OWNER_HOOK is None:
        _OWNER_HOOK = nn.modules.module.register_module_module_registration_hook(
            _record_gol_owner)


def _gol_class(loss_type):
    """The GOLLoss subclass a config ``type`` names (None for other losses)."""
    if isinstance(loss_type, str):
        try:
            from mmdet.registry import MODELS
            loss_type = MODELS.get(loss_type)
        except (ImportError, KeyError):
            return None
    return loss_type if isinstance(loss_type, type) and issubclass(loss_type, GOLLoss) else None


def check_gol_loss_cfg(model_cfg, path: str = 'model') -> None:
    """Stop a GOL loss config that was merged into an inherited loss dict.

    A config that inherits a bbox head and writes ``loss_cls=dict(type='GOLLoss', ...)``
    without ``_delete_=True`` keeps the inherited dict's other keys (mmdet's default
    ``CrossEntropyLoss(use_sigmoid=False, loss_weight=1.0)``). Every dict under ``model_cfg``
    whose ``type`` is a GOL loss is checked for keys its class does not take and for
    ``use_sigmoid=False``.

    Raises:
        ValueError: one line naming the key path, the inherited keys and ``_delete_=True``.
    """
    if isinstance(model_cfg, (list, tuple)):
        for i, item in enumerate(model_cfg):
            check_gol_loss_cfg(item, f'{path}[{i}]')
        return
    if not isinstance(model_cfg, dict):
        return
    cls = _gol_class(model_cfg.get('type'))
    if cls is not None:
        takes = inspect.signature(cls.__init__).parameters
        bad = {k: v for k, v in model_cfg.items() if k not in takes and k != 'type'}
        if model_cfg.get('use_sigmoid', True) is False:
            bad['use_sigmoid'] = False
        if bad:
            keys = ', '.join(f'{k}={v!r}' for k, v in bad.items())
            raise ValueError(
                f"{path}: type='{cls.__name__}' was merged into the inherited loss dict and kept "
                f'its keys {keys}, which {cls.__name__} does not take (mmdet\'s default loss_cls '
                f'is CrossEntropyLoss(use_sigmoid=False)); replace the inherited dict: '
                f"{path.rsplit('.', 1)[-1]}=dict(_delete_=True, type='{cls.__name__}', ...)")
        return
    for key, value in model_cfg.items():
        check_gol_loss_cfg(value, f'{path}.{key}')


@register_in_scopes(('mmdet', ))
class GOLLoss(nn.Module):
    """Gumbel Optimised Loss for mmdet's bbox heads (sigmoid-style: C outputs, no background).

    Used as ``loss_cls`` of ``Shared2FCBBoxHead``/``BBoxHead``: through the ``custom_*``
    hooks of mmdet's ``BBoxHead`` the classifier gets C outputs (no background logit),
    ``predict`` uses :meth:`get_activation` (Gumbel scores plus a zero background column,
    so ``multiclass_nms`` and ``LVISMetric`` work unchanged) and training logs the
    foreground accuracy (``acc_fg``).

    Args:
        num_classes: C, foreground classes (e.g. 1203 for LVIS v1). Labels are in [0, C]
            with C = background.
        preset: which public code the clamps reproduce: 'apa' (default; the APA paper's
            LVIS table), 'gol' or 'exact' (see the module docstring).
        logit_clamp, loss_clamp: (low, high) or None, overriding the preset's.
        use_sigmoid: mmdet loss convention; GOL is sigmoid-style (C outputs), so only True
            is accepted.
        reduction: 'mean' (sum / avg_factor, the default) or 'sum'; 'none' returns the
            (N, C) element-wise loss.
        loss_weight: multiplier of the loss.
        init_bias: the bias the owning head's classifier ``fc_cls`` starts from, set by
            :meth:`init_weights` after the head's own ``init_cfg`` (default −2, both public
            codes' configs; see the module docstring); None: leave it to the head.

    Shapes: ``cls_score`` (N, C) logits; ``label`` (N,) int64 in [0, C]; ``weight`` (N,)
    or None. Returns a scalar (float32; float64 for float64 logits).

    Raises:
        ValueError: unknown preset, ``use_sigmoid=False`` (the message names
            ``_delete_=True``: the usual cause is an inherited ``CrossEntropyLoss`` dict),
            ``cls_score`` is not (N, num_classes) or labels are out of range.
    """

    def __init__(self,
                 num_classes: int,
                 preset: str = 'apa',
                 logit_clamp='preset',
                 loss_clamp='preset',
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 init_bias: Optional[float] = GOL_INIT_BIAS):
        super().__init__()
        name = type(self).__name__
        if not use_sigmoid:
            raise ValueError(f'{name}: use_sigmoid=False is not supported (GOL is a '
                             f'sigmoid-style loss with C outputs); if it came from an inherited '
                             f"CrossEntropyLoss dict, replace that dict: loss_cls=dict(_delete_="
                             f"True, type='{name}', ...)")
        if int(num_classes) < 1:
            raise ValueError(f'{type(self).__name__}: num_classes must be >= 1, got {num_classes}')
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or "
                             f"'none', got {reduction!r}")
        self.num_classes = int(num_classes)
        self.loss_weight = float(loss_weight)
        self.logit_clamp, self.loss_clamp, self.preset = resolve_gol_preset(
            preset, logit_clamp, loss_clamp, type(self).__name__)
        self.use_sigmoid = True
        self.reduction = reduction
        if init_bias is not None and not math.isfinite(init_bias):
            raise ValueError(f'{name}: init_bias must be finite or None, got {init_bias}')
        self.init_bias = None if init_bias is None else float(init_bias)
        _install_owner_hook()
        # mmdet BBoxHead hooks: C outputs, custom scores, custom accuracy
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True

    # ------------------------------------------------------------------ mmdet hooks
    def init_weights(self) -> None:
        """Set the owning head's ``fc_cls.bias`` to ``init_bias`` (None: do nothing).

        mmengine's ``BaseModule.init_weights`` calls it after applying the head's own
        ``init_cfg``. Logs what it set; warns (and sets nothing) when the owner has no
        ``fc_cls`` with a bias.
        """
        if self.init_bias is None:
            return
        import logging

        from mmengine.logging import print_log
        from mmengine.model.weight_init import update_init_info
        name = type(self).__name__
        ref = _OWNERS.get(self)
        owner = ref() if ref is not None else None
        fc = getattr(owner, 'fc_cls', None)
        if not isinstance(getattr(fc, 'bias', None), nn.Parameter):
            where = type(owner).__name__ if owner is not None else 'the module owning it'
            print_log(f'{name}: init_bias={self.init_bias} not applied: {where} has no fc_cls '
                      f'with a bias; give its classifier bias {self.init_bias} in its init_cfg '
                      f'(or set init_bias=None)', logger='current', level=logging.WARNING)
            return
        with torch.no_grad():
            fc.bias.fill_(self.init_bias)
        info = f'bias {self.init_bias} set by {name}.init_weights (init_bias)'
        if hasattr(fc, '_params_init_info'):
            update_init_info(fc, init_info=info)
        print_log(f'{type(owner).__name__}.fc_cls: {info}', logger='current')

    def get_cls_channels(self, num_classes: int) -> int:
        """Classifier outputs for ``num_classes`` classes: C (no background logit)."""
        if num_classes != self.num_classes:
            raise ValueError(f'{type(self).__name__}: bbox_head.num_classes={num_classes} but '
                             f'loss_cls.num_classes={self.num_classes}; set both to the same '
                             f'value')
        return num_classes

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """(N, C) logits → (N, C + 1) scores: Gumbel η(q) and a zero background column."""
        scores = gumbel_scores(cls_score)
        return torch.cat([scores, scores.new_zeros(scores.size(0), 1)], dim=1)

    def get_accuracy(self, cls_score: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """Top-1 accuracy (%) over the foreground RoIs, logged as ``acc_fg``."""
        from mmdet.models.losses import accuracy
        fg = (labels >= 0) & (labels < self.num_classes)
        return dict(acc_fg=accuracy(cls_score[fg], labels[fg]))

    # ------------------------------------------------------------------ loss
    def _check_inputs(self, cls_score: Tensor, label: Tensor):
        if cls_score.dim() != 2 or cls_score.size(1) != self.num_classes:
            raise ValueError(f'{type(self).__name__}: cls_score must be (N, {self.num_classes}), '
                             f'got {tuple(cls_score.shape)}')
        if label.shape != cls_score.shape[:1]:
            raise ValueError(f'{type(self).__name__}: label must be ({cls_score.size(0)},), got '
                             f'{tuple(label.shape)}')
        if label.numel() and (label.min() < 0 or label.max() > self.num_classes):
            raise ValueError(f'{type(self).__name__}: labels must be in [0, {self.num_classes}] '
                             f'({self.num_classes} = background)')

    def one_hot(self, cls_score: Tensor, label: Tensor) -> Tensor:
        """(N,) labels in [0, C] → (N, C) one-hot targets (background: all zeros)."""
        target = cls_score.new_zeros(label.size(0), self.num_classes + 1,
                                     dtype=_compute_dtype(cls_score))
        target[torch.arange(label.size(0), device=label.device), label] = 1
        return target[:, :self.num_classes]

    def drop_weights(self, cls_score: Tensor, label: Tensor, target: Tensor) -> Optional[Tensor]:
        """Per-element weights (N, C) multiplying the loss; None: keep all (plain GOL)."""
        return None

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        self._check_inputs(cls_score, label)
        reduction = reduction_override or self.reduction
        target = self.one_hot(cls_score, label)
        loss = gol_loss(cls_score, target, self.logit_clamp, self.loss_clamp)
        drop = self.drop_weights(cls_score, label, target)
        if drop is not None:
            loss = loss * drop
        if weight is not None:
            loss = loss * weight.to(loss.dtype).reshape(-1, 1)
        if reduction == 'none':
            return self.loss_weight * loss
        loss = loss.sum()
        if reduction == 'mean':
            loss = loss / (avg_factor if avg_factor is not None else max(cls_score.size(0), 1))
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, preset={self.preset!r}, '
                f'logit_clamp={self.logit_clamp}, loss_clamp={self.loss_clamp}, '
                f'loss_weight={self.loss_weight}, init_bias={self.init_bias}')


@register_in_scopes(('mmdet', ))
class GumbelDropLoss(GOLLoss):
    """GOL with DropLoss (the APA paper's LVIS classification loss, the GOL public recipe).

    Class frequency f_c = image_count(c) / N_images of the *training* set; classes with
    f_c < ``lambda_`` are the tail set T whose negatives are dropped (see the module
    docstring). Frequencies come from exactly one of

    * ``freq_file``: an LVIS-format JSON. ``categories[*].image_count`` when every category
      has it, else counted from ``annotations``; N_images = ``num_images`` (top-level key of
      a category file) or the number of distinct images with annotations (the GOL public
      code's convention) or ``len(images)``. Categories in file order = mmdet's label order
      (``LVIS.get_cat_ids()``). A missing file is tolerated at build time (testing a
      trained checkpoint restores the buffers) and reported at the first training step.
    * ``image_count`` (C numbers) and ``num_images``.

    They are kept as buffers ``class_frequency`` (C,) and ``tail_mask`` (C,), saved in
    checkpoints and moved with the module (no hard-coded device).

    Args:
        num_classes, preset, logit_clamp, loss_clamp, use_sigmoid, reduction, loss_weight,
        init_bias: as :class:`GOLLoss`.
        lambda_: frequency threshold; 0.0011 LVIS v1 (815 classes), 0.00177 LVIS v0.5.
        freq_file: path of the LVIS training annotation file or a category file.
        image_count, num_images: explicit training image counts per class and total.

    Raises:
        ValueError: both or neither frequency source, wrong number of classes, bad λ.
        FileNotFoundError / KeyError: (at the first training step) ``freq_file`` missing or
            without categories.
    """

    def __init__(self,
                 num_classes: int,
                 lambda_: float = 0.0011,
                 freq_file: Optional[str] = None,
                 image_count: Optional[Sequence[float]] = None,
                 num_images: Optional[int] = None,
                 preset: str = 'apa',
                 logit_clamp='preset',
                 loss_clamp='preset',
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 init_bias: Optional[float] = GOL_INIT_BIAS):
        super().__init__(num_classes, preset=preset, logit_clamp=logit_clamp,
                         loss_clamp=loss_clamp, use_sigmoid=use_sigmoid, reduction=reduction,
                         loss_weight=loss_weight, init_bias=init_bias)
        name = type(self).__name__
        if not lambda_ > 0:
            raise ValueError(f'{name}: lambda_ must be > 0, got {lambda_}')
        if (freq_file is None) == (image_count is None):
            raise ValueError(f'{name}: give exactly one of freq_file (LVIS train annotation or '
                             f'category file) or image_count + num_images')
        self.lambda_ = float(lambda_)
        self.freq_file = freq_file
        self.register_buffer('class_frequency', torch.full((self.num_classes, ), float('nan')))
        self.register_buffer('tail_mask', torch.zeros(self.num_classes, dtype=torch.bool))
        if image_count is not None:
            if num_images is None:
                raise ValueError(f'{name}: image_count needs num_images (training images)')
            self.set_frequency(image_count, num_images)
        elif osp.isfile(freq_file):
            self.load_frequency(freq_file)

    def load_frequency(self, freq_file: str):
        """Read the class frequencies from an LVIS annotation/category file into the buffers."""
        from gated_mm.datasets.lvis_convert import load_category_frequency
        counts, num_images = load_category_frequency(freq_file)
        self.set_frequency(counts, num_images, source=freq_file)

    def set_frequency(self, image_count: Sequence[float], num_images: int, source: str = ''):
        """Fill ``class_frequency`` = image_count / num_images and ``tail_mask`` (f < λ)."""
        name = type(self).__name__
        counts = torch.as_tensor(image_count, dtype=torch.float64).flatten()
        where = f' (from {source})' if source else ''
        if counts.numel() != self.num_classes:
            raise ValueError(f'{name}: {counts.numel()} class image counts{where} but '
                             f'num_classes={self.num_classes}')
        if not int(num_images) > 0:
            raise ValueError(f'{name}: num_images must be > 0, got {num_images}{where}')
        freq = counts / int(num_images)
        self.class_frequency.copy_(freq.to(self.class_frequency.dtype))
        self.tail_mask.copy_(freq < self.lambda_)

    @property
    def num_tail_classes(self) -> int:
        """Number of classes in T (whose negatives are dropped)."""
        return int(self.tail_mask.sum())

    def _ensure_frequency(self):
        if not torch.isnan(self.class_frequency).any():
            return
        name = type(self).__name__
        if self.freq_file is None or not osp.isfile(self.freq_file):
            raise FileNotFoundError(
                f'{name}: class frequencies not loaded and freq_file {self.freq_file!r} not found;'
                f' set model.roi_head.bbox_head.loss_cls.freq_file to the LVIS training '
                f'annotation (or category) file')
        self.load_frequency(self.freq_file)

    def drop_weights(self, cls_score: Tensor, label: Tensor, target: Tensor) -> Tensor:
        """(N, C) 0/1 weights: 0 where a tail-class negative is dropped."""
        self._ensure_frequency()
        tail = self.tail_mask.to(device=cls_score.device)
        fg = label < self.num_classes
        if fg.any():
            # float32 draws and ratio, as the public code (rand_like of a float32 (N, C)
            # tensor): the same random stream for the same seed
            ratio = tail[label[fg]].float().mean()
            u = torch.rand(target.shape, dtype=torch.float32, device=target.device)
            keep_bg = u <= ratio  # drop with probability 1 - r
        else:
            keep_bg = torch.ones_like(target, dtype=torch.bool)
        # drop: tail class, negative, and (foreground RoI, or background RoI not kept)
        drop = tail[None, :] & (target == 0) & (fg[:, None] | ~keep_bg)
        return (~drop).to(target.dtype)

    def extra_repr(self) -> str:
        loaded = not torch.isnan(self.class_frequency).any()
        tail = f'{self.num_tail_classes} tail classes' if loaded else 'frequencies not loaded'
        return f'{super().extra_repr()}, lambda_={self.lambda_}, {tail}'
