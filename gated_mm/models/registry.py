"""Where gated_mm's modules are registered.

* Activations and attention blocks go to mmengine's root ``MODELS`` (decorate with
  ``mmengine.registry.MODELS.register_module()``): every OpenMMLab scope finds them through
  its parent registry, as ``act_cfg=dict(type='AGLU')`` inside mmcv's ``ConvModule`` does.
* Backbones and heads are registered explicitly in each downstream library's ``MODELS``
  (mmpretrain and mmdet) with :func:`register_in_scopes`, so that configs of either library
  (``default_scope='mmpretrain'`` or ``'mmdet'``) resolve them exactly as upstream types.
"""
import importlib
from typing import Sequence

SCOPES = ('mmpretrain', 'mmdet')


def register_in_scopes(scopes: Sequence[str] = SCOPES):
    """Class decorator registering a module in ``<scope>.registry.MODELS`` for each scope.

    A scope whose package is not installed is skipped (gated_mm then works with the other).
    """

    def _register(cls):
        for scope in scopes:
            try:
                registry = importlib.import_module(f'{scope}.registry').MODELS
            except ImportError:
                continue
            registry.register_module(module=cls)
        return cls

    return _register
