"""Compatibility fixes for the last OpenMMLab releases on current software.

``import gated_mm`` imports this module first and calls :func:`apply_all`, so every
entry point (``tools/train.py``, ``tools/test.py``, ``custom_imports=['gated_mm']`` in a
config, a notebook) runs with the same fixes. Each fix is a function that

* patches one upstream module (the call site), never global behaviour where avoidable;
* is idempotent (a second call finds its marker and does nothing) and returns whether
  it changed anything;
* skips itself when the upstream package is absent or the software is old enough not
  to need it;
* says in its docstring what it patches, why (versions and error message) and when it
  can be removed. Each one has a test in ``tests/test_compat.py`` that fails without it.

Fixes, by the name :data:`STATUS` reports them under:

``mmengine_checkpoint_weights_only``
    torch >= 2.6 ``torch.load(weights_only=True)`` vs mmengine 0.10.7 checkpoints.
``lvis_np_float``
    lvis 0.5.3 uses ``np.float`` (NumPy >= 1.24).
``mmpretrain_np_in1d``
    mmpretrain 1.2.0 retrieval metrics use ``np.in1d`` (NumPy >= 2.4).
``mmcv_adjust_hue``
    mmcv 2.1.0 ``adjust_hue`` overflows for negative hue under NumPy 2.
``mmengine_amp_cpu``
    mmengine 0.10.7 ``AmpOptimWrapper`` refuses CPU; allowed with bfloat16.
``mmengine_config_package``
    ``_base_ = 'gated_mm::<dir>/<file>.py'`` in a config (mmengine 0.10.7 opens ``pkg::`` only
    to the OpenMMLab packages it lists); :func:`config_path` gives the same file's path.
``mmdet_lvis_class_check``
    mmdet 3.3.0 ``LVISV1Dataset`` silently labels a file with other categories than its
    1,203 class names; it now stops with one line.

Not patches but kept here so that CPU launch logic and the prerequisite check live in one
place: :func:`setup_cpu_distributed` prepares a config for DDP on a machine without GPU
(gloo, process group initialised before the Runner, ``device_ids=None``);
:func:`require_mmcv` raises one line naming what is missing of mmcv (the package, or its
compiled ops) and how to install it (``import gated_mm`` checks the package; the tools check
the ops for mmdet configs).

mmengine's ``collect_env`` crash with a broken torchvision (``mmengine/utils/dl_utils/collect_env.py`` imports torchvision) needs no
fix here: ``tools/setup_env.sh`` installs a matching torch/torchvision pair, and with a
broken torchvision mmpretrain itself fails to import, so patching ``collect_env`` would
only move the error.
"""
import atexit
import contextlib
import logging
import os
import types
from typing import Dict, Optional

import numpy as np
import torch

__all__ = [
    'apply_all', 'STATUS', 'patch_mmengine_checkpoint_loading', 'patch_lvis_numpy',
    'patch_mmpretrain_retrieval_numpy', 'patch_mmcv_adjust_hue',
    'patch_amp_optim_wrapper_cpu', 'patch_mmengine_config_package', 'config_path',
    'patch_mmdet_lvis_class_check', 'setup_cpu_distributed', 'accelerator_available',
    'require_mmcv'
]

#: fix name -> 'applied' | 'not needed: ...' | 'skipped: ...' (filled by :func:`apply_all`)
STATUS: Dict[str, str] = {}


def _version_tuple(version: str) -> tuple:
    """'2.14.1+cu130' -> (2, 14, 1); enough for the comparisons below."""
    parts = []
    for piece in version.split('+')[0].split('.')[:3]:
        digits = ''.join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


class _ModuleShim(types.ModuleType):
    """Stand-in for a module (``torch``, ``numpy``) inside ONE upstream module.

    It holds a few overriding attributes and forwards every other attribute lookup to
    the wrapped module, so only the patched module sees the difference. Assigned to the
    upstream module's global name (e.g. ``lvis.eval.np``); the real module is untouched.
    """

    def __init__(self, wrapped: types.ModuleType, **overrides):
        super().__init__(wrapped.__name__, wrapped.__doc__)
        self.__dict__['__wrapped__'] = wrapped
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self.__dict__['__wrapped__'], name)

    def __repr__(self):
        return f'<gated_mm.compat shim of {self.__dict__["__wrapped__"]!r}>'


