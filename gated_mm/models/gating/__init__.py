"""``Gated``: learned activations (AGLU, ...), learned gates (APA, ...) and attention blocks in
any MMDetection / MMPretrain backbone, neck or head, by config (:mod:`.convert`), one unit per
activation call site (:mod:`.call_sites`).

``type='Gated'`` is registered in ``mmdet.registry.MODELS`` and ``mmpretrain.registry.MODELS``
(each builds its ``model`` in its own scope).
"""
import importlib

from ..registry import SCOPES
from .call_sites import FUNCTIONAL, CallSites
from .convert import convert, make_builder, new_state_keys, registered_activations

for _scope in SCOPES:
    try:
        _registry = importlib.import_module(f'{_scope}.registry').MODELS
    except ImportError:
        continue
    _registry.register_module(name='Gated', module=make_builder(_registry))

__all__ = ['CallSites', 'FUNCTIONAL', 'convert', 'make_builder', 'new_state_keys',
           'registered_activations']
