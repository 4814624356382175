r"""Fold eval-mode BatchNorm into the preceding conv of the gated backbones (inference).

    BN(W ∗ x + b) = γ (W ∗ x + b − μ) / sqrt(σ² + ε) + β = W′ ∗ x + b′,
    W′ = W · γ / sqrt(σ² + ε)        (per output channel),
    b′ = (b − μ) · γ / sqrt(σ² + ε) + β

with the running statistics μ, σ² (Ioffe & Szegedy, ICML 2015, Alg. 2: at inference BN is a
fixed affine map). The arithmetic is PyTorch's own ``torch.nn.utils.fuse_conv_bn_eval``; what
this module adds is *where* it is exact in a gated network. Each conv → norm → act unit of a
:class:`~.gated_resnet.GatedResNet` (stem, every block's convs, the projection shortcut) is
listed by ``conv_norm_act_units()``, and a unit is folded only if

* the conv is an ``nn.Conv2d`` (mmcv's default; deformable or other convs are kept) and the norm
  a BatchNorm (``_BatchNorm`` or ``SyncBatchNorm``) with running statistics, in eval mode;
* its activation does not read the conv (IIEU-B, ``needs_conv_input``: its cosine term uses
  ‖x‖ and ‖w‖ of the *unfolded* conv, Cai et al., ICCV 2023, Eq. 4), so the IIEU-B units keep
  their BatchNorm.

The folded norm is replaced by ``nn.Identity``; parameter names of the convs are unchanged (a
bias appears). Outputs equal the unfolded model's up to float rounding (tests: 1e-12 relative
in float64 for every family member). After folding the model is for inference only:
``model.train()`` would train without those BatchNorms.

Submodules that contain no gated backbone (an mmpretrain/mmdet ResNet baseline, necks, heads)
are folded by ``mmcv.cnn.fuse_conv_bn`` (a BatchNorm child directly after a conv child, the
rule of mmdet 2's ``--fuse-conv-bn``). Inside a gated backbone only the listed units are folded:
attention internals (on pooled maps, cheap) keep their BatchNorms.
"""
from typing import List, NamedTuple

from mmcv.cnn import fuse_conv_bn
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.fusion import fuse_conv_bn_eval


class FoldReport(NamedTuple):
    """What :func:`fold_batch_norm` did.

    Attributes:
        folded: qualified names of the norms folded into their conv.
        kept: ``(norm name, reason)`` for each unit left as it was.
    """
    folded: List[str]
    kept: List[tuple]

    def summary(self) -> str:
        """One line for logs."""
        line = f'folded {len(self.folded)} BatchNorms into their convs'
        if self.kept:
            reasons = sorted({r for _, r in self.kept})
            line += f', kept {len(self.kept)} ({"; ".join(reasons)})'
        return line


def _why_not(conv: nn.Module, norm: nn.Module, act: nn.Module):
    """Why a unit is kept (a reason), ``''`` if it folds, None if there is nothing to fold."""
    if isinstance(norm, nn.Identity):
        return None  # already folded (or no norm): nothing to do, not reported
    if getattr(act, 'needs_conv_input', False):
        return f'{type(act).__name__} reads the conv weights'
    if not isinstance(conv, nn.Conv2d):
        return f'{type(conv).__name__} is not an nn.Conv2d'
    if not isinstance(norm, (_BatchNorm, nn.SyncBatchNorm)) or not norm.track_running_stats \
            or norm.running_mean is None:
        return f'{type(norm).__name__} is not a BatchNorm with running statistics'
    return ''


def fold_batch_norm(model: nn.Module) -> FoldReport:
    """Fold every foldable BatchNorm of the gated backbones in ``model`` into its conv, in
    place (see the module docstring for where this is exact).

    Args:
        model: any module; every submodule with ``conv_norm_act_units()`` (gated backbones and
            blocks) is folded unit by unit, every subtree without one by
            ``mmcv.cnn.fuse_conv_bn``.

    Returns:
        :class:`FoldReport` (folded norm names, and the units kept with the reason).

    Raises:
        ValueError: a BatchNorm to fold is in training mode (folding uses the running
            statistics: call ``model.eval()`` first).
    """
    names = {id(m): n for n, m in model.named_modules()}
    folded, kept = [], []
    gated = set()  # names of the modules with units and of every module above one
    for name, module in model.named_modules():
        units = getattr(module, 'conv_norm_act_units', None)
        if units is None:
            continue
        parts = name.split('.') if name else []
        gated.update('.'.join(parts[:i]) for i in range(len(parts) + 1))
        for owner, conv_name, norm_name, act in units():
            conv, norm = getattr(owner, conv_name), getattr(owner, norm_name)
            qualified = _join(names.get(id(owner), ''), norm_name)
            reason = _why_not(conv, norm, act)
            if reason is None:
                continue
            if reason:
                kept.append((qualified, reason))
                continue
            _refuse_training(qualified, conv, norm)
            setattr(owner, conv_name, fuse_conv_bn_eval(conv, norm))
            setattr(owner, norm_name, nn.Identity())
            folded.append(qualified)
    folded += _fold_plain(model, '', gated)
    return FoldReport(folded, kept)


def _join(prefix: str, name: str) -> str:
    return f'{prefix}.{name}' if prefix and name else prefix or name


def _refuse_training(name: str, *modules: nn.Module) -> None:
    if any(m.training for m in modules):
        raise ValueError(f'fold_batch_norm: {name} is in training mode; folding uses the '
                         f'running statistics, call model.eval() first')


def _batch_norms(module: nn.Module, prefix: str) -> dict:
    return {_join(prefix, n): m for n, m in module.named_modules()
            if isinstance(m, (_BatchNorm, nn.SyncBatchNorm))}


def _fold_plain(module: nn.Module, prefix: str, gated: set) -> List[str]:
    """``mmcv.cnn.fuse_conv_bn`` on every maximal subtree without gated units (``gated``: the
    names of the modules with units and their ancestors); the names of the BatchNorms it
    folded."""
    if prefix in gated:
        if hasattr(module, 'conv_norm_act_units'):
            return []
        return [n for name, child in module.named_children()
                for n in _fold_plain(child, _join(prefix, name), gated)]
    before = _batch_norms(module, prefix)
    for name, bn in before.items():
        _refuse_training(name, bn)
    if before:
        fuse_conv_bn(module)
    return sorted(before.keys() - _batch_norms(module, prefix).keys())
