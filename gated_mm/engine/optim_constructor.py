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

Logging: mmengine logs one INFO line per parameter and option (``paramwise_options --
backbone.layer1.0.act1.kappa:weight_decay=0.0``; ~350 lines for an SE-ResNet-50). While this
constructor builds the optimizer those lines go to DEBUG (shown with ``log_level='DEBUG'``) and
one INFO line summarises them (:func:`summarize_paramwise_options`), e.g. for the SE-ResNet-50
ImageNet-LT config: ``paramwise options of 130 of 354 trainable parameter tensors (one line per
tensor at log_level='DEBUG'): decay_mult=0.0, lr=0.2, weight_decay=0.0: 130 (kappa 65,
lambda_ 65); the other 224: the optimizer's lr=0.2, weight_decay=0.0001``.
"""
import copy
import logging
from collections import Counter
from typing import Dict, Optional

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
        from mmengine.logging import MMLogger
        logger = MMLogger.get_current_instance()
        lines = _ParamwiseOptionsToDebug()
        logger.addFilter(lines)
        try:
            wrapper = super().__call__(model)
        finally:
            logger.removeFilter(lines)
        if lines.options:
            n_trainable = sum(1 for p in model.parameters() if p.requires_grad)
            defaults = dict(lr=self.base_lr, weight_decay=self.base_wd)
            logger.info(summarize_paramwise_options(lines.options, n_trainable, defaults))
        for optimizer in _optimizers(wrapper):
            optimizer.param_groups[:] = [dict(g) for g in optimizer.param_groups]
        return wrapper


PARAMWISE_PREFIX = 'paramwise_options -- '


class _ParamwiseOptionsToDebug(logging.Filter):
    """Logger filter: mmengine's ``paramwise_options -- NAME:KEY=VALUE`` records become DEBUG
    records (INFO handlers drop them) and are collected in ``options`` (NAME -> {KEY: VALUE})."""

    def __init__(self):
        super().__init__()
        self.options: Dict[str, Dict[str, str]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if isinstance(msg, str) and msg.startswith(PARAMWISE_PREFIX):
            name, _, option = msg[len(PARAMWISE_PREFIX):].partition(':')
            key, _, value = option.partition('=')
            self.options.setdefault(name, {})[key] = value
            record.levelno, record.levelname = logging.DEBUG, 'DEBUG'
        return True


def summarize_paramwise_options(options: Dict[str, Dict[str, str]],
                                n_trainable: Optional[int] = None,
                                defaults: Optional[dict] = None) -> str:
    """One line: the parameter tensors grouped by the options they got, each group with its
    count and the parameter kinds (last name component: weight, bias, kappa, lambda_), the
    largest group first; then how many got none (they use the optimizer's ``defaults``).

    Args:
        options: parameter name -> {option: value} as mmengine logs them
            (``paramwise_options -- NAME:OPTION=VALUE``).
        n_trainable: the model's trainable parameter tensors.
        defaults: the optimizer's own settings (e.g. ``lr``, ``weight_decay``), for the rest.
    """
    groups: Dict[tuple, Counter] = {}
    for name, opts in options.items():
        groups.setdefault(tuple(sorted(opts.items())), Counter())[name.rsplit('.', 1)[-1]] += 1
    parts = []
    for opts, kinds in sorted(groups.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        what = ', '.join(f'{kind} {n}' for kind, n in kinds.most_common())
        parts.append(f'{", ".join(f"{k}={v}" for k, v in opts)}: {sum(kinds.values())} '
                     f'({what})')
    total = ''
    if n_trainable is not None:
        total = f' of {n_trainable} trainable'
        rest = n_trainable - len(options)
        if rest > 0:
            given = ', '.join(f'{k}={v}' for k, v in (defaults or {}).items() if v is not None)
            parts.append(f'the other {rest}: the optimizer\'s' + (f' {given}' if given else ''))
    return (f'paramwise options of {len(options)}{total} parameter tensors (one line per '
            f'tensor at log_level=\'DEBUG\'): ' + '; '.join(parts))


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
