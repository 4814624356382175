#!/usr/bin/env python
r"""Convert a public APA classification checkpoint to a gated_mm checkpoint.

    python tools/dataset_converters/convert_apa_checkpoint.py SRC DST
        [--backbone-only] [--ema] [--scale 16] [--num-classes C] [--no-verify]

SRC: a checkpoint of the public APA code (``kostas1515/AGLU``, ``classification/``; torchvision
reference-script format ``{'model': state_dict, 'optimizer': ..., 'args': ..., ...}``, keys of a
torchvision-style (SE-)ResNet/ResNeXt, optionally with a ``module.`` prefix). Loading it
unpickles the saved ``args`` namespace: convert only checkpoints from a source you trust.

Key mapping (public → gated_mm ``ImageClassifier``; ``GatedResNet`` with ReLU and no attention
is exactly torchvision's ResNet layout, so the conv/BN/downsample keys are unchanged):

    conv1, bn1, layerX.Y.{conv1,bn1,conv2,bn2,conv3,bn3,downsample.0,downsample.1}
                                       → backbone.<same>
    relu.{lambda_param,kappa_param}    → backbone.stem_act.{lambda_,kappa}        (AGLU stem)
    layerX.Y.unirect1 / unirect2       → backbone.layerX.Y.act1 / act2            (AGLU)
    layerX.Y.unirect3                  → backbone.layerX.Y.act_add                (AGLU after +)
    layerX.Y.se.norm                   → backbone.layerX.Y.attention.norm        (LayerNorm)
    layerX.Y.se.excitation.0 / .2      → backbone.layerX.Y.attention.fc1 / fc2   (no bias)
    layerX.Y.se.uniact                 → backbone.layerX.Y.attention.gate        (APA)
    layerX.Y.cbam.ChannelGate.norm     → backbone.layerX.Y.attention.norm        (CBAM, LayerNorm)
    layerX.Y.cbam.ChannelGate.mlp.1/.3 → backbone.layerX.Y.attention.fc1 / fc2   (with bias)
    layerX.Y.cbam.ChannelGate.uniact   → backbone.layerX.Y.attention.channel_gate (APA)
    layerX.Y.cbam.SpatialGate.spatial.conv / .bn
                                       → backbone.layerX.Y.attention.spatial_conv / spatial_norm
    layerX.Y.cbam.SpatialGate.uniact   → backbone.layerX.Y.attention.spatial_gate (APA)
    fc.weight (cosine classifier)      → head.weight              (CosineClsHead)
    fc.scale  (learnable cosine scale) → head.scale_sqrt          (s = scale_sqrt², as public)
    fc.weight, fc.bias (linear)        → head.fc.weight, head.fc.bias (LinearClsHead)

The architecture is read from the keys (depth from the blocks per stage, ResNeXt groups from
the conv2 weight shape, SE gate: APA if ``se.uniact`` else Sigmoid, SE with LayerNorm and
Dropout(0.1) if ``se.norm``, units: AGLU if ``unirect*`` else ReLU, head from ``fc.*``) and
written, as a gated_mm model config, to ``meta.model_cfg`` of DST and printed. With verification
on (default), the model is built from that config and DST loaded into it with ``strict=True``.
The cosine scale of a fixed-scale head is not stored in the checkpoint: ``--scale`` (16, the
APA ImageNet-LT recipe).

``--backbone-only``: drop the classifier and the ``backbone.`` prefix (keys as ``GatedResNet``'s
own), for ``init_cfg=dict(type='Pretrained', checkpoint=DST)`` of a detector backbone.

Public-code differences that are reported, not converted (λ and κ are copied unchanged):

* APA gates (``Unified``): λ is clamped at 1e-4 as in gated_mm; some versions
  (``resnet_pytorch.py``) also clamp κ to [−3.5, 3.5] and λ to ≤ 10 (gated_mm: no upper
  clamp).
* AGLU units (``UniRect`` in ``resnet_cifar.py``): the public forward computes with
  λ' = relu(λ) + 1e-8 for every λ, a shift, not a floor; gated_mm computes with
  max(λ, 1e-4). For λ ≥ 1e-4 the two differ only by that 1e-8 in λ: at κ = 1, λ = 1 the
  unit's outputs differ by at most 3.2e-9 over |z| ≤ 10 in float64, and in float32
  λ + 1e-8 rounds to λ for λ ≥ 0.25. For λ < 1e-4 the public unit computes with
  max(λ, 0) + 1e-8 (close to the Gumbel limit λ → 0) and gated_mm with 1e-4: outputs differ by
  up to 2.5e-5 (|z| ≤ 10).

A warning lists the parameters in the ranges where the two compute differently (κ outside
[−3.5, 3.5] or λ > 10 in an APA gate; λ < 1e-4 in an AGLU unit). CIFAR
ResNet-32 checkpoints (``classification/resnet_cifar.py``, ``ResNet_s``: ``resnet32`` and
``se_resnet32`` with ``unirect`` / ``se.unact`` / ``linear``) become ``GatedCifarResNet``
(depth 6n + 2 from the blocks per stage, option-A shortcuts, SE style 'apa' if ``se.norm``):
``unirect`` → ``stem_act``, ``unirect1`` / ``unirect2`` → ``act1`` / ``act_add``,
``se.unact`` → ``attention.gate``, ``linear`` → the head; option-B shortcuts and the
NormedLinear classifier are rejected.
CBAM / spatial-attention checkpoints (``cb_resnet50``, ``sp_resnet50``, ``sp_resnext50_32x4d``)
become ``CBAM(style='apa')`` with mode 'both' or 'spatial' and each gate APA or Sigmoid as
in the checkpoint.

Output: ``{'state_dict': ..., 'meta': {'source', 'model_cfg', 'mapping': n keys, ...}}``.
Labels: the public code re-indexes classes by descending training frequency; evaluate the
converted classifier with datasets built with ``frequency_ann_file=<training list>`` (see
``configs/imagenet_lt/*_public-ckpt.py``).
"""
import argparse
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, Optional, Tuple

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