# --------------------------------------------------------------------------------------
# (a) torch >= 2.6 weights_only default vs mmengine checkpoints
# --------------------------------------------------------------------------------------
def _torch_load_weights_only_false(*args, **kwargs):
    """``torch.load`` with ``weights_only=False`` unless the caller chose otherwise."""
    kwargs.setdefault('weights_only', False)
    return torch.load(*args, **kwargs)


def patch_mmengine_checkpoint_loading() -> bool:
    """Let mmengine's checkpoint loaders unpickle full Runner checkpoints again.

    Patches: the name ``torch`` in :mod:`mmengine.runner.checkpoint` (which holds
    ``load_from_local``, ``load_from_ceph``, ``load_from_pavi``, ``load_from_openmmlab``,
    ``load_from_mmcls``, hence ``CheckpointLoader``, ``_load_checkpoint``,
    ``load_checkpoint`` and ``Runner.load_checkpoint`` / ``Runner.resume``) becomes a shim
    whose ``load`` defaults to ``weights_only=False``. Global ``torch.load`` is unchanged;
    an explicit ``weights_only=`` from a caller is respected. (http/torchvision URLs go
    through ``torch.hub.load_state_dict_from_url``, whose default is already False.)

    Why: torch 2.6 changed the default of ``torch.load`` to ``weights_only=True``.
    mmengine 0.10.7 calls ``torch.load(filename, map_location=...)``, and its Runner
    checkpoints pickle ``message_hub`` (``HistoryBuffer``), numpy scalars and config
    objects, so ``resume`` and ``load_from`` of a Runner checkpoint fail with
    ``_pickle.UnpicklingError: Weights only load failed ... Unsupported global: GLOBAL
    mmengine.logging.history_buffer.HistoryBuffer``. Same trust model as before torch
    2.6: load checkpoints only from sources you trust.

    Remove when: mmengine passes ``weights_only`` itself (a release after 0.10.7), or the
    environment pins torch < 2.6. Skipped on torch < 2.6.
    """
    if _version_tuple(torch.__version__) < (2, 6):
        STATUS['mmengine_checkpoint_weights_only'] = 'not needed: torch < 2.6'
        return False
    from mmengine.runner import checkpoint as ckpt_module
    STATUS['mmengine_checkpoint_weights_only'] = 'applied'
    if isinstance(ckpt_module.torch, _ModuleShim):
        return False
    ckpt_module.torch = _ModuleShim(torch, load=_torch_load_weights_only_false)
    return True


# --------------------------------------------------------------------------------------
# (b) NumPy aliases removed under lvis 0.5.3 and mmpretrain 1.2.0
# --------------------------------------------------------------------------------------
def patch_lvis_numpy() -> bool:
    """Give ``lvis.eval`` the ``np.float`` alias it uses.

    Patches: the name ``np`` in :mod:`lvis.eval` only, with a shim where ``np.float`` is
    the builtin ``float`` (what the alias was: float64). Global NumPy is unchanged.

    Why: lvis 0.5.3 (last release, 2020) ``LVISEval.accumulate`` does
    ``np.cumsum(...).astype(dtype=np.float)``; NumPy 1.24 removed the alias, so every
    LVIS evaluation (and mmdet's ``LVISMetric``) fails with ``AttributeError: module
    'numpy' has no attribute 'float'``.

    Remove when: lvis ships a release without ``np.float``. Skipped when lvis is not
    installed or NumPy still has the alias.
    """
    name = 'lvis_np_float'
    if hasattr(np, 'float'):
        STATUS[name] = 'not needed: numpy has np.float'
        return False
    # lvis/__init__.py calls logging.basicConfig(level=WARN): keep `import gated_mm` from
    # configuring the root logger as a side effect
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import lvis.eval as lvis_eval
    except ImportError:
        STATUS[name] = 'skipped: lvis not installed'
        return False
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    STATUS[name] = 'applied'
    if isinstance(lvis_eval.np, _ModuleShim):
        return False
    lvis_eval.np = _ModuleShim(np, float=float)
    return True


def _in1d(ar1, ar2, assume_unique=False, invert=False, **kwargs):
    """``np.in1d`` as NumPy < 2.4 defined it: ``np.isin`` on the flattened ``ar1``."""
    return np.isin(np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert,
                   **kwargs)


