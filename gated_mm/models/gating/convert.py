r"""``Gated``: any MMDetection / MMPretrain backbone, neck or head with learned activations,
learned gates and inserted attention blocks, by config.

Config (mmdet or mmpretrain scope; ``model`` is any config of that scope)::

    backbone=dict(
        type='Gated',
        model=dict(type='RegNet', arch='regnetx_3.2gf', out_indices=(0, 1, 2, 3), ...),
        act=dict(replace=['ReLU'], by=dict(type='AGLU')),          # every call site
        gate=dict(replace=['Sigmoid', 'HSigmoid'], by=dict(type='APA'),
                  within=['SELayer']),                              # the SE gates
        insert=[dict(after=['stages.*'], ...)] / dict(after='layer3',
                    cfg=dict(type='GatedSE', style='apa')),
        input_shape=(1, 3, 64, 64))

The builder returns the upstream module itself (same class, same methods: ``frozen_stages``,
``norm_eval``, ``with_cp``, ``init_weights``, ``out_indices``, ``loss``/``predict`` of a head
are the upstream code), converted in place:

1. ``act`` / ``gate`` rules (a dict or a list of dicts; ``gate`` rules are applied first):
   every module whose class name is in ``replace`` (and, with ``within``, that lies inside a
   module of one of those classes) and every functional call of those activations
   (:data:`~.call_sites.FUNCTIONAL`: ``F.relu``, ``torch.sigmoid``, ``Tensor.relu``, ...)
   made by the code of a module's own ``forward``, becomes one unit per call site, each built
   from ``by`` (its own κ, λ for APA / AGLU).
2. ``insert``: a block built from ``cfg`` (any module taking ``channels``: ``GatedSE``,
   ``CBAM``, ``GatherExcite``, ``GatedAttention``) applied, by a forward hook, to the output
   of every module named by ``after`` (module names; shell patterns per dot-separated segment:
   ``'layer*'`` = the stages, ``'layer*.*'`` = their blocks, ``'layer*.*.bn3'`` = before the
   residual add, where SE-ResNet's SE sits), whose output must be an (N, C, H, W) tensor. The
   blocks live in the root's ``gated_attention`` ``ModuleDict`` (key: the target's name with
   ``_`` for ``.``), so no original module changes its children: new blocks are not frozen
   by ``frozen_stages`` nor put in eval mode by ``norm_eval`` (they are new and train).

Call sites are found by running the model once at build time, in eval mode under
``torch.no_grad``, on zeros of ``input_shape`` (a shape, or a list of shapes for a forward that
takes a tuple of tensors such as a dense head's multi-level features): module activations are
counted by stand-ins, functional ones by a :class:`torch.overrides.TorchFunctionMode` that
knows which module's code made each call. What cannot work, by construction: a forward whose
activation calls depend on the data or on the input size (the converted model raises at the
first forward that differs, it never silently shares a unit), functional calls inside a
``torch.utils.checkpoint`` region (not seen at build, where checkpointing is off; the count
check raises), and whole detectors / classifiers (their forward takes data samples: convert
their backbone, neck and heads instead).

State dict: every original key is unchanged; the new keys are the units'
(``<activation path>.units.<i>.kappa``, ``<owner>.gated_relu.units.<i>.lambda_``) and the
inserted blocks'. A checkpoint of the unconverted model loads with ``strict=False`` and exactly
the new keys missing (:func:`new_state_keys`).

Errors (``ValueError``, one line, at build): a rule or insert name matching nothing (the
candidates found in the model are listed), a ``by`` / ``cfg`` type that is not registered (the
registered activations are listed), a target whose output is not (N, C, H, W).
"""
import copy
import fnmatch
from typing import Dict, List, Sequence, Union

import torch
from mmengine.registry import MODELS as ROOT_MODELS
from torch import nn

from .call_sites import (FUNCTIONAL, CallSites, FunctionalSites, Probe, Recorder,
                         added_code, check_counts, reset_counts)

Shape = Sequence[int]
Rules = Union[None, dict, Sequence[dict]]
_RULE_KEYS = ('replace', 'by', 'within')
_INSERT_KEYS = ('after', 'cfg')
_INSERT_ATTR = 'gated_attention'