TOOL = 'convert_apa_checkpoint.py'
_DEPTHS = {(2, 2, 2, 2): 26, (3, 4, 6, 3): 50, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}
_BLOCK_RULES = [  # (public suffix regex, gated_mm suffix), applied to 'layerX.Y.<suffix>'
    (r'^unirect1\.lambda_param$', 'act1.lambda_'),
    (r'^unirect1\.kappa_param$', 'act1.kappa'),
    (r'^unirect2\.lambda_param$', 'act2.lambda_'),
    (r'^unirect2\.kappa_param$', 'act2.kappa'),
    (r'^unirect3\.lambda_param$', 'act_add.lambda_'),
    (r'^unirect3\.kappa_param$', 'act_add.kappa'),
    (r'^se\.norm\.(weight|bias)$', r'attention.norm.\1'),
    (r'^se\.excitation\.0\.weight$', 'attention.fc1.weight'),
    (r'^se\.excitation\.2\.weight$', 'attention.fc2.weight'),
    (r'^se\.uniact\.lambda_param$', 'attention.gate.lambda_'),
    (r'^se\.uniact\.kappa_param$', 'attention.gate.kappa'),
    (r'^cbam\.ChannelGate\.norm\.(weight|bias)$', r'attention.norm.\1'),
    (r'^cbam\.ChannelGate\.mlp\.1\.(weight|bias)$', r'attention.fc1.\1'),
    (r'^cbam\.ChannelGate\.mlp\.3\.(weight|bias)$', r'attention.fc2.\1'),
    (r'^cbam\.ChannelGate\.uniact\.lambda_param$', 'attention.channel_gate.lambda_'),
    (r'^cbam\.ChannelGate\.uniact\.kappa_param$', 'attention.channel_gate.kappa'),
    (r'^cbam\.SpatialGate\.spatial\.conv\.weight$', 'attention.spatial_conv.weight'),
    (r'^cbam\.SpatialGate\.spatial\.bn\.(weight|bias|running_mean|running_var|'
     r'num_batches_tracked)$', r'attention.spatial_norm.\1'),
    (r'^cbam\.SpatialGate\.uniact\.lambda_param$', 'attention.spatial_gate.lambda_'),
    (r'^cbam\.SpatialGate\.uniact\.kappa_param$', 'attention.spatial_gate.kappa'),
    (r'^(conv[123]\.weight)$', r'\1'),
    (r'^(bn[123]\.(weight|bias|running_mean|running_var|num_batches_tracked))$', r'\1'),
    (r'^(downsample\.[01]\.(weight|bias|running_mean|running_var|num_batches_tracked))$',
     r'\1'),
]
_STEM_RULES = [
    (r'^conv1\.weight$', 'conv1.weight'),
    (r'^(bn1\.(weight|bias|running_mean|running_var|num_batches_tracked))$', r'\1'),
    (r'^relu\.lambda_param$', 'stem_act.lambda_'),
    (r'^relu\.kappa_param$', 'stem_act.kappa'),
]


