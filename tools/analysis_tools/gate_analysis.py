"""Shared helpers of the gate analysis tools (``tools/analysis_tools/*.py``).

Not a command: ``per_class_accuracy.py``, ``plot_gate_curves.py``, ``attention_stats.py`` and
``compare_gates.py`` import it. Everything works on any mmpretrain ``ImageClassifier`` config
+ checkpoint of gated_mm (GatedResNet backbones with APA/AGLU/Sigmoid gates):

* :func:`load_model` builds the model from a config and loads a checkpoint (strict);
* :func:`train_counts` and :func:`shot_thresholds` read the training class counts and the
  many/medium/few thresholds from the config's ``test_evaluator`` (``ShotAccuracy``) or the
  head's ``logit_adjust`` (IIF);
* :func:`collect` runs the test split once and returns raw logits, labels and, per attention
  block, the gate signal statistics of every image (variance and normalised entropy over
  channels);
* :func:`shot_metrics` computes the ShotAccuracy metrics (via the registered metric itself) from
  logits, optionally after an IIF adjustment;
* :func:`gate_params` lists the κ, λ of every APA/AGLU module by name.
"""
import copy
import math
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

SHOT_GROUPS = ('many', 'medium', 'few')
SHOT_COLORS = {'many': '#4c72b0', 'medium': '#dd8452', 'few': '#c44e52'}


def fail(tool: str, msg: str):
    """Exit with a one-line error naming the tool."""
    sys.exit(f'{tool}: error: {msg}')


def load_cfg(config: str, cfg_options: Optional[dict] = None):
    import gated_mm  # noqa: F401  (registries, compat)
    from mmengine.config import Config
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_model(cfg, checkpoint: Optional[str], device: str = 'cpu'):
    """Build ``cfg.model`` in the config's scope and load ``checkpoint`` strictly (eval mode).

    Raises:
        FileNotFoundError: the checkpoint is missing.
        RuntimeError: the checkpoint does not fit the model (missing / unexpected keys).
    """
    from mmengine.registry import DefaultScope, init_default_scope
    from mmengine.runner import load_checkpoint
    scope = cfg.get('default_scope', 'mmpretrain')
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(copy.deepcopy(cfg.model))
    if checkpoint is not None:
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
    return model.to(device).eval()


def _metric_cfg(cfg) -> dict:
    ev = cfg.get('test_evaluator') or cfg.get('val_evaluator') or {}
    if isinstance(ev, (list, tuple)):
        ev = next((e for e in ev if e.get('type') == 'ShotAccuracy'), ev[0] if ev else {})
    return dict(ev)


def shot_thresholds(cfg):
    """(many_thr, few_thr) of the config's ShotAccuracy evaluator (defaults 100, 20)."""
    ev = _metric_cfg(cfg)
    return float(ev.get('many_thr', 100)), float(ev.get('few_thr', 20))


def train_counts(cfg) -> np.ndarray:
    """Training images per class from the config (ShotAccuracy evaluator or head IIF).

    Raises:
        ValueError: the config names no training count source.
    """
    from gated_mm.datasets import class_counts_from
    sources = []
    ev = _metric_cfg(cfg)
    if ev.get('type') == 'ShotAccuracy':
        sources.append({k: ev.get(k) for k in ('train_ann_file', 'train_dataset', 'class_counts')
                        if ev.get(k) is not None})
    adjust = (cfg.model.get('head') or {}).get('logit_adjust') or {}
    sources.append({k: adjust.get(k) for k in ('train_ann_file', 'train_dataset', 'class_counts')
                    if adjust.get(k) is not None})
    for src in sources:
        if len(src) == 1:
            num_classes = cfg.model.head.get('num_classes')
            return class_counts_from(**copy.deepcopy(src), num_classes=num_classes,
                                     owner='analysis')
    raise ValueError('the config has no training class counts: set test_evaluator='
                     "dict(type='ShotAccuracy', train_ann_file=... | train_dataset=... | "
                     'class_counts=...) or model.head.logit_adjust')


def build_test_loader(cfg, max_samples: Optional[int] = None, batch_size: Optional[int] = None,
                      num_workers: int = 0):
    """The config's ``test_dataloader`` (first ``max_samples`` images if given), no workers."""
    import gated_mm  # noqa: F401
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    dataset = DATASETS.build(loader_cfg.dataset)
    if max_samples is not None and max_samples < len(dataset):
        # an even spread over the set (the test sets are sorted by class in some data sets)
        idx = np.linspace(0, len(dataset) - 1, max_samples).round().astype(int)
        dataset = torch.utils.data.Subset(dataset, idx.tolist())
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size or loader_cfg.get('batch_size', 64), shuffle=False,
        num_workers=num_workers, collate_fn=pseudo_collate)


def attention_gates(model) -> Dict[str, torch.nn.Module]:
    """``{block name: gate module}`` of every GatedSE in the model (gate output = attention)."""
    from gated_mm.models.attention import GatedSE
    return {name: m.gate for name, m in model.named_modules() if isinstance(m, GatedSE)}


def _signal_stats(a: torch.Tensor):
    """Per-image variance and normalised entropy over channels of an attention signal.

    ``a`` (N, C) in (0, 1]: variance ``Var_c(a)``; entropy of ``q = a / Σ_c a`` divided by
    ``log C`` (1: uniform attention, 0: one channel).
    """
    a = a.detach().double().flatten(1)
    var = a.var(dim=1, unbiased=False)
    q = a / a.sum(dim=1, keepdim=True).clamp_min(1e-300)
    ent = -(q * torch.log(q.clamp_min(1e-300))).sum(dim=1) / math.log(max(a.shape[1], 2))
    return var.numpy(), ent.numpy()


