"""Refuse to evaluate a model with a checkpoint that does not fill it.

mmengine's ``Runner.load_checkpoint`` loads with ``strict=False``: a checkpoint of another
architecture prints a "do not match exactly" warning and the test then runs on randomly
initialised weights (chance accuracy, exit 0). :func:`check_checkpoint_matches` compares a
checkpoint's ``state_dict`` with the model's before testing.
"""
import re
from typing import Dict, List

import torch
from torch import nn


class CheckpointMismatchError(ValueError):
    """The checkpoint leaves model weights unloaded or mis-shaped."""


# BatchNorm's step counter: absent from many converted checkpoints and unused in eval.
_IGNORED_MISSING = re.compile(r'(^|\.)num_batches_tracked$')


def _plain_state_dict(checkpoint) -> Dict[str, torch.Tensor]:
    """The parameter dict of a loaded checkpoint: its ``state_dict`` (or ``model``) entry,
    else the dict itself; a DDP ``module.`` prefix is removed (as mmengine does)."""
    sd = checkpoint
    if isinstance(sd, dict):
        for key in ('state_dict', 'model'):
            if isinstance(sd.get(key), dict):
                sd = sd[key]
                break
    return {re.sub(r'^module\.', '', k): v for k, v in sd.items()}


def check_checkpoint_matches(model: nn.Module, checkpoint, name: str = 'checkpoint') -> List[str]:
    """Check that ``checkpoint`` fills every tensor of ``model`` with the right shape.

    Args:
        model: the model to be tested (an mmengine model wrapper is unwrapped).
        checkpoint: a loaded checkpoint (dict with ``state_dict``/``model`` or a bare
            state dict) or a path/URL loaded with mmengine's ``CheckpointLoader``.
        name: how the checkpoint is named in the message (e.g. its path).

    Returns:
        The checkpoint keys the model does not have (loaded nowhere; not an error).

    Raises:
        CheckpointMismatchError: one line naming the number of model tensors the checkpoint
            leaves unloaded and of shape mismatches, with the first of each
            (``num_batches_tracked`` counters are not required).
    """
    from mmengine.model import is_model_wrapper
    from mmengine.runner.checkpoint import CheckpointLoader
    if is_model_wrapper(model):
        model = model.module
    if isinstance(checkpoint, str):
        checkpoint = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    ckpt = _plain_state_dict(checkpoint)
    own = model.state_dict()
    missing = [k for k in own if k not in ckpt and not _IGNORED_MISSING.search(k)]
    mismatched = [k for k in own if k in ckpt and hasattr(ckpt[k], 'shape')
                  and tuple(ckpt[k].shape) != tuple(own[k].shape)]
    unexpected = [k for k in ckpt if k not in own]
    if missing or mismatched:
        parts = []
        if missing:
            parts.append(f'{len(missing)} of {len(own)} model tensors not in it '
                         f'(first: {missing[0]})')
        if mismatched:
            k = mismatched[0]
            parts.append(f'{len(mismatched)} of different shape (first: {k}: checkpoint '
                         f'{tuple(ckpt[k].shape)}, model {tuple(own[k].shape)})')
        raise CheckpointMismatchError(
            f'{name} does not match the model: {"; ".join(parts)}. Is it a checkpoint of '
            'this config? (--allow-partial-checkpoint tests anyway)')
    return unexpected
