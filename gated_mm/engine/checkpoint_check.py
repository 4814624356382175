"""Refuse a checkpoint that cannot be read, and one that does not fill the model.

* :func:`check_checkpoint_file`: a local checkpoint that is empty, truncated (a copy or a
  save cut short) or not a checkpoint at all fails in torch after 8-12 frames
  (``PytorchStreamReader failed reading zip archive: failed finding central directory``);
  ``tools/test.py`` (CHECKPOINT), ``tools/train.py`` (``--resume``, ``load_from``) check it
  first and stop with one line naming the file and the option it came from.
* :func:`check_checkpoint_matches`: mmengine's ``Runner.load_checkpoint`` loads with
  ``strict=False``: a checkpoint of another architecture prints a "do not match exactly"
  warning and the test then runs on randomly initialised weights (chance accuracy, exit 0).
  It compares a checkpoint's ``state_dict`` with the model's before testing.
"""
import os
import pickle
import re
import zipfile
from typing import Dict, List

import torch
from torch import nn


class CheckpointMismatchError(ValueError):
    """The checkpoint leaves model weights unloaded or mis-shaped."""


class CheckpointReadError(ValueError):
    """The checkpoint file cannot be read (empty, truncated, not a checkpoint)."""


# what torch.load raises on a damaged file (zip reader, legacy pickle format)
_READ_ERRORS = (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
                OSError)


def _read_error(path: str, source: str, reason: str) -> CheckpointReadError:
    size = os.path.getsize(path) if os.path.isfile(path) else 0
    if size == 0:
        reason = 'the file is empty'
    return CheckpointReadError(
        f'{source} {path}: not a readable checkpoint ({reason}; {size} bytes): the file is '
        f'truncated or not a checkpoint; copy or download it again, or use an earlier one')


def check_checkpoint_file(path: str, source: str = 'checkpoint') -> None:
    """Check that the local checkpoint ``path`` can be opened, without loading its tensors.

    A file in torch's zip format (torch >= 1.6) is checked for its central directory (at the
    end of the file, so every truncation loses it) and its ``data.pkl`` record; any other
    file is loaded with ``torch.load`` (the legacy format has no index to check). URLs and
    paths that do not exist are left to the caller.

    Args:
        path: the checkpoint file.
        source: where it came from, for the message (``'--resume'``, ``'load_from'``, ...).

    Raises:
        CheckpointReadError: one line naming ``source``, the file, the reason and its size.
    """
    if '://' in path or not os.path.isfile(path):
        return
    if os.path.getsize(path) == 0:
        raise _read_error(path, source, '')
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise _read_error(path, source, f'{type(e).__name__}: {e}') from None
        if not any(n.endswith('/data.pkl') or n == 'data.pkl' for n in names):
            raise _read_error(path, source, "a zip file without data.pkl, not torch.save's")
        return
    load_checkpoint_file(path, source)


def load_checkpoint_file(path: str, source: str = 'checkpoint', map_location='cpu'):
    """Load a checkpoint with mmengine's ``CheckpointLoader`` (local path or URL).

    Raises:
        CheckpointReadError: instead of torch's multi-frame error when the file is damaged
            (one line: ``source``, the file, torch's reason, its size).
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    try:
        return CheckpointLoader.load_checkpoint(path, map_location=map_location)
    except _READ_ERRORS as e:
        if '://' in path or not os.path.isfile(path):
            raise
        # the first sentence of torch's reason (its advice after it is what the line says)
        reason = str(e).strip().splitlines()[0].split('. ', 1)[0] if str(e).strip() else ''
        raise _read_error(path, source, f'{type(e).__name__}: {reason}'.rstrip(': ')) from None


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
        CheckpointReadError: ``checkpoint`` is a path to a damaged file (one line).
        CheckpointMismatchError: one line naming the number of model tensors the checkpoint
            leaves unloaded and of shape mismatches, with the first of each
            (``num_batches_tracked`` counters are not required).
    """
    from mmengine.model import is_model_wrapper
    if is_model_wrapper(model):
        model = model.module
    if isinstance(checkpoint, str):
        checkpoint = load_checkpoint_file(checkpoint, name)
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