def patch_mmpretrain_retrieval_numpy() -> bool:
    """Give mmpretrain's retrieval metrics the ``np.in1d`` they call.

    Patches: the name ``np`` in :mod:`mmpretrain.evaluation.metrics.retrieval` only,
    with a shim where ``np.in1d(a, b)`` is ``np.isin(np.ravel(a), b)`` (its documented
    equivalent). Global NumPy is unchanged.

    Why: mmpretrain 1.2.0 ``RetrievalRecall.calculate`` and ``_calculateAp_for_sample``
    (``RetrievalAveragePrecision``) call ``np.in1d``, deprecated in NumPy 2.0 and removed
    in 2.4: ``AttributeError: module 'numpy' has no attribute 'in1d'``.

    Remove when: mmpretrain uses ``np.isin`` (a release after 1.2.0). Skipped when
    mmpretrain is not installed or NumPy still has ``in1d``.
    """
    name = 'mmpretrain_np_in1d'
    if hasattr(np, 'in1d'):
        STATUS[name] = 'not needed: numpy has np.in1d'
        return False
    try:
        from mmpretrain.evaluation.metrics import retrieval
    except ImportError:
        STATUS[name] = 'skipped: mmpretrain not installed'
        return False
    STATUS[name] = 'applied'
    if isinstance(retrieval.np, _ModuleShim):
        return False
    retrieval.np = _ModuleShim(np, in1d=_in1d)
    return True


# --------------------------------------------------------------------------------------
# (c) mmcv adjust_hue with negative hue under NumPy 2
# --------------------------------------------------------------------------------------
def _make_adjust_hue(original):
    from mmcv.image import photometric

    def adjust_hue(img: np.ndarray, hue_factor: float,
                   backend: Optional[str] = None) -> np.ndarray:
        """mmcv's ``adjust_hue`` with the hue shift taken modulo 256 (see
        :func:`gated_mm.compat.patch_mmcv_adjust_hue`); same arguments and results."""
        if not -0.5 <= hue_factor < 0:
            # non-negative (and invalid) factors: mmcv's code is fine / raises itself
            return original(img, hue_factor, backend)
        if backend is None:
            backend = photometric.imread_backend
        if backend not in ['cv2', 'pillow']:
            raise ValueError(f'backend: {backend} is not supported.'
                             f"Supported backends are 'cv2', 'pillow'")
        if not (isinstance(img, np.ndarray) and (img.ndim in {2, 3})):
            raise TypeError('img should be ndarray with dim=[2 or 3].')
        # what np.uint8(hue_factor * 255) gave under NumPy 1: truncate, wrap mod 256
        shift = np.uint8(int(hue_factor * 255) % 256)
        if backend == 'pillow':
            Image = photometric.Image
            assert img.dtype == np.uint8, 'Pillow backend only support uint8 type'
            pil_image = Image.fromarray(img[..., ::-1], mode='RGB')
            h, s, v = pil_image.convert('HSV').split()
            np_h = np.array(h, dtype=np.uint8)
            np_h += shift  # uint8 addition wraps around the hue circle
            h = Image.fromarray(np_h, 'L')
            pil_image = Image.merge('HSV', (h, s, v)).convert('RGB')
            return np.array(pil_image, dtype=img.dtype)[..., ::-1]
        cv2 = photometric.cv2
        dtype = img.dtype
        hsv_img = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
        h, s, v = cv2.split(hsv_img)
        h = h.astype(np.uint8)
        h += shift  # uint8 addition wraps around the hue circle
        hsv_img = cv2.merge([h, s, v])
        return cv2.cvtColor(hsv_img, cv2.COLOR_HSV2BGR_FULL).astype(dtype)

    adjust_hue.__wrapped__ = original
    adjust_hue._gated_mm_fix = True
    return adjust_hue


