"""gated_mm: learned activations and attention gates for OpenMMLab.

Importing this package (or ``custom_imports=dict(imports=['gated_mm'])`` in a config)
applies the compatibility fixes in :mod:`gated_mm.compat` (``gated_mm::`` config bases
included), checks that mmcv, a prerequisite, imports (else one ``ImportError`` line with the
install command) and registers every module:

* activations (APA, AGLU, ...) in mmengine's root ``MODELS`` (usable from any scope);
* attention blocks and backbones in the mmpretrain and mmdet ``MODELS`` registries;
* datasets and metrics in mmpretrain's ``DATASETS`` / ``METRICS``;
* the ``ProgressBarHook`` and ``FiniteLossHook`` in mmengine's root ``HOOKS``.
"""
from .version import __version__
from . import compat  # noqa: F401  (first: patches must precede the other imports)

compat.require_mmcv()  # a prerequisite, not an install requirement: one line if missing
from . import models  # noqa: F401,E402
from . import datasets  # noqa: F401,E402
from . import evaluation  # noqa: F401,E402
from . import engine  # noqa: F401,E402  (hooks, runner-level checks)

__all__ = ['__version__']
