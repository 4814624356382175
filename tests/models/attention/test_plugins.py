"""The mmdet ``plugins`` wrappers inside upstream mmdet ResNet."""
import torch
from mmengine.registry import DefaultScope

import gated_mm  # noqa: F401
from gated_mm.models.attention import CBAMPlugin, GatedAttentionPlugin, GatherExcitePlugin


def test_plugins_in_upstream_mmdet_resnet():
    from mmdet.models.backbones import ResNet
    from mmdet.registry import MODELS
    plugins = [
        dict(cfg=dict(type='CBAMPlugin', gate_cfg=dict(type='APA')), stages=(True, ) * 4,
             position='after_conv3'),
        dict(cfg=dict(type='GatedAttentionPlugin', name='ge-theta-', gate='apa'),
             stages=(False, True, True, True), position='after_conv3'),
    ]
    plugins += [dict(cfg=dict(type='GatherExcitePlugin', variant='theta', feat_size=s,
                              postfix=f'_s{i}'),
                     stages=tuple(j == i for j in range(4)), position='after_conv3')
                for i, s in enumerate((16, 8, 4, 2))]
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(dict(type='ResNet', depth=50, stem_channels=8, base_channels=4,
                                  plugins=plugins, norm_eval=False))
    block = model.layer3[0]
    assert isinstance(block.cbam, CBAMPlugin) and block.cbam.channels == 64
    assert isinstance(block.gated_attention, GatedAttentionPlugin)
    assert isinstance(block.gather_excite_s2, GatherExcitePlugin)
    assert block.gather_excite_s2.feat_size == (4, 4)
    assert not hasattr(model.layer1[0], 'gated_attention')
    outs = model(torch.randn(2, 3, 75, 53))  # non-multiple-of-7 detection-like input
    assert [o.shape[1] for o in outs] == [16, 32, 64, 128]
    sum(o.sum() for o in outs).backward()
    assert block.cbam.spatial_conv.weight.grad is not None