def _as_list(v) -> list:
    if v is None:
        return []
    return [v] if isinstance(v, (str, dict)) else list(v)


def registered_activations(registry=ROOT_MODELS) -> List[str]:
    """Names of the registered activation modules (mmcv's ``activation`` registrations and
    gated_mm's activations), seen from ``registry``."""
    names = set()
    reg = registry
    while reg is not None:
        for name, cls in reg.module_dict.items():
            if _is_activation_class(cls):
                names.add(name)
        reg = reg.parent
    return sorted(names)


def _is_activation_class(cls) -> bool:
    """torch's and mmcv's activation modules (mmcv keeps HSigmoid, HSwish, Swish in modules of
    their own names) and gated_mm's."""
    mod = getattr(cls, '__module__', '') or ''
    return ('activation' in mod or mod.rsplit('.', 1)[-1] in ('hsigmoid', 'hswish', 'swish')
            or mod.startswith('gated_mm.models.activations'))


def _check_type(cfg: dict, key: str, registry, candidates: List[str]) -> None:
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'Gated: {key} must be a config dict with a type, got {cfg!r}')
    t = cfg['type']
    if isinstance(t, str) and registry.get(t) is None:
        raise ValueError(f'Gated: {key} type {t!r} is not registered; candidates: '
                         f'{candidates}')


class _Rule:

    def __init__(self, cfg: dict, key: str, registry):
        unknown = sorted(set(cfg) - set(_RULE_KEYS))
        if unknown or 'replace' not in cfg or 'by' not in cfg:
            raise ValueError(f'Gated: {key} takes the keys {list(_RULE_KEYS)} (replace and by '
                             f'required), got {sorted(cfg)}')
        self.key = key
        self.replace = _as_list(cfg['replace'])
        self.within = _as_list(cfg.get('within'))
        self.by = copy.deepcopy(cfg['by'])
        _check_type(self.by, f'{key}.by', registry, registered_activations(registry))
        self.registry = registry

    def inside(self, name: str, classes: Dict[str, str], itself: bool = False) -> bool:
        """Whether module ``name`` lies inside a module of a ``within`` class (``itself``:
        or is one); always True without ``within``."""
        if not self.within:
            return True
        parts = name.split('.') if name else []
        ends = range(len(parts) + 1) if itself else range(len(parts))
        return any(classes.get('.'.join(parts[:i])) in self.within for i in ends)

    def build(self, n: int) -> List[nn.Module]:
        return [self.registry.build(copy.deepcopy(self.by)) for _ in range(n)]


class _InsertHook:
    """Forward hook replacing a target's output by ``block(output)``."""

    def __init__(self, block: nn.Module):
        self.block = block

    def __call__(self, module, args, out):
        with added_code():
            return self.block(out)


def matches(name: str, pattern: str) -> bool:
    """Module ``name`` matches ``pattern`` segment by segment (shell patterns per segment:
    ``'layer*'`` matches ``layer1``, not ``layer1.0``; ``'layer*.*'`` matches the blocks)."""
    parts, pats = name.split('.'), pattern.split('.')
    return len(parts) == len(pats) and all(
        fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats))


def _probe_input(input_shape, model: nn.Module) -> tuple:
    """Zeros of ``input_shape`` (a tuple of them for a list of shapes), in the dtype and on the
    device of the model's parameters."""
    p = next(iter(model.parameters()), None)
    kw = dict(dtype=p.dtype, device=p.device) if p is not None else {}
    if len(input_shape) and isinstance(input_shape[0], (list, tuple)):
        return (tuple(torch.zeros(*s, **kw) for s in input_shape), )
    return (torch.zeros(*input_shape, **kw), )


def _candidates(names: Sequence[str], pattern: str, limit: int = 24) -> List[str]:
    depth = pattern.count('.')
    out = [n for n in names if n and n.count('.') == depth]
    return out[:limit] + (['...'] if len(out) > limit else [])