def patch_mmcv_adjust_hue() -> bool:
    """Make ``mmcv.adjust_hue`` accept negative hue factors under NumPy 2.

    Patches: ``adjust_hue`` in :mod:`mmcv.image.photometric`, :mod:`mmcv.image` and
    :mod:`mmcv` (mmpretrain's ``ColorJitter`` calls ``mmcv.adjust_hue``). Negative
    factors use the shift ``int(hue_factor * 255) mod 256`` (what NumPy 1 computed);
    other factors still run mmcv's own function. Code that did ``from mmcv import
    adjust_hue`` before ``import gated_mm`` keeps the unpatched function.

    Why: mmcv 2.1.0 computes the hue shift as ``np.uint8(hue_factor * 255)``; NumPy 2
    raises ``OverflowError: Python integer -25 out of bounds for uint8`` for negative
    factors, so ``ColorJitter(hue=h)`` with any h > 0 fails about half the time.

    Remove when: mmcv fixes ``adjust_hue`` (not fixed in 2.2.0) or NumPy < 2 is pinned.
    Skipped when mmcv is not installed.
    """
    try:
        import mmcv
        import mmcv.image
        from mmcv.image import photometric
    except ImportError:
        STATUS['mmcv_adjust_hue'] = 'skipped: mmcv not installed'
        return False
    STATUS['mmcv_adjust_hue'] = 'applied'
    if getattr(photometric.adjust_hue, '_gated_mm_fix', False):
        return False
    fixed = _make_adjust_hue(photometric.adjust_hue)
    for module in (photometric, mmcv.image, mmcv):
        if getattr(module, 'adjust_hue', None) is fixed.__wrapped__:
            module.adjust_hue = fixed
    return True


# --------------------------------------------------------------------------------------
# (--amp on CPU) AmpOptimWrapper with bfloat16 on CPU
# --------------------------------------------------------------------------------------
def accelerator_available() -> bool:
    """True when mmengine finds CUDA, NPU, MLU or MUSA (the devices it runs AMP and
    NCCL-style DDP on)."""
    from mmengine import device
    return (device.is_cuda_available() or device.is_npu_available()
            or device.is_mlu_available() or device.is_musa_available())


def patch_amp_optim_wrapper_cpu() -> bool:
    """Let mmengine's ``AmpOptimWrapper`` run bfloat16 autocast on CPU.

    Patches: ``AmpOptimWrapper.__init__`` (mmengine 0.10.7). With an accelerator,
    or for any dtype but bfloat16, mmengine's own ``__init__`` runs unchanged (so fp16 on
    CPU still fails with mmengine's assertion). On CPU with ``dtype='bfloat16'`` it sets
    up the wrapper with a disabled ``torch.amp.GradScaler('cpu')`` (bfloat16 has float32's
    exponent range: no loss scaling) and ``cast_dtype=torch.bfloat16``;
    ``optim_context`` then runs mmengine's ``autocast`` which on CPU uses
    ``torch.autocast('cpu', dtype=torch.bfloat16)``.

    Why: mmengine 0.10.7 asserts ``is_cuda_available() or is_npu_available() or ...``
    (``AssertionError: ``AmpOptimizerWrapper`` is only available training on gpu, npu,
    mlu or musa``) although its ``autocast`` supports CPU bfloat16; ``tools/train.py
    --amp`` on a CPU machine uses this.

    Remove when: mmengine allows CPU AMP (not in 0.10.7).
    """
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    STATUS['mmengine_amp_cpu'] = 'applied'
    if getattr(AmpOptimWrapper.__init__, '_gated_mm_fix', False):
        return False
    original_init = AmpOptimWrapper.__init__

    def __init__(self, loss_scale='dynamic', dtype=None, use_fsdp=False, **kwargs):
        if accelerator_available() or dtype not in ('bfloat16', torch.bfloat16):
            return original_init(self, loss_scale=loss_scale, dtype=dtype,
                                 use_fsdp=use_fsdp, **kwargs)
        OptimWrapper.__init__(self, **kwargs)
        self._scale_update_param = None
        self.loss_scaler = torch.amp.GradScaler('cpu', enabled=False)
        self.cast_dtype = torch.bfloat16

    __init__.__wrapped__ = original_init
    __init__.__doc__ = original_init.__doc__
    __init__._gated_mm_fix = True
    AmpOptimWrapper.__init__ = __init__
    return True


