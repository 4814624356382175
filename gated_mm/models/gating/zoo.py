"""Small configs of the upstream models of the ``Gated`` compatibility table.

Each entry is one MMDetection / MMPretrain backbone or head, scaled down (widths, depths) so that
a float64 forward and backward takes well under a second on a CPU, and what ``Gated`` does to
it "AGLU everywhere, APA gates":

* ``scope``: the library whose registry builds ``model``;
* ``model``: the upstream config (upstream type, upstream arguments only);
* ``act``: the activation classes the model calls (all of them become AGLU);
* ``gate``: the gate classes of its squeeze-excite layers and the SE class (become APA);
* ``insert``: module name patterns after which an attention block goes (its stages or blocks);
  ``insert_error``: set where those modules output no (N, C, H, W) map (token layouts, the
  bbox head's vectors): a word of the error the insert stops with;
* ``input_shape``: the probe / test input (a list of shapes: multi-level features);
* ``freeze``: upstream arguments freezing part of the model (``frozen_stages``, ``norm_eval``),
  where the model has them; ``with_cp``: whether it has ``with_cp``;
* ``full``: the model arguments that restore its published size (the table's call-site counts
  are of that model, probed at 64 px or on ``full_input``), or None where the small config is
  the only one here;
* ``note``: what the conversion leaves out or does differently for this model, and why.

Used by ``tools/analysis_tools/gating_table.py`` (the README table) and the tests.
"""
import copy

_FPN5 = [(1, 8, 16, 16), (1, 8, 8, 8), (1, 8, 4, 4), (1, 8, 2, 2), (1, 8, 1, 1)]
_RES = dict(depth=50, base_channels=8, stem_channels=8, out_indices=(0, 1, 2, 3))
_FREEZE = dict(frozen_stages=1, norm_eval=True)
_FULL_RES = dict(base_channels=64, stem_channels=64)

ZOO = {
    'mmpretrain ConvNeXt': dict(
        scope='mmpretrain',
        model=dict(type='ConvNeXt', arch=dict(depths=[1, 1, 2, 1], channels=[8, 16, 32, 64]),
                   out_indices=(0, 1, 2, 3)),
        act=['GELU'], insert=['stages.*'], input_shape=(1, 3, 32, 32),
        freeze=dict(frozen_stages=1), with_cp=True, full=dict(arch='tiny')),
    'mmdet Swin': dict(
        scope='mmdet',
        model=dict(type='SwinTransformer', embed_dims=8, depths=(2, 2, 2, 2),
                   num_heads=(1, 1, 2, 2), window_size=2, pretrain_img_size=64,
                   drop_path_rate=0.0),
        act=['GELU'], insert=['stages.*'], insert_error='token', input_shape=(1, 3, 64, 64),
        freeze=dict(frozen_stages=1), with_cp=True,
        full=dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7,
                  pretrain_img_size=224)),
    'mmpretrain Swin': dict(
        scope='mmpretrain',
        model=dict(type='SwinTransformer',
                   arch=dict(embed_dims=8, depths=[2, 2, 2, 2], num_heads=[1, 1, 2, 2]),
                   img_size=64, window_size=2, out_indices=(0, 1, 2, 3), drop_path_rate=0.0),
        act=['GELU'], insert=['stages.*'], insert_error='token', input_shape=(1, 3, 64, 64),
        freeze=dict(frozen_stages=1), with_cp=True,
        full=dict(arch='tiny', img_size=224, window_size=7), full_input=(1, 3, 224, 224)),
    'mmdet CSPDarknet': dict(
        scope='mmdet',
        model=dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.125),
        act=['Swish'], insert=['stage*'], input_shape=(1, 3, 64, 64),
        freeze=_FREEZE, with_cp=False, full=dict(deepen_factor=1.0, widen_factor=1.0)),
    'mmpretrain EfficientNet-b0': dict(
        scope='mmpretrain',
        model=dict(type='EfficientNet', arch='b0', out_indices=(6, )),
        act=['Swish'], gate=dict(replace=['Sigmoid'], within=['SELayer']),
        insert=['layers.*'], input_shape=(1, 3, 16, 16),
        freeze=dict(frozen_stages=2, norm_eval=True), with_cp=True, full={}),
    'mmdet ResNet': dict(
        scope='mmdet', model=dict(type='ResNet', **_RES),
        act=['ReLU'], insert=['layer*'], input_shape=(1, 3, 32, 32),
        freeze=_FREEZE, with_cp=True, full=_FULL_RES),
    'mmdet ResNeXt': dict(
        scope='mmdet', model=dict(type='ResNeXt', groups=2, base_width=4, **_RES),
        act=['ReLU'], insert=['layer*'], input_shape=(1, 3, 32, 32),
        freeze=_FREEZE, with_cp=True, full=dict(_FULL_RES, depth=101, groups=32)),
    'mmdet RegNet': dict(
        scope='mmdet',
        model=dict(type='RegNet', arch=dict(w0=8, wa=8.0, wm=2.0, group_w=8, depth=6,
                                            bot_mul=1.0),
                   stem_channels=8, base_channels=8, out_indices=(0, 1, 2, 3)),
        act=['ReLU'], insert=['layer*'], input_shape=(1, 3, 32, 32),
        freeze=_FREEZE, with_cp=True,
        full=dict(arch='regnetx_3.2gf', stem_channels=32, base_channels=32)),
    'mmdet ResNeSt': dict(
        scope='mmdet',
        model=dict(type='ResNeSt', depth=50, stem_channels=16, base_channels=8,
                   radix=2, reduction_factor=4, out_indices=(0, 1, 2, 3)),
        note=('its split-attention gate is a softmax over the radix (rSoftmax, F.softmax), '
              'not a Sigmoid gate: left as it is'),
        act=['ReLU'], insert=['layer*'], input_shape=(1, 3, 32, 32),
        freeze=_FREEZE, with_cp=True, full=dict(stem_channels=64, base_channels=64)),
    'mmpretrain ResNet': dict(
        scope='mmpretrain', model=dict(type='ResNet', **_RES),
        act=['ReLU'], insert=['layer*'], input_shape=(1, 3, 32, 32),
        freeze=_FREEZE, with_cp=True, full=_FULL_RES),
    'mmdet HRNet': dict(
        scope='mmdet',
        model=dict(type='HRNet', extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                        num_channels=(8, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                        num_channels=(8, 16)),
            stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                        num_channels=(8, 16, 32)),
            stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                        num_channels=(8, 16, 32, 64)))),
        act=['ReLU'], insert=['layer1'], input_shape=(1, 3, 32, 32),
        freeze=dict(norm_eval=True), with_cp=True, full=None),
    'mmpretrain MobileNetV2': dict(
        scope='mmpretrain',
        model=dict(type='MobileNetV2', widen_factor=0.25, out_indices=(7, )),
        act=['ReLU6'], insert=['layer*'], input_shape=(1, 3, 16, 16),
        freeze=dict(frozen_stages=2, norm_eval=True), with_cp=True, full=dict(widen_factor=1.0)),
    'mmpretrain MobileNetV3': dict(
        scope='mmpretrain',
        model=dict(type='MobileNetV3', arch='small'),
        act=['ReLU', 'Hardswish'], gate=dict(replace=['HSigmoid'], within=['SELayer']),
        insert=['layer*'], input_shape=(1, 3, 16, 16),
        freeze=dict(frozen_stages=2, norm_eval=True), with_cp=True, full={}),
    'mmdet RPN head': dict(
        scope='mmdet',
        model=dict(type='RPNHead', in_channels=8, feat_channels=8,
                   anchor_generator=dict(type='AnchorGenerator', scales=[8],
                                         ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64])),
        act=['ReLU'], insert=['rpn_conv'], input_shape=_FPN5, freeze=None, with_cp=False,
        note=('F.relu runs once per FPN level: one unit per level (5); a forward on another '
              'number of levels raises'),
        full=dict(in_channels=256, feat_channels=256),
        full_input=[(1, 256) + s[2:] for s in _FPN5]),
    'mmdet Shared2FC bbox head': dict(
        scope='mmdet',
        model=dict(type='Shared2FCBBoxHead', in_channels=8, fc_out_channels=16,
                   roi_feat_size=7, num_classes=3),
        act=['ReLU'], insert=['shared_fcs.*'], insert_error='vector', input_shape=(2, 8, 7, 7),
        freeze=None, with_cp=False, full=dict(in_channels=256, fc_out_channels=1024),
        full_input=(2, 256, 7, 7)),
    'mmdet FCN mask head': dict(
        scope='mmdet',
        model=dict(type='FCNMaskHead', num_convs=2, in_channels=8, conv_out_channels=8,
                   num_classes=3),
        act=['ReLU'], insert=['convs.*'], input_shape=(2, 8, 14, 14), freeze=None,
        with_cp=False, full=dict(num_convs=4, in_channels=256, conv_out_channels=256),
        full_input=(2, 256, 14, 14)),
}