@torch.no_grad()
def collect(model, loader, with_attention: bool = True, device: str = 'cpu'):
    """Run ``loader`` through ``model``.

    Returns:
        dict: ``logits`` (N, C) float32 raw head logits (before any IIF), ``labels`` (N,),
        ``attention``: ``{block: {'variance': (N,), 'entropy': (N,)}}`` (empty without
        attention blocks or ``with_attention=False``).
    """
    stats: Dict[str, Dict[str, List[np.ndarray]]] = {}
    handles = []
    if with_attention:
        for name, gate in attention_gates(model).items():
            stats[name] = {'variance': [], 'entropy': []}

            def hook(_m, _i, out, name=name):
                v, e = _signal_stats(out)
                stats[name]['variance'].append(v)
                stats[name]['entropy'].append(e)
            handles.append(gate.register_forward_hook(hook))
    logits, labels = [], []
    try:
        for data in loader:
            data = model.data_preprocessor(data, False)
            feats = model.extract_feat(data['inputs'].to(device))
            logits.append(model.head(feats).float().cpu())
            labels.append(torch.cat([s.gt_label.reshape(-1)[:1] for s in data['data_samples']]))
    finally:
        for h in handles:
            h.remove()
    return {
        'logits': torch.cat(logits).numpy(),
        'labels': torch.cat(labels).long().numpy(),
        'attention': {k: {s: np.concatenate(v[s]) for s in v} for k, v in stats.items()},
    }


def adjust_logits(logits: np.ndarray, counts: Sequence[int], variant: Optional[str],
                  mode: str = 'add') -> np.ndarray:
    """``logits`` after the IIF adjustment ``variant`` (None: unchanged)."""
    if variant is None:
        return logits
    from gated_mm.models.heads import IIF
    iif = IIF(variant=variant, mode=mode, class_counts=list(counts))
    return iif(torch.as_tensor(logits)).numpy()


def per_class_accuracy(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Top-1 accuracy (%) of each class (NaN for classes absent from ``labels``)."""
    correct = (logits.argmax(1) == labels).astype(float)
    n = np.bincount(labels, minlength=num_classes)
    k = np.bincount(labels, weights=correct, minlength=num_classes)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(n > 0, 100 * k / np.maximum(n, 1), np.nan)


def shot_metrics(logits: np.ndarray, labels: np.ndarray, counts: Sequence[int],
                 many_thr: float, few_thr: float) -> Dict[str, float]:
    """``ShotAccuracy`` (the registered metric) on given logits: top1, mean_class, many,
    medium, few (percent)."""
    from gated_mm.evaluation import ShotAccuracy
    metric = ShotAccuracy(class_counts=list(counts), many_thr=many_thr, few_thr=few_thr)
    scores = torch.as_tensor(logits)
    results = [{'pred_score': s, 'gt_label': torch.as_tensor([int(y)])}
               for s, y in zip(scores, labels)]
    import logging
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # the metric logs a table per call
    try:
        return metric.compute_metrics(results)
    finally:
        logger.setLevel(level)


def group_of_class(counts: Sequence[int], many_thr: float, few_thr: float) -> np.ndarray:
    """'many' / 'medium' / 'few' for every class (array of str)."""
    from gated_mm.evaluation import shot_groups
    groups = np.empty(len(counts), dtype=object)
    for g, idx in shot_groups(counts, many_thr, few_thr).items():
        groups[idx] = g
    return groups


def gate_params(model) -> List[dict]:
    """``[{'name', 'kind' ('APA' | 'AGLU'), 'kappa', 'lambda_', 'lambda_min'}]`` in module
    order (one entry per channel for per-channel parameters)."""
    from gated_mm.models.activations import AGLU, APA
    out = []
    for name, m in model.named_modules():
        if isinstance(m, (APA, AGLU)):
            for k, l in zip(m.kappa.detach().flatten().tolist(),
                            m.lambda_.detach().flatten().tolist()):
                out.append(dict(name=name, kind=type(m).__name__, kappa=k, lambda_=l,
                                lambda_min=m.lambda_min))
    return out


def apa_curve(z: np.ndarray, kappa: float, lambda_: float, lambda_min: float = 1e-4):
    """η(z; κ, λ) = (λ e^(−κz) + 1)^(−1/λ) (through gated_mm's own kernel)."""
    from gated_mm.models.activations import apa
    t = torch.as_tensor(z, dtype=torch.float64)
    return apa(t, torch.tensor(kappa, dtype=torch.float64),
               torch.tensor(lambda_, dtype=torch.float64), lambda_min).numpy()


def class_names(loader) -> Optional[List[str]]:
    """Class names of a loader's dataset (unwrapping ``Subset``), or None."""
    ds = loader.dataset
    ds = getattr(ds, 'dataset', ds) if isinstance(ds, torch.utils.data.Subset) else ds
    classes = (getattr(ds, 'metainfo', None) or {}).get('classes')
    return list(classes) if classes else None


def short_name(config: str) -> str:
    """``<folder>/<file>`` of a config path, for titles."""
    return '/'.join(osp.normpath(config).split(os.sep)[-2:])


def stage_of(name: str) -> str:
    """'stem', 'layer1', ... from a module name."""
    for part in name.split('.'):
        if part.startswith('layer'):
            return part
    return 'stem'


def matplotlib():
    """matplotlib with the non-interactive Agg backend."""
    os.environ.setdefault('MPLBACKEND', 'Agg')
    import matplotlib as mpl
    mpl.use('Agg')
    import matplotlib.pyplot as plt
    return plt
