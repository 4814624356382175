r"""Optimizer-wrapper constructor that keeps the learned gate parameters out of weight decay.

APA / AGLU (Alexandridis et al., "Adaptive Parametric Activation", ECCV 2024, arXiv:2407.08567)
learn a shape κ (``kappa``) and a λ (``lambda_``) per module; the public classification code
(github.com/kostas1515/AGLU) trains them without weight decay: decaying them pulls every gate
towards κ = 0 (η = (λ+1)^(−1/λ), a constant) instead of the shape the data asks for.

:class:`GatedOptimWrapperConstructor` is mmengine's ``DefaultOptimWrapperConstructor`` with two
entries added to ``paramwise_cfg.custom_keys``::

    '.kappa':   dict(decay_mult=0.0)
    '.lambda_': dict(decay_mult=0.0)

(matched as substrings of the full parameter name, mmengine's rule). Keys the config already
gives for ``.kappa`` / ``.lambda_`` win. ``paramwise_cfg=dict(gate_decay=True)`` keeps the
upstream behaviour (κ and λ decayed like every other weight).

``tools/train.py`` selects it for every config whose ``optim_wrapper`` names no ``constructor``,
so a config written the upstream way (inheriting an ``mmpretrain::`` or ``mmdet::`` schedule
with no ``paramwise_cfg``) gets the right default; ``constructor='DefaultOptimWrapperConstructor'``
in a config (or ``--cfg-options optim_wrapper.constructor=DefaultOptimWrapperConstructor``)
opts out. Its param groups are plain dicts, so ``compile=True`` works with it (mmengine's
default constructor leaves them ``ConfigDict`` s when ``paramwise_cfg`` is given, which
``torch.compile`` of the optimizer step rejects). Registered in mmengine's root ``OPTIM_WRAPPER_CONSTRUCTORS``, so mmpretrain and mmdet
configs can also name it: ``optim_wrapper=dict(constructor='GatedOptimWrapperConstructor', ...)``.
"""
import copy

from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

GATE_PARAM_KEYS = ('.kappa', '.lambda_')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GatedOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` with κ / λ of APA and AGLU excluded from weight decay.

    Args:
        optim_wrapper_cfg (dict): as for ``DefaultOptimWrapperConstructor``.
        paramwise_cfg (dict, optional): as for ``DefaultOptimWrapperConstructor``, plus
            ``gate_decay`` (bool, default False): True decays κ and λ like other weights.

    Raises:
        TypeError: ``gate_decay`` is not a bool.
    """

    def __init__(self, optim_wrapper_cfg, paramwise_cfg=None):
        paramwise_cfg = copy.deepcopy(dict(paramwise_cfg or {}))
        gate_decay = paramwise_cfg.pop('gate_decay', False)
        if not isinstance(gate_decay, bool):
            raise TypeError('GatedOptimWrapperConstructor: paramwise_cfg.gate_decay must be '
                            f'True or False, got {gate_decay!r}')
        if not gate_decay:
            keys = dict(paramwise_cfg.get('custom_keys') or {})
            for key in GATE_PARAM_KEYS:
                keys.setdefault(key, dict(decay_mult=0.0))
            paramwise_cfg['custom_keys'] = keys
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def __call__(self, model):
        """Build the optimizer wrapper; its param groups are plain ``dict`` s.

        With ``paramwise_cfg`` mmengine passes the groups through the config's ``ConfigDict``,
        so each group becomes a ``ConfigDict``; ``torch.compile`` of ``train_step``
        (``compile=True``) then fails in the optimizer step with ``InternalTorchDynamoError:
        'UserDefinedDictVariable' object has no attribute 'items'`` (dynamo's optimizer support
        expects plain dicts).
        """
        wrapper = super().__call__(model)
        for optimizer in _optimizers(wrapper):
            optimizer.param_groups[:] = [dict(g) for g in optimizer.param_groups]
        return wrapper


def _optimizers(wrapper):
    """The torch optimizers of an ``OptimWrapper`` or ``OptimWrapperDict``."""
    if hasattr(wrapper, 'optimizer'):
        return [wrapper.optimizer]
    return [w.optimizer for w in getattr(wrapper, 'optim_wrappers', {}).values()]


def use_gated_optim_constructor(cfg):
    """Select :class:`GatedOptimWrapperConstructor` where ``cfg.optim_wrapper`` names none.

    Args:
        cfg (mmengine.Config): a training config; changed in place. A config without
            ``optim_wrapper`` (test-only) is left alone.

    Returns:
        bool: True if the constructor was selected.
    """
    wrapper = cfg.get('optim_wrapper')
    if wrapper is None or wrapper.get('constructor') is not None:
        return False
    wrapper['constructor'] = 'GatedOptimWrapperConstructor'
    return True