def gated_cfg(name: str, by: str = 'AGLU', gate_by: str = 'APA', insert_cfg=None,
              full: bool = False, force_insert: bool = False, **model_args) -> dict:
    """The ``Gated`` config of zoo entry ``name``: every ``act`` class → ``by``, the SE gates →
    ``gate_by`` (a class name, or ``'same'``: each replaced class by itself, the identity), and,
    with ``insert_cfg``, that block after each ``insert`` pattern (not where ``insert_error``
    is set, unless ``force_insert``). ``full``: the published size (``full`` arguments).
    ``model_args`` update the upstream config (``with_cp=True``, ``frozen_stages=1``, ...)."""
    e = ZOO[name]
    by_cfg = (lambda n: dict(type=_registered_name(n) if by == 'same' else by))
    model = dict(copy.deepcopy(e['model']), **((e['full'] or {}) if full else {}))
    cfg = dict(type='Gated', model=dict(model, **model_args),
               act=[dict(replace=[a], by=by_cfg(a)) for a in e['act']],
               input_shape=e['input_shape'] if not full else e.get('full_input', (1, 3, 64, 64)))
    if e.get('gate'):
        g = e['gate']
        cfg['gate'] = [dict(replace=[a], within=g['within'],
                            by=dict(type=_registered_name(a) if gate_by == 'same' else gate_by))
                       for a in g['replace']]
    if insert_cfg is not None and (force_insert or not e.get('insert_error')):
        cfg['insert'] = dict(after=e['insert'], cfg=insert_cfg)
    return cfg


def _registered_name(cls_name: str) -> str:
    """The name under which mmengine's root ``MODELS`` registers the class ``cls_name``
    (mmcv registers ``nn.Hardswish`` as ``'HSwish'``)."""
    from mmengine.registry import MODELS
    for key, cls in MODELS.module_dict.items():
        if getattr(cls, '__name__', None) == cls_name:
            return key
    return cls_name