# --------------------------------------------------------------------------------------
# (e) mmdet's LVIS datasets: annotation categories vs class names
# --------------------------------------------------------------------------------------
def _lvis_checked_load(original):

    def load_data_list(self):
        data_list = original(self)
        classes = (self._metainfo or {}).get('classes') or ()
        n_file = len(self.cat_ids)
        if n_file != len(classes):
            from gated_mm.engine.class_check import ClassCountMismatchError
            name = type(self).__name__
            if tuple(classes) == tuple(type(self).METAINFO.get('classes', ())):
                what = f"{name}'s {len(classes)} built-in class names"
            else:
                what = f'the {len(classes)} class names of its metainfo'
            raise ClassCountMismatchError(
                f'{self.ann_file} has {n_file} categories but {name} labels them with {what}: '
                f"read an annotation file with other categories with type='LVISSubsetDataset' "
                f'(class names from the file)')
        return data_list

    load_data_list.__wrapped__ = original
    load_data_list.__doc__ = original.__doc__
    load_data_list._gated_mm_fix = True
    return load_data_list


def patch_mmdet_lvis_class_check() -> bool:
    """Make mmdet's LVIS datasets refuse an annotation file whose category count is not
    their number of class names.

    Patches: ``load_data_list`` of ``mmdet.datasets.LVISV05Dataset`` (= ``LVISDataset``) and
    ``LVISV1Dataset`` (mmdet 3.3.0): after mmdet's own loading, ``len(self.cat_ids)`` (the
    file's categories, which mmdet labels 0..K−1 in file order) must equal
    ``len(metainfo['classes'])``, else :class:`gated_mm.engine.ClassCountMismatchError` (a
    ``ValueError``; ``tools/train.py`` / ``tools/test.py`` print it and exit 1) with one line
    naming the file, both counts and ``LVISSubsetDataset``. Subclasses that take their class
    names from the file (:class:`gated_mm.datasets.LVISSubsetDataset`) pass by construction.

    Why: ``LVISV1Dataset`` hard-codes LVIS v1's 1,203 class names in ``METAINFO`` but labels
    whatever categories the file has; a converted 24-class subset read with it trains with
    exit status 0, and the checkpoint, the visualiser and the metric tables carry LVIS's first
    24 of 1,203 names for the model's 24 classes. Not a version breakage: a missing check of
    the last mmdet release, kept here because it patches an upstream call site.

    Remove when: mmdet checks this itself (not in 3.3.0). Skipped without mmdet.
    """
    name = 'mmdet_lvis_class_check'
    try:
        from mmdet.datasets import lvis as mmdet_lvis
    except ImportError:
        STATUS[name] = 'skipped: mmdet not installed'
        return False
    STATUS[name] = 'applied'
    changed = False
    for cls in (mmdet_lvis.LVISV05Dataset, mmdet_lvis.LVISV1Dataset):
        original = cls.__dict__.get('load_data_list')
        if original is None or getattr(original, '_gated_mm_fix', False):
            continue
        cls.load_data_list = _lvis_checked_load(original)
        changed = True
    return changed


# --------------------------------------------------------------------------------------
# (d) DDP on a machine without GPU
# --------------------------------------------------------------------------------------
@contextlib.contextmanager
def _no_cuda_set_device():
    """Make ``torch.cuda.set_device`` a no-op for the duration (no GPU to select)."""
    original = torch.cuda.set_device
    torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = original