class ConversionError(ValueError):
    """A key or layout the converter cannot map (message names the key)."""


def _strip(state: dict) -> Dict[str, 'torch.Tensor']:
    out = OrderedDict()
    for k, v in state.items():
        if k == 'n_averaged':  # torchvision ExponentialMovingAverage bookkeeping
            continue
        out[k[len('module.'):] if k.startswith('module.') else k] = v
    return out


def public_state_dict(ckpt, ema: bool = False, src: str = 'checkpoint') -> Dict:
    """The model state dict inside a public checkpoint (``'model'`` or ``'model_ema'``)."""
    key = 'model_ema' if ema else 'model'
    if isinstance(ckpt, dict) and key in ckpt:
        return _strip(ckpt[key])
    if isinstance(ckpt, dict) and not ema and all(hasattr(v, 'shape') for v in ckpt.values()):
        return _strip(ckpt)  # a bare state dict
    keys = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
    raise ConversionError(f'{src}: no {key!r} entry (found {keys}); expected the public APA '
                          f"code's {{'model': state_dict, ...}} checkpoint"
                          + ('' if ema else ' (or pass --ema for model_ema)'))


def map_key(key: str) -> str:
    """The gated_mm ``ImageClassifier`` key of a public key (see the module docstring).

    Raises:
        ConversionError: an unknown key (CBAM, CIFAR ResNet, ...), named in the message.
    """
    m = re.match(r'^(layer\d+\.\d+)\.(.+)$', key)
    if m:
        for pat, rep in _BLOCK_RULES:
            if re.match(pat, m.group(2)):
                return f'backbone.{m.group(1)}.{re.sub(pat, rep, m.group(2))}'
        if m.group(2).startswith('cbam.'):
            raise ConversionError(f'{key}: unknown CBAM parameter')
        if m.group(2).startswith('shortcut'):
            raise ConversionError(f'{key}: a CIFAR ResNet (option-A shortcut) key in an '
                                  f'ImageNet-layout (bottleneck) checkpoint')
        raise ConversionError(f'{key}: unknown block parameter')
    for pat, rep in _STEM_RULES:
        if re.match(pat, key):
            return f'backbone.{re.sub(pat, rep, key)}'
    if key == 'fc.scale':
        return 'head.scale_sqrt'
    if key in ('fc.weight', 'fc.bias'):
        return key  # resolved by head type in convert()
    if key.startswith('linear.'):
        raise ConversionError(f'{key}: a CIFAR ResNet classifier key in an ImageNet-layout '
                              f'checkpoint')
    raise ConversionError(f'{key}: unknown parameter')