def convert(model: nn.Module,
            act: Rules = None,
            gate: Rules = None,
            insert: Union[None, dict, Sequence[dict]] = None,
            input_shape: Union[Shape, Sequence[Shape]] = (1, 3, 64, 64),
            registry=ROOT_MODELS) -> nn.Module:
    """Convert ``model`` in place (see the module docstring) and return it.

    Args:
        model: a backbone, neck or head (any ``nn.Module`` whose forward takes tensors).
        act, gate: replacement rules ``dict(replace=[class names], by=cfg, within=[classes])``
            or lists of them; ``gate`` rules take precedence.
        insert: ``dict(after=name or [names/patterns], cfg=block cfg)`` or a list of them.
        input_shape: shape of the build-time probe input, or a list of shapes (tuple input).
        registry: where ``by`` / ``cfg`` types are looked up (the caller's scope).

    Returns:
        ``model``, with ``model.gating`` (a dict: the sites per rule, inserts, new keys).

    Raises:
        ValueError: see the module docstring.
    """
    rules = ([_Rule(c, f'gate[{i}]' if isinstance(gate, (list, tuple)) else 'gate', registry)
              for i, c in enumerate(_as_list(gate))] +
             [_Rule(c, f'act[{i}]' if isinstance(act, (list, tuple)) else 'act', registry)
              for i, c in enumerate(_as_list(act))])
    inserts = []
    for i, c in enumerate(_as_list(insert)):
        key = f'insert[{i}]' if isinstance(insert, (list, tuple)) else 'insert'
        if not isinstance(c, dict) or set(c) - set(_INSERT_KEYS) or 'after' not in c \
                or 'cfg' not in c:
            raise ValueError(f'Gated: {key} must be dict(after=..., cfg=...), got {c!r}')
        _check_type(c['cfg'], f'{key}.cfg', registry,
                    ['GatedSE', 'CBAM', 'GatherExcite', 'GatedAttention'])
        inserts.append((key, _as_list(c['after']), c['cfg']))

    classes = {n: type(m).__name__ for n, m in model.named_modules()}
    names = list(classes)

    # 1. module activations → probes (first matching rule wins)
    probes: Dict[str, tuple] = {}
    for name, m in list(model.named_modules()):
        if not name or any(name.startswith(p + '.') for p in probes):
            continue
        for rule in rules:
            if type(m).__name__ in rule.replace and rule.inside(name, classes):
                probes[name] = (rule, m)
                _set(model, name, Probe(m))
                break
    # 2. functional activations, 3. insert targets: recorded during the probe forward
    functional = sorted({n for r in rules for n in r.replace if n in FUNCTIONAL})
    targets: Dict[str, tuple] = {}
    for key, patterns, cfg in inserts:
        for pattern in patterns:
            hits = [n for n in names if n and matches(n, pattern)]
            if not hits:
                raise ValueError(f'Gated: {key}.after {pattern!r} matches no module of '
                                 f'{type(model).__name__}; candidates: '
                                 f'{_candidates(names, pattern)}')
            for n in hits:
                if n in targets:
                    raise ValueError(f'Gated: {key}.after {pattern!r}: {n!r} already has an '
                                     f'inserted block ({targets[n][0]})')
                targets[n] = (key, cfg)
    outputs = {}
    handles = [dict(model.named_modules())[n].register_forward_hook(
        lambda mod, args, out, n=n: outputs.setdefault(n, out)) for n in targets]
    recorder = Recorder(model, functional)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), recorder:
            model(*_probe_input(input_shape, model))
    finally:
        recorder.remove()
        for h in handles:
            h.remove()
        model.train(was_training)

    report = dict(sites={}, functional={}, unused=[], inserts={})
    found = {type(m.module).__name__ for m in model.modules() if isinstance(m, Probe)}
    found |= {n for (_, n) in recorder.counts}
    for rule in rules:
        hit = {type(m).__name__ for r, m in probes.values() if r is rule} | {
            n for (o, n) in recorder.counts if rule.inside(o, classes, itself=True)}
        for act_name in rule.replace:
            if act_name not in hit:
                raise ValueError(
                    f'Gated: {rule.key}.replace {act_name!r} matches no activation module or '
                    f'call of {type(model).__name__}'
                    f'{" inside " + str(rule.within) if rule.within else ""}; candidates: '
                    f'{sorted(found | _activation_classes(model))}')
    for name, (rule, original) in probes.items():
        probe = _get(model, name)
        if probe.calls == 0:  # never called: left as it was
            _set(model, name, original)
            report['unused'].append(name)
            continue
        _set(model, name, CallSites(rule.build(probe.calls), type(original).__name__))
        report['sites'][name] = probe.calls
    tracker = None
    for (owner_name, act_name), n in sorted(recorder.counts.items()):
        rule = next((r for r in rules if act_name in r.replace
                     and r.inside(owner_name, classes, itself=True)), None)
        if rule is None:
            continue
        tracker = tracker or FunctionalSites()
        owner = _get(model, owner_name)
        owner.add_module(FunctionalSites.attr_name(act_name), CallSites(rule.build(n), act_name))
        tracker.watch(owner)
        report['functional'][f'{owner_name or "<root>"}:{act_name}'] = n
    if tracker is not None:
        alive = {id(m) for m in model.modules()}
        for leaf in recorder.leaves.values():
            if id(leaf) in alive:
                tracker.watch(leaf)
    for n, (key, cfg) in targets.items():
        out = outputs.get(n)
        if not (isinstance(out, torch.Tensor) and out.dim() == 4):
            what = ('never called' if n not in outputs else
                    f'outputs {type(out).__name__}' + (
                        f' of shape {tuple(out.shape)}' if isinstance(out, torch.Tensor) else ''))
            raise ValueError(f'Gated: {key}.after {n!r} {what}, not an (N, C, H, W) tensor; '
                             'insert after a module whose output is a feature map')
        if _INSERT_ATTR not in model._modules:
            model.add_module(_INSERT_ATTR, nn.ModuleDict())
        key_name = n.replace('.', '_')
        block = registry.build(dict(copy.deepcopy(cfg), channels=int(out.shape[1])))
        getattr(model, _INSERT_ATTR)[key_name] = block
        _get(model, n).register_forward_hook(_InsertHook(block))
        report['inserts'][n] = f'{_INSERT_ATTR}.{key_name}'
    if report['sites'] or report['functional']:
        model.register_forward_pre_hook(reset_counts)
        model.register_forward_hook(check_counts)
    model.gating = report
    report['new_keys'] = sorted(new_state_keys(model))
    model.train(was_training)  # re-applies frozen_stages / norm_eval to the new modules
    return model


