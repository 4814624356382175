"""Where APA/AGLU run fused with what precedes them: the switch and the predicates.

Two autograd nodes fuse a scalar-parameter APA/AGLU with the modules before it, with the
unfused results and less saved memory:

* BatchNorm → APA/AGLU, :func:`~.norm_act.batch_norm_act` (every conv → BN → act unit of the
  gated backbones); for BatchNorm → IIEU-B, :func:`~.norm_act.batch_norm_iieu` keeps the BN
  input instead of its output (:func:`norm_output_recomputable`);
* attention scale + residual add (with BatchNorms folded in) → APA/AGLU,
  :func:`~.residual_act.residual_act` (the end of a gated residual block, where
  :meth:`~gated_mm.models.backbones.GatedResidualBlock.block_end_fusion` says so).

Each runs only where it is exactly equivalent to the unfused modules; :func:`norm_act_fusion`
and :func:`residual_fusable` say where. :func:`fusion` switches either node off inside a
``with`` block (the unfused modules run: a reference, or the cost of fusing measured).
"""
import contextlib
from typing import Iterator, Optional

import torch
from torch import nn

from .apa_aglu import AGLU, APA

_PLAIN_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_enabled = {'norm_act': True, 'residual_act': True}


@contextlib.contextmanager
def fusion(enabled: Optional[bool] = None, *, norm_act: Optional[bool] = None,
           residual_act: Optional[bool] = None) -> Iterator[None]:
    """Allow or forbid the fused nodes inside the block (both allowed by default).

    Args:
        enabled: both nodes (None: as they are).
        norm_act: the BatchNorm → APA/AGLU node, and BatchNorm → IIEU-B's recompute of the BN
            output (None: as ``enabled``).
        residual_act: the residual node, i.e. the fused block end (None: as ``enabled``).

    Examples: ``fusion(False)`` runs every module unfused; ``fusion(residual_act=False)`` only
    the block ends. With gradient checkpointing (``with_cp``) the BN → act units decide again
    when the backward recomputes them: keep the backward inside the same block.
    """
    saved = dict(_enabled)
    for node, value in (('norm_act', norm_act), ('residual_act', residual_act)):
        value = enabled if value is None else value
        if value is not None:
            _enabled[node] = bool(value)
    try:
        yield
    finally:
        _enabled.update(saved)


def _tracing() -> bool:
    """Under ``torch.compile`` (which fuses the maths itself) or ``torch.jit.trace`` (which
    records the plain ops, which TorchScript can save)."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()


def _fusable_act(act: nn.Module) -> bool:
    """An APA/AGLU with scalar κ, λ."""
    return isinstance(act, (APA, AGLU)) and act.num_channels is None


def _fusable_norm(norm: nn.Module, training: bool = True) -> bool:
    """A plain ``nn.BatchNorm{1,2,3}d`` (not SyncBN) with affine parameters and running
    statistics, in training mode (``training``) or in eval mode."""
    return (type(norm) in _PLAIN_BN and norm.training == training and norm.affine
            and norm.track_running_stats and norm.running_mean is not None)


def norm_act_fusion(norm: nn.Module, act: nn.Module) -> Optional[str]:
    """How ``act(norm(x))`` runs in :func:`~.norm_act.batch_norm_act` now.

    Returns:
        ``'train'``: one node with batch statistics (``norm`` a plain BatchNorm in training
        mode, grad enabled: the node pays off only when a backward runs); ``'eval'``: one node
        with the running statistics (``norm`` in eval mode); None: the two modules unfused
        (any other norm or activation, per-channel κ/λ, under ``torch.compile`` or
        ``torch.jit.trace``, or inside ``fusion(norm_act=False)``).
    """
    if not (_enabled['norm_act'] and _fusable_act(act)) or _tracing():
        return None
    if _fusable_norm(norm) and torch.is_grad_enabled():
        return 'train'
    return 'eval' if _fusable_norm(norm, training=False) else None


def norm_output_recomputable(norm: nn.Module) -> bool:
    """Whether an activation after ``norm`` may keep the norm's input instead of its output and
    recompute the output y·α + β in backward (:func:`~.norm_act.batch_norm_iieu`): ``norm`` a
    plain BatchNorm (training or eval mode) without forward hooks, grad enabled, not under
    ``torch.compile``/``torch.jit.trace`` nor ``fusion(norm_act=False)``."""
    return (_enabled['norm_act'] and not _tracing() and torch.is_grad_enabled()
            and isinstance(norm, nn.Module) and _fusable_norm(norm, training=norm.training)
            and not has_forward_hooks(norm))


def residual_fusable(act: nn.Module, main_norm: Optional[nn.Module] = None,
                     shortcut_norm: Optional[nn.Module] = None) -> bool:
    """Whether :func:`~.residual_act.residual_act` runs as one node now: ``act`` a scalar
    APA/AGLU, not under ``torch.compile``/``torch.jit.trace`` nor ``fusion(residual_act=False)``,
    and either grad enabled with each given norm a plain BatchNorm in training mode (the
    memory-light training node), or grad disabled with no norm given (inference: one pass of
    the compiled kernel over a, s, b instead of three)."""
    if not (_enabled['residual_act'] and not _tracing() and _fusable_act(act)):
        return False
    norms = [n for n in (main_norm, shortcut_norm) if n is not None]
    if not torch.is_grad_enabled():
        return not norms
    return all(_fusable_norm(n) for n in norms)


def has_forward_hooks(*modules: nn.Module) -> bool:
    """Whether any module has forward (pre-)hooks: a fused node does not call the modules it
    replaces, so hooked modules run unfused."""
    return any(m._forward_hooks or m._forward_pre_hooks for m in modules)
