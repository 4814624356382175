"""Runner-level pieces of gated_mm.

* hooks (mmengine root ``HOOKS``): the progress bar of the shared runtime base
  ``configs/_base_/default_runtime.py``, the finite-loss check added by ``tools/train.py``, the
  epoch setter of epoch-scheduled losses (LDAM-DRW);
* the optimizer-wrapper constructor that keeps κ / λ out of weight decay (mmengine root
  ``OPTIM_WRAPPER_CONSTRUCTORS``; the default of ``tools/train.py``);
* the checkpoint checks of ``tools/test.py`` and ``tools/train.py`` (the file can be read; it
  fills the model); the check of the datasets' labels and class count against the head
  (``ClassCountCheckHook``, added by ``tools/train.py`` and ``tools/test.py``);
  the random-state saving and per-epoch worker seeding of exact resume (``RNGStateHook``,
  added by ``tools/train.py``); the BatchNorm folding of ``tools/test.py --fuse-conv-bn``
  (``FoldBatchNormHook``).
"""
from .checkpoint_check import (CheckpointMismatchError, CheckpointReadError,
                               check_checkpoint_file, check_checkpoint_matches,
                               load_checkpoint_file)
from .class_check import (ClassCountCheckHook, ClassCountMismatchError,
                          add_class_count_check_hook, check_dataset_classes)
from .finite_loss import (FiniteLossHook, NonFiniteLossError, add_finite_loss_hook,
                          first_nonfinite_module)
from .fold_bn_hook import FoldBatchNormHook
from .hooks import SetEpochHook
from .optim_constructor import GatedOptimWrapperConstructor, use_gated_optim_constructor
from .progress_bar_hook import ProgressBarHook
from .rng_state import (EpochWorkerSeeder, RNGStateHook, add_rng_state_hook, get_rng_state,
                        set_rng_state, worker_seeds)

__all__ = ['CheckpointMismatchError', 'CheckpointReadError', 'check_checkpoint_file',
           'check_checkpoint_matches', 'load_checkpoint_file', 'ClassCountCheckHook',
           'ClassCountMismatchError', 'add_class_count_check_hook', 'check_dataset_classes',
           'FiniteLossHook', 'FoldBatchNormHook',
           'first_nonfinite_module', 'NonFiniteLossError', 'add_finite_loss_hook',
           'ProgressBarHook', 'SetEpochHook', 'GatedOptimWrapperConstructor',
           'use_gated_optim_constructor', 'RNGStateHook', 'add_rng_state_hook',
           'EpochWorkerSeeder', 'get_rng_state', 'set_rng_state', 'worker_seeds']