_LAUNCHER_ENV = {'pytorch': ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                             'MASTER_PORT'),
                 'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'),
                 'mpi': ('OMPI_COMM_WORLD_LOCAL_RANK', 'OMPI_COMM_WORLD_SIZE',
                         'OMPI_COMM_WORLD_RANK', 'MASTER_ADDR')}


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Prepare ``cfg`` (an mmengine ``Config``) for distributed CPU training/testing.

    Does nothing and returns False when ``launcher == 'none'`` or an accelerator is
    available (then mmengine's own NCCL path is right). Otherwise:

    1. checks the launcher's environment variables (one-line ``RuntimeError`` naming the
       missing ones, e.g. when ``--launcher pytorch`` is used without torchrun);
    2. sets ``cfg.env_cfg.dist_cfg.backend = 'gloo'`` and initialises the process group
       now, through mmengine's own ``init_dist`` (same env handling for pytorch, slurm and
       mpi launchers) with ``torch.cuda.set_device`` made a no-op during the call, so
       that the Runner finds it initialised and skips its ``init_dist``;
    3. sets ``cfg.model_wrapper_cfg`` to ``MMDistributedDataParallel`` with
       ``device_ids=None`` (CPU modules), keeping any other keys of an existing
       ``model_wrapper_cfg`` and mmengine's defaults (``broadcast_buffers=False``,
       ``find_unused_parameters`` from the config);
    4. registers an ``atexit`` handler that destroys the process group it created while the
       interpreter is still alive (mmengine's Runner never calls ``destroy_process_group``;
       gloo's worker threads torn down during interpreter finalisation abort the process,
       "terminate called without an active exception", exit code -6, seen on one rank of
       ``tools/dist_train.sh`` after a finished run).

    Why: mmengine 0.10.7 ``_init_dist_pytorch`` / ``_init_dist_slurm`` /
    ``_init_dist_mpi`` call ``torch.cuda.set_device(local_rank)`` (fails without GPU),
    its default ``dist_cfg`` is NCCL, and ``Runner.wrap_model`` passes
    ``device_ids=[local_rank]`` which DDP rejects for CPU modules.
    Remove when: mmengine supports CPU distributed runs itself.
    """
    if launcher == 'none' or accelerator_available():
        return False
    if launcher not in _LAUNCHER_ENV:
        raise ValueError(f'unknown launcher {launcher!r}: use none, pytorch, slurm or mpi')
    missing = [k for k in _LAUNCHER_ENV[launcher] if k not in os.environ]
    if missing:
        hint = ' (start it with tools/dist_train.sh / torchrun)' if launcher == 'pytorch' else ''
        raise RuntimeError(f'--launcher {launcher} needs environment variables '
                           f'{", ".join(missing)}{hint}')
    from mmengine.config import ConfigDict
    from mmengine.dist import init_dist, is_distributed

    env_cfg = cfg.get('env_cfg') or ConfigDict()
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    cfg.env_cfg = env_cfg
    if not is_distributed():
        # Runner.setup_env's order: multiprocessing settings first (else init_dist
        # picks 'spawn' and the Runner then warns while forcing the config's method)
        from mmengine.utils.dl_utils import set_multi_processing
        set_multi_processing(**(env_cfg.get('mp_cfg') or {}), distributed=True)
        with _no_cuda_set_device():
            init_dist(launcher, **dist_cfg)
        atexit.register(_destroy_process_group)

    wrapper_cfg = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper_type = wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
    if _is_ddp_wrapper(wrapper_type):
        wrapper_cfg['device_ids'] = None
        wrapper_cfg.setdefault('broadcast_buffers', False)
        wrapper_cfg.setdefault('find_unused_parameters',
                               cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper_cfg
    return True


def _destroy_process_group():
    """``destroy_process_group()`` if a process group is still initialised (atexit)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _is_ddp_wrapper(wrapper_type) -> bool:
    from mmengine.registry import MODEL_WRAPPERS
    from torch.nn.parallel import DistributedDataParallel
    cls = MODEL_WRAPPERS.get(wrapper_type) if isinstance(wrapper_type, str) else wrapper_type
    return isinstance(cls, type) and issubclass(cls, DistributedDataParallel)


# --------------------------------------------------------------------------------------
# (e) `gated_mm::` config references
# --------------------------------------------------------------------------------------
CONFIG_PREFIX = 'gated_mm::'