def _activation_classes(model: nn.Module) -> set:
    return {type(m).__name__ for m in model.modules()
            if _is_activation_class(type(m)) and not isinstance(m, (Probe, CallSites))}


def new_state_keys(model: nn.Module) -> set:
    """State-dict keys that conversion added: the units' and the inserted blocks' entries."""
    keys = set()
    for name, m in model.named_modules():
        if isinstance(m, CallSites) or name == _INSERT_ATTR:
            keys |= {f'{name}.{k}' for k in m.state_dict()}
    return keys


def _get(model: nn.Module, name: str) -> nn.Module:
    return model.get_submodule(name) if name else model


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition('.')
    setattr(_get(model, parent), child, module)


def make_builder(registry):
    """The ``Gated`` builder of one scope's registry (upstream types resolve in that scope)."""

    def Gated(model: dict, act: Rules = None, gate: Rules = None, insert=None,
              input_shape=(1, 3, 64, 64), **model_args) -> nn.Module:
        """Build ``model`` in this scope and :func:`convert` it (see the module docstring).

        ``model_args`` (e.g. the ``train_cfg`` / ``test_cfg`` a detector passes to its heads)
        are added to ``model``.
        """
        if not isinstance(model, dict) or 'type' not in model:
            raise ValueError(f'Gated: model must be a config dict with a type, got {model!r}')
        if registry.get(model['type']) is None:
            raise ValueError(f'Gated: model type {model["type"]!r} is not registered in '
                             f'{registry.scope}.MODELS')
        model = dict(copy.deepcopy(model), **model_args)
        # mmengine builds a config without _scope_ in the *default* scope's registry, so an
        # mmdet Gated inside an mmpretrain-scoped run would build mmpretrain's class of the
        # same name: pin the builder's own scope unless the config names one
        model.setdefault('_scope_', registry.scope)
        return convert(registry.build(model), act=act, gate=gate, insert=insert,
                       input_shape=input_shape, registry=registry)

    return Gated
