"""gated_mm: learned activations and attention gates for OpenMMLab.

Importing this package (or ``custom_imports=dict(imports=['gated_mm'])`` in a config)
applies the compatibility fixes in :mod:`gated_mm.compat` and registers every module:

* activations (APA, AGLU, ...) in mmengine's root ``MODELS`` (usable from any scope);
* attention blocks and backbones in the mmpretrain and mmdet ``MODELS`` registries;
* datasets and metrics in mmpretrain's ``DATASETS`` / ``METRICS``.
"""
from .version import __version__
from . import compat  # noqa: F401  (first: patches must precede the other imports)
from . import models  # noqa: F401
from . import datasets  # noqa: F401
from . import evaluation  # noqa: F401
from . import engine  # noqa: F401

__all__ = ['__version__']