def config_path(name: str) -> str:
    """Absolute path of a config shipped with gated_mm, e.g.
    ``config_path('fashion_mnist_lt/gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py')``.

    The configs live in ``gated_mm/.mim/configs`` (OpenMMLab's layout: a link to the
    repository's ``configs/`` in a clone or an editable install, a copy in a wheel), so the
    path is the one of the gated_mm that is imported. ``name`` may carry the ``gated_mm::``
    prefix.

    Raises:
        FileNotFoundError: one line naming the config and the folder searched.
    """
    if name.startswith(CONFIG_PREFIX):
        name = name[len(CONFIG_PREFIX):]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '.mim', 'configs')
    path = os.path.join(root, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{CONFIG_PREFIX}{name}: no such config in {root} (list them '
                                f'with: ls {root}/*/)')
    return path


def patch_mmengine_config_package() -> bool:
    """Let configs inherit gated_mm's configs with ``_base_ = 'gated_mm::<dir>/<file>.py'``.

    Patches: ``Config._get_cfg_path`` (mmengine 0.10.7, the staticmethod that resolves every
    ``_base_`` entry): a ``gated_mm::`` entry resolves to :func:`config_path` with no scope;
    every other entry goes to mmengine's own function unchanged.

    Why: mmengine resolves ``pkg::`` only for the packages in its hard-coded
    ``mmengine.config.utils.MODULE2PACKAGE`` (``AssertionError: mmengine does not support to
    load gated_mm config``). Adding ``gated_mm`` to that table is not enough: mmengine then
    sets ``_scope_='gated_mm'`` on every ``type`` dict of the inherited base, and no registry
    has that scope (gated_mm's configs build in ``mmpretrain`` or ``mmdet``, named by their own
    ``default_scope`` and ``_scope_`` keys), so building fails; it also finds the package
    through ``pkg_resources``, which points an editable install at site-packages. Resolved
    here, a ``gated_mm::`` base behaves as a local base file of gated_mm.

    Needs ``import gated_mm`` before the config is read (mmengine resolves ``_base_`` before
    it runs ``custom_imports``): gated_mm's ``tools/train.py`` and ``tools/test.py`` (also under
    ``gated_mm/.mim/tools`` of an installed gated_mm) do; in a script, ``import gated_mm``
    first. Remove when mmengine resolves ``pkg::`` for any
    installed package (not in 0.10.7).
    """
    from mmengine.config import Config
    STATUS['mmengine_config_package'] = 'applied'
    original = Config.__dict__['_get_cfg_path'].__func__
    if getattr(original, '_gated_mm_fix', False):
        return False

    def _get_cfg_path(cfg_path: str, filename: str):
        if cfg_path.startswith(CONFIG_PREFIX):
            return config_path(cfg_path), None
        return original(cfg_path, filename)

    _get_cfg_path.__wrapped__ = original
    _get_cfg_path.__doc__ = original.__doc__
    _get_cfg_path._gated_mm_fix = True
    Config._get_cfg_path = staticmethod(_get_cfg_path)
    return True


# --------------------------------------------------------------------------------------
# (f) mmcv, a prerequisite (built against the environment's torch)
# --------------------------------------------------------------------------------------
def _mmcv_install_hint() -> str:
    return (f"build mmcv 2.1.0 against this environment's torch {torch.__version__} with: "
            "MMCV_WITH_OPS=1 pip install --no-build-isolation 'mmcv==2.1.0' (or 'mim install "
            "mmcv==2.1.0' where OpenMMLab publishes a wheel for this torch and CUDA; in a "
            "gated_mm clone, bash tools/setup_env.sh builds it, with the -std=c++20 torch >= "
            "2.14 needs)")


def require_mmcv(ops: bool = False) -> None:
    """Check the mmcv prerequisite: the package (``ops=False``) or its compiled ops too.

    mmcv is not an install requirement of gated_mm: it must be built for the environment's
    torch and CUDA. The core (activations, attention, backbones) and classification need only
    mmcv's Python part (``mmcv.cnn``, ``mmcv.transforms``: ``mmcv-lite`` is enough);
    detection (mmdet) needs the compiled ops (``mmcv._ext``: NMS, RoIAlign, ...).

    Raises:
        ImportError: one line naming what is missing (mmcv, or its ops and why they do not
            load) and the install command.
    """
    import importlib
    try:
        import mmcv
    except ImportError as e:
        raise ImportError(f'gated_mm needs mmcv (>=2.0.0rc4,<2.2.0; tested 2.1.0), which '
                          f'does not import ({e}): {_mmcv_install_hint()}') from None
    if not ops:
        return
    try:
        importlib.import_module('mmcv._ext')
    except (ImportError, OSError) as e:
        where = os.path.dirname(getattr(mmcv, '__file__', '') or '') or 'mmcv'
        raise ImportError(f'mmdet configs need the compiled ops of mmcv, which mmcv '
                          f'{getattr(mmcv, "__version__", "?")} at {where} lacks '
                          f'({type(e).__name__}: {str(e).splitlines()[0] if str(e) else e!r}; '
                          f'mmcv-lite has none): {_mmcv_install_hint()}') from None


# --------------------------------------------------------------------------------------
def apply_all() -> Dict[str, str]:
    """Apply every fix (idempotent); return :data:`STATUS`. Called on ``import gated_mm``."""
    patch_mmengine_checkpoint_loading()
    patch_lvis_numpy()
    patch_mmpretrain_retrieval_numpy()
    patch_mmcv_adjust_hue()
    patch_amp_optim_wrapper_cpu()
    patch_mmengine_config_package()
    patch_mmdet_lvis_class_check()
    return STATUS


apply_all()
