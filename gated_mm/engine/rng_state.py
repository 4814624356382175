"""Exact resume: a run stopped after epoch ``e`` (kill -9 included) and resumed with
``--resume`` continues with the same random numbers as the uninterrupted run.

mmengine's ``Runner.resume`` restores weights, optimizer, schedulers and the seed, but not the
random states; with random augmentation (crop, flip) or dropout a resumed run then drifts from
the uninterrupted one. :class:`RNGStateHook` closes the gap:

* **main process**: the states of Python's ``random``, NumPy's global generator, torch's CPU
  generator and (when initialised) every CUDA generator are stored in the checkpoint
  (``checkpoint['meta']['rng_state']``: rank 0's, and in distributed epoch-based runs every
  rank's, gathered after each iteration, since ranks draw data-dependent amounts, e.g. a
  detector's RoI sampling; each rank restores its own) and restored at
  ``before_train`` of a resumed run (iteration-based loops: after the trained batches are
  skipped, before the first new one);
* **validation during training** runs with the training random states saved before and
  restored after it, so a checkpoint's states are those the next epoch starts from;
* **data-loading workers** of the training loader are seeded per epoch with
  :func:`worker_seeds` of ``(seed, epoch, rank, worker id)`` (mmengine seeds them with
  ``seed + rank * num_workers + worker id`` in every epoch); the workers must restart every
  epoch (``persistent_workers=False``: :func:`add_rng_state_hook` sets it) so that a resumed
  epoch gets the workers (and augmentation) of the uninterrupted one;
* **sampler position**: mmengine's ``DefaultSampler`` / ``InfiniteSampler`` and
  :class:`~gated_mm.datasets.RebalancedSampler` draw the epoch's order from ``seed + epoch``;
  an iteration-based loop skips the trained batches on resume.

Limits: exact on CPU for checkpoints at epoch ends (epoch-based loops) or any iteration
(iteration-based loops), with the same seed, ``num_workers``, batch size and world size;
GPU kernels that are not deterministic (``randomness.deterministic=False``, atomics in
scatter/index_add backward, cuDNN autotuning) can still make resumed GPU runs differ.
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

__all__ = ['RNGStateHook', 'add_rng_state_hook', 'get_rng_state', 'set_rng_state',
           'worker_seeds', 'EpochWorkerSeeder']


def get_rng_state() -> dict:
    """Random states of this process: Python, NumPy (global), torch CPU and, when CUDA is
    initialised, every CUDA device (torch tensors and plain Python values only)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = dict(python=random.getstate(),
                 numpy=(name, torch.from_numpy(keys.astype(np.int64)), int(pos),
                        int(has_gauss), float(gauss)),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore states saved by :func:`get_rng_state` (CUDA ones if CUDA is available)."""
    random.setstate(_as_tuple(state['python']))
    name, keys, pos, has_gauss, gauss = state['numpy']
    np.random.set_state((name, np.asarray(keys, dtype=np.int64).astype(np.uint32), int(pos),
                         int(has_gauss), float(gauss)))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state['cuda']]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def _as_tuple(x):
    """``random.setstate`` wants nested tuples (a checkpoint round trip may give lists)."""
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def worker_seeds(seed: int, epoch: int, rank: int, worker_id: int) -> np.ndarray:
    """Four 32-bit words from ``numpy.random.SeedSequence([seed, epoch, rank, worker_id])``:
    a well-mixed, reproducible seed for one data-loading worker in one epoch."""
    return np.random.SeedSequence([int(seed) % 2**32, int(epoch), int(rank),
                                   int(worker_id)]).generate_state(4)


class EpochWorkerSeeder:
    """``worker_init_fn`` seeding NumPy, Python and torch in a worker from
    :func:`worker_seeds` of ``(seed, self.epoch, rank, worker_id)``; the hook sets ``epoch``
    before each epoch's workers start (fork and spawn both copy the current value)."""

    def __init__(self, seed: int, rank: int, epoch: int = 0):
        self.seed, self.rank, self.epoch = int(seed), int(rank), int(epoch)

    def __call__(self, worker_id: int) -> None:
        words = worker_seeds(self.seed, self.epoch, self.rank, worker_id)
        np.random.seed(words)
        random.seed(int(words[0]) << 32 | int(words[1]))
        torch.manual_seed(int(words[2]) << 32 | int(words[3]))


def _iter_based(cfg) -> bool:
    train_cfg = cfg.get('train_cfg') or {}
    return 'Iter' in str(train_cfg.get('type', '')) or train_cfg.get('by_epoch') is False


def add_rng_state_hook(cfg) -> None:
    """Append ``RNGStateHook`` to ``cfg.custom_hooks`` unless it is there or the config sets
    ``exact_resume=False`` (the opt-out), and, for an epoch-based loop with workers, set
    ``train_dataloader.persistent_workers=False`` (workers restart, seeded per epoch)."""
    if not cfg.get('exact_resume', True):
        return
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') in ('RNGStateHook', RNGStateHook) for h in hooks):
        hooks.append(dict(type='RNGStateHook'))
    cfg.custom_hooks = hooks
    loader = cfg.get('train_dataloader')
    if (loader and loader.get('num_workers', 0) and loader.get('persistent_workers')
            and not _iter_based(cfg)):
        loader['persistent_workers'] = False
        print_log('exact resume: train_dataloader.persistent_workers=False (the workers '
                  'restart every epoch, seeded by seed, epoch, rank and worker id; '
                  '--cfg-options exact_resume=False keeps them)', logger='current')


class _RestoreAfterSkip:
    """Dataloader iterator proxy: restore ``state`` just before batch number ``skip``."""

    def __init__(self, iterator, skip: int, state: dict):
        self._iterator, self._skip, self._state = iterator, skip, state

    def __next__(self):
        if self._skip == 0 and self._state is not None:
            set_rng_state(self._state)
            self._state = None
        self._skip -= 1
        return next(self._iterator)

    def __iter__(self):
        return self

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random states in every checkpoint and restore them on resume; seed the
    training loader's workers per epoch; keep validation out of the training random stream
    (see the module docstring for the guarantee and its limits)."""
    priority = 'VERY_LOW'

    def __init__(self):
        self._loaded: Optional[dict] = None
        self._saved_for_val: Optional[dict] = None
        self._seeder: Optional[EpochWorkerSeeder] = None
        self._rank_states: Optional[list] = None

    # ------------------------------------------------------------ checkpoint
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        # Distributed, epoch-based: every rank's states at the end of each iteration, for the
        # epoch-end checkpoint (CheckpointHook saves after the epoch's last iteration, with
        # no random draw in between). Each rank draws a data-dependent number of numbers
        # (detectors' RoI sampling), so rank 0's states are not the others'.
        world_size = get_dist_info()[1]
        if world_size > 1 and not _iter_based(runner.cfg):
            from mmengine.dist import all_gather_object
            self._rank_states = all_gather_object(get_rng_state())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # called on rank 0 only (Runner.save_checkpoint is master_only): its own states, and
        # in epoch-based distributed runs every rank's (after_train_iter)
        checkpoint.setdefault('meta', {})['rng_state'] = dict(
            state=get_rng_state(), iter=runner.iter, world_size=get_dist_info()[1],
            diff_rank_seed=bool((runner.cfg.get('randomness') or {}).get('diff_rank_seed')),
            **({'rank_states': self._rank_states} if self._rank_states else {}))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = (checkpoint.get('meta') or {}).get('rng_state')

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        if getattr(loader, 'num_workers', 0):
            self._seeder = EpochWorkerSeeder(runner.seed, get_dist_info()[0], runner.epoch)
            loader.worker_init_fn = self._seeder
            if getattr(loader, 'persistent_workers', False) and not _iter_based(runner.cfg):
                runner.logger.warning(
                    'RNGStateHook: train_dataloader.persistent_workers=True: the workers keep '
                    'their random state across epochs, so a resumed run gets other '
                    'augmentation; set persistent_workers=False for an exact resume')
        if runner.iter == 0:  # a fresh run or load_from (fine-tuning): nothing to restore
            return
        saved = self._loaded
        world_size = get_dist_info()[1]
        if not saved:
            runner.logger.warning('RNGStateHook: the checkpoint has no random states (saved '
                                  'without this hook): the resumed run continues with fresh '
                                  'ones and will not reproduce the uninterrupted run')
        elif world_size > 1 and saved['diff_rank_seed']:
            runner.logger.warning('RNGStateHook: randomness.diff_rank_seed=True: only rank '
                                  "0's random states are saved; not restored")
        else:
            iterator = getattr(runner.train_loop, 'dataloader_iterator', None)
            if iterator is not None and _iter_based(runner.cfg):
                # IterBasedTrainLoop fetches (and drops) the trained batches after this hook;
                # restore after them, before the first new batch (main-process transforms)
                runner.train_loop.dataloader_iterator = _RestoreAfterSkip(
                    iterator, runner.iter, saved['state'])
            else:
                rank_states = saved.get('rank_states')
                if rank_states and len(rank_states) == world_size:
                    set_rng_state(rank_states[get_dist_info()[0]])
                else:
                    set_rng_state(saved['state'])
            runner.logger.info(f"RNGStateHook: random states restored (saved at iteration "
                               f"{saved['iter']})")

    def before_train_epoch(self, runner) -> None:
        if self._seeder is not None:
            self._seeder.epoch = runner.epoch

    # ------------------------------------------------------------ validation in training
    def before_val(self, runner) -> None:
        self._saved_for_val = get_rng_state()

    def after_val(self, runner) -> None:
        if self._saved_for_val is not None:
            set_rng_state(self._saved_for_val)
            self._saved_for_val = None