def _cbam_cfg(state: Dict) -> dict:
    """``CBAM`` config of the public ``cbam.CBAM`` (classification/cbam.py) in block layer1.0:
    mode 'both' if it has a ``ChannelGate`` else 'spatial' (``no_channel=True``); each gate APA
    if it has ``uniact`` else Sigmoid; the public layout (LayerNorm, Dropout(0.1), BN weight 1)
    is ``style='apa'``."""
    p = 'layer1.0.cbam.'
    both = f'{p}ChannelGate.mlp.1.weight' in state
    gate = (lambda part: dict(type='APA') if f'{p}{part}.uniact.lambda_param' in state else
            dict(type='Sigmoid'))
    cfg = dict(type='CBAM', mode='both' if both else 'spatial', style='apa',
               spatial_gate_cfg=gate('SpatialGate'))
    if both:
        fc1 = state[f'{p}ChannelGate.mlp.1.weight']
        cfg.update(ratio=int(fc1.shape[1]) // int(fc1.shape[0]), gate_cfg=gate('ChannelGate'))
    else:
        cfg['gate_cfg'] = cfg['spatial_gate_cfg']
    return cfg


def infer_model_cfg(state: Dict, scale: float = 16., num_classes: Optional[int] = None) -> dict:
    """gated_mm ``ImageClassifier`` config of the public state dict (module docstring)."""
    blocks = {}
    for k in state:
        m = re.match(r'^layer(\d+)\.(\d+)\.', k)
        if m:
            blocks.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    layout = tuple(len(blocks.get(i, ())) for i in range(1, 5))
    if layout not in _DEPTHS:
        raise ConversionError(f'blocks per stage {layout} match no GatedResNet depth '
                              f'({sorted(_DEPTHS.values())}: {list(_DEPTHS)})')
    if 'layer1.0.conv3.weight' not in state:
        raise ConversionError('layer1.0.conv3.weight missing: only bottleneck (SE-)ResNet / '
                              'ResNeXt checkpoints are supported')
    w2 = state['layer1.0.conv2.weight']
    width, per_group = int(w2.shape[0]), int(w2.shape[1])
    groups = width // per_group
    out1 = int(state['layer1.0.conv3.weight'].shape[0])
    base = out1 // 4
    stem_ch = int(state['conv1.weight'].shape[0])
    backbone = dict(type='GatedResNet', depth=_DEPTHS[layout], stem_channels=stem_ch,
                    base_channels=base)
    if groups > 1:
        # GatedResNet: mid = groups * width_per_group * (C_out / 4) / base, = width in layer1
        backbone.update(groups=groups, width_per_group=width // groups)
    aglu = any('.unirect' in k for k in state)
    if aglu:
        backbone['act_cfg'] = dict(type='AGLU')
        if 'relu.lambda_param' not in state:
            raise ConversionError('AGLU blocks but no stem relu.lambda_param / kappa_param')
    else:
        backbone['act_cfg'] = dict(type='ReLU', inplace=True)
    if 'layer1.0.se.excitation.0.weight' in state:
        c_in = int(state['layer1.0.se.excitation.0.weight'].shape[1])
        hidden = int(state['layer1.0.se.excitation.0.weight'].shape[0])
        ratio = c_in // hidden
        apa = 'layer1.0.se.uniact.lambda_param' in state
        gated_layout = 'layer1.0.se.norm.weight' in state
        att = dict(type='GatedSE', ratio=ratio,
                   gate_cfg=dict(type='APA') if apa else dict(type='Sigmoid'))
        if gated_layout:
            att.update(layer_norm=True, dropout=0.1)
        backbone['attention_cfg'] = att
    elif 'layer1.0.cbam.SpatialGate.spatial.conv.weight' in state:
        backbone['attention_cfg'] = _cbam_cfg(state)
    else:
        backbone['attention_cfg'] = None
    feat = int(state['layer4.0.conv3.weight'].shape[0])
    if 'fc.weight' not in state:
        raise ConversionError('fc.weight missing: no classifier in the checkpoint (a '
                              'backbone-only checkpoint cannot be verified as a classifier)')
    n_cls = int(state['fc.weight'].shape[0])
    if num_classes is not None and num_classes != n_cls:
        raise ConversionError(f'fc.weight has {n_cls} classes, --num-classes says {num_classes}')
    if 'fc.bias' in state:
        head = dict(type='LinearClsHead', num_classes=n_cls, in_channels=feat)
    elif 'fc.scale' in state:
        s = float(state['fc.scale'].flatten()[0]) ** 2
        head = dict(type='CosineClsHead', num_classes=n_cls, in_channels=feat,
                    learnable_scale=True, scale=max(s, 1e-6))
    else:
        head = dict(type='CosineClsHead', num_classes=n_cls, in_channels=feat, scale=scale)
    return dict(type='ImageClassifier', backbone=backbone,
                neck=dict(type='GlobalAveragePooling'), head=head)


def range_warnings(state: Dict) -> list:
    """Parameters where the public code and gated_mm compute differently (module docstring)."""
    out = []
    for k, v in state.items():
        if k.endswith(('uniact.kappa_param', 'unact.kappa_param')) and (v.abs() > 3.5).any():
            out.append(f'{k} = {v.flatten().tolist()} outside [-3.5, 3.5] (clamped by some '
                       f'public versions)')
        if k.endswith(('uniact.lambda_param', 'unact.lambda_param')) and (v > 10).any():
            out.append(f'{k} = {v.flatten().tolist()} > 10 (clamped by some public versions)')
        if 'unirect' in k or k.startswith('relu.'):
            if k.endswith('lambda_param') and (v < 1e-4).any():
                out.append(f'{k} = {v.flatten().tolist()} < 1e-4 (public AGLU computes with '
                           f'relu(lambda) + 1e-8, gated_mm with max(lambda, 1e-4))')
    return out


# CIFAR ResNet_s of the public classification/resnet_cifar.py (resnet32 / se_resnet32):
# stem 'unirect', blocks unirect1 (after bn1) / unirect2 (after the add), SE 'se.unact',
# parameter-free option-A shortcut, classifier 'linear'
_CIFAR_BLOCK_RULES = [
    (r'^unirect1\.(lambda|kappa)_param$', r'act1.\1'),
    (r'^unirect2\.(lambda|kappa)_param$', r'act_add.\1'),
    (r'^se\.norm\.(weight|bias)$', r'attention.norm.\1'),
    (r'^se\.excitation\.0\.weight$', 'attention.fc1.weight'),
    (r'^se\.excitation\.2\.weight$', 'attention.fc2.weight'),
    (r'^se\.unact\.(lambda|kappa)_param$', r'attention.gate.\1'),
    (r'^(conv[12]\.weight)$', r'\1'),
    (r'^(bn[12]\.(weight|bias|running_mean|running_var|num_batches_tracked))$', r'\1'),
]


def is_cifar(state: Dict) -> bool:
    """A public CIFAR ResNet_s state dict (classifier ``linear``, three stages)."""
    return 'linear.weight' in state or ('layer3.0.conv1.weight' in state and
                                        'layer4.0.conv1.weight' not in state)


def map_cifar_key(key: str) -> str:
    """The gated_mm key (``GatedCifarResNet`` classifier) of a public CIFAR ResNet_s key."""
    m = re.match(r'^(layer\d+\.\d+)\.(.+)$', key)
    if m:
        for pat, rep in _CIFAR_BLOCK_RULES:
            if re.match(pat, m.group(2)):
                new = re.sub(pat, rep, m.group(2)).replace('.lambda', '.lambda_')
                return f'backbone.{m.group(1)}.{new}'
        if m.group(2).startswith('shortcut'):
            raise ConversionError(f'{key}: option-B (projection) shortcuts of the CIFAR ResNet '
                                  f'are not supported (the public models use option A)')
        raise ConversionError(f'{key}: unknown CIFAR block parameter')
    if re.match(r'^(conv1\.weight|bn1\.(weight|bias|running_mean|running_var|'
                r'num_batches_tracked))$', key):
        return f'backbone.{key}'
    m = re.match(r'^unirect\.(lambda|kappa)_param$', key)
    if m:
        return f'backbone.stem_act.{m.group(1)}' + ('_' if m.group(1) == 'lambda' else '')
    if key == 'linear.scale':
        return 'head.scale_sqrt'
    if key in ('linear.weight', 'linear.bias'):
        return 'fc.' + key[len('linear.'):]  # resolved by head type in convert()
    if key.startswith('contrastive.'):
        raise ConversionError(f'{key}: the contrastive ResNet_s variant is not supported')
    raise ConversionError(f'{key}: unknown CIFAR ResNet parameter')


def infer_cifar_cfg(state: Dict, scale: float = 16., num_classes: Optional[int] = None) -> dict:
    """gated_mm ``ImageClassifier`` config (``GatedCifarResNet``) of a public CIFAR ResNet_s."""
    blocks = {}
    for k in state:
        m = re.match(r'^layer(\d+)\.(\d+)\.', k)
        if m:
            blocks.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    layout = tuple(len(blocks.get(i, ())) for i in range(1, 4))
    if len(blocks) != 3 or len(set(layout)) != 1 or not layout[0]:
        raise ConversionError(f'CIFAR ResNet: blocks per stage {layout} are not (n, n, n)')
    stem = int(state['conv1.weight'].shape[0])
    base = int(state['layer1.0.conv1.weight'].shape[0])
    backbone = dict(type='GatedCifarResNet', depth=6 * layout[0] + 2, stem_channels=stem,
                    base_channels=base)
    if any('unirect' in k for k in state):
        backbone['act_cfg'] = dict(type='AGLU')
    else:
        backbone['act_cfg'] = dict(type='ReLU', inplace=True)
    fc1 = state.get('layer1.0.se.excitation.0.weight')
    if fc1 is not None:
        att = dict(type='GatedSE', ratio=int(fc1.shape[1]) // int(fc1.shape[0]),
                   style='apa' if 'layer1.0.se.norm.weight' in state else 'original')
        att['gate_cfg'] = (dict(type='APA') if 'layer1.0.se.unact.lambda_param' in state else
                           dict(type='Sigmoid'))
        backbone['attention_cfg'] = att
    else:
        backbone['attention_cfg'] = None
    feat = base * 4
    w = state.get('linear.weight')
    if w is None:
        raise ConversionError('linear.weight missing: no classifier in the checkpoint')
    if int(w.shape[1]) != feat:
        raise ConversionError(f'linear.weight {tuple(w.shape)}: expected (classes, {feat}); the '
                              f'NormedLinear classifier (in, out) is not supported')
    n_cls = int(w.shape[0])
    if num_classes is not None and num_classes != n_cls:
        raise ConversionError(f'linear.weight has {n_cls} classes, --num-classes says '
                              f'{num_classes}')
    if 'linear.bias' in state:
        head = dict(type='LinearClsHead', num_classes=n_cls, in_channels=feat)
    elif 'linear.scale' in state:
        s = float(state['linear.scale'].flatten()[0]) ** 2
        head = dict(type='CosineClsHead', num_classes=n_cls, in_channels=feat,
                    learnable_scale=True, scale=max(s, 1e-6))
    else:
        head = dict(type='CosineClsHead', num_classes=n_cls, in_channels=feat, scale=scale)
    return dict(type='ImageClassifier', backbone=backbone,
                neck=dict(type='GlobalAveragePooling'), head=head)


def convert(state: Dict, backbone_only: bool = False, scale: float = 16.,
            num_classes: Optional[int] = None) -> Tuple[OrderedDict, dict]:
    """``(gated_mm state dict, model config)`` of a public state dict."""
    if is_cifar(state):
        mapped = [(k, map_cifar_key(k), v) for k, v in state.items()]
        cfg = None if backbone_only and 'linear.weight' not in state else infer_cifar_cfg(
            state, scale, num_classes)
    else:
        mapped = [(k, map_key(k), v) for k, v in state.items()]  # unknown keys fail first
        cfg = None if backbone_only and 'fc.weight' not in state else infer_model_cfg(
            state, scale, num_classes)
    head_type = cfg['head']['type'] if cfg else None
    out = OrderedDict()
    for k, new, v in mapped:
        if new.startswith('fc.'):
            new = ('head.fc.' + new[3:]) if head_type == 'LinearClsHead' else 'head.weight'
        if backbone_only:
            if not new.startswith('backbone.'):
                continue
            new = new[len('backbone.'):]
        if new in out:
            raise ConversionError(f'{k}: maps to {new}, which another key already produced')
        out[new] = v.clone()
    return out, cfg


def verify(state: OrderedDict, model_cfg: dict, backbone_only: bool):
    """Build the model (or its backbone) and load ``state`` strictly."""
    import copy

    import gated_mm  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = copy.deepcopy(model_cfg['backbone'] if backbone_only else model_cfg)
    model = MODELS.build(cfg)
    model.load_state_dict(state, strict=True)
    return model


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('src', help='public APA checkpoint ({"model": state_dict, ...})')
    p.add_argument('dst', help='output .pth')
    p.add_argument('--backbone-only', action='store_true',
                   help='keep only the backbone, keys without "backbone." (detector init)')
    p.add_argument('--ema', action='store_true', help="convert 'model_ema' instead of 'model'")
    p.add_argument('--scale', type=float, default=16.,
                   help='scale of a fixed-scale cosine classifier (not stored; APA recipe 16)')
    p.add_argument('--num-classes', type=int, help='check the classifier has this many classes')
    p.add_argument('--no-verify', action='store_true', help='skip the strict load check')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.src):
        sys.exit(f'{TOOL}: error: source checkpoint not found: {args.src}')
    import torch
    try:
        # the public checkpoints pickle an argparse.Namespace ('args'): weights_only=False
        ckpt = torch.load(args.src, map_location='cpu', weights_only=False)
        state = public_state_dict(ckpt, args.ema, args.src)
        new_state, model_cfg = convert(state, args.backbone_only, args.scale, args.num_classes)
        if model_cfg is None:  # backbone-only source without a classifier: infer w/o head
            raise ConversionError('the checkpoint has no fc.weight; cannot infer the model')
        if not args.no_verify:
            verify(new_state, model_cfg, args.backbone_only)
    except (ConversionError, RuntimeError, KeyError) as e:
        sys.exit(f'{TOOL}: error: {args.src}: {str(e).splitlines()[0]}')
    for w in range_warnings(state):
        print(f'{TOOL}: warning: {w}', file=sys.stderr)
    meta = dict(source=osp.abspath(args.src), converter=TOOL, backbone_only=args.backbone_only,
                ema=args.ema, model_cfg=model_cfg, num_keys=len(new_state),
                note='labels follow the public code: classes re-indexed by descending training '
                     'frequency')
    os.makedirs(osp.dirname(osp.abspath(args.dst)) or '.', exist_ok=True)
    torch.save({'state_dict': new_state, 'meta': meta}, args.dst)
    print(f'model config (meta.model_cfg): {model_cfg}')
    print(f'{len(new_state)} tensors -> {args.dst}'
          + ('' if args.no_verify else ' (strict load verified)'))


if __name__ == '__main__':
    main()
