"""The whole gated family inside GatedResNet: every variant at 224×224 and at a detection-like
non-multiple-of-7 size, the wiring of IIEU (conv inputs), the Dynamic Coupler merge, both
registry scopes, and the parameter counts of the ResNet-50 variants against the papers."""
import pytest
import torch
from mmengine.registry import DefaultScope

import gated_mm  # noqa: F401
from gated_mm.models.activations import IIEU, AdaShiftB, AdaShiftMA, DynamicCoupler
from gated_mm.models.attention import CBAM, GatherExcite
from gated_mm.models.backbones import GatedResNet

RELU = dict(type='ReLU', inplace=True)
IIEU_B = dict(stem=dict(type='IIEU'), bn1=dict(type='IIEU'), bn2=dict(type='IIEU'),
              bn3=dict(type='IIEU'), shortcut=dict(type='IIEU'))
MA = dict(type='AdaShiftMA')
ADASHIFT_MA = dict(stem=dict(type='AdaShiftMA', proj=True, shift_weight_init=1.0), bn1=MA,
                   bn2=MA, add=MA)


def ge(variant, sizes=(56, 28, 14, 7)):
    return [dict(type='GatherExcite', variant=variant, feat_size=s) for s in sizes]


def attn(name, gate='sigmoid', style='original'):
    return dict(type='GatedAttention', name=name, gate=gate, style=style)


VARIANTS = {  # name: GatedResNet arguments (every position / attention / merge of the issue)
    'se-sigmoid': dict(act_cfg=RELU, attention_cfg=attn('se')),
    'se-apa': dict(act_cfg=RELU, attention_cfg=attn('se', 'apa', 'apa')),
    'se-apa-aglu': dict(),  # GatedResNet's default: the APA paper's SE-R50
    'cbam-sigmoid': dict(act_cfg=RELU, attention_cfg=attn('cbam')),
    'cbam-apa': dict(act_cfg=RELU, attention_cfg=attn('cbam', 'apa', 'apa')),
    'cbam-apa-aglu': dict(act_cfg=dict(type='AGLU'), attention_cfg=attn('cbam', 'apa', 'apa')),
    'ge-theta-': dict(act_cfg=RELU, attention_cfg=dict(type='GatherExcite', variant='theta-')),
    'ge-theta': dict(act_cfg=RELU, attention_cfg=ge('theta')),
    'ge-theta+': dict(act_cfg=RELU, attention_cfg=ge('theta+')),
    'iieu-b': dict(act_cfg=IIEU_B, attention_cfg=None),
    'iieu-dc': dict(act_cfg=IIEU_B, attention_cfg=None, merge_cfg=dict(type='DynamicCoupler')),
    'adashift-b': dict(act_cfg=dict(type='AdaShiftB'), attention_cfg=None),
    'adashift-ma': dict(act_cfg=ADASHIFT_MA, attention_cfg=None),
}
TINY = dict(depth=26, base_channels=4, stem_channels=8, out_indices=(0, 1, 2, 3))


@pytest.mark.parametrize('size', [(224, 224), (90, 67)], ids=['224x224', '90x67'])
@pytest.mark.parametrize('name', list(VARIANTS))
def test_every_variant_runs_forward_backward_at_any_size(name, size):
    torch.manual_seed(0)
    model = GatedResNet(**TINY, **VARIANTS[name])
    x = torch.randn(2, 3, *size)
    outs = model(x)
    for i, out in enumerate(outs):
        s = 2**(i + 2)
        assert out.shape == (2, 16 * 2**i, -(-size[0] // s), -(-size[1] // s))
    sum((o * torch.randn_like(o)).sum() for o in outs).backward()
    for pname, p in model.named_parameters():  # every parameter is used and finite
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize('name', ['iieu-dc', 'adashift-ma', 'cbam-apa-aglu', 'ge-theta+'])
def test_bf16_autocast_backbone_is_finite(name):
    torch.manual_seed(2)
    model = GatedResNet(**TINY, **VARIANTS[name])
    x = torch.randn(2, 3, 61, 45)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(x)
    assert all(o.dtype == torch.bfloat16 and torch.isfinite(o).all() for o in outs)
    sum(o.float().sum() for o in outs).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_bn_aglu_units_run_as_the_fused_node():
    from gated_mm.models.activations import AGLU
    from gated_mm.models.backbones.gated_bottleneck import conv_norm_act
    torch.manual_seed(3)
    conv, bn, act = torch.nn.Conv2d(4, 6, 3, bias=False), torch.nn.BatchNorm2d(6), AGLU()
    x = torch.randn(2, 4, 7, 7)
    out = conv_norm_act(x, conv, bn, act)
    assert 'BatchNormAPA' in type(out.grad_fn).__name__
    torch.testing.assert_close(out, act(torch.nn.functional.batch_norm(
        conv(x), None, None, bn.weight, bn.bias, training=True)), rtol=1e-5, atol=1e-6)


def test_public_placements():
    iieu = GatedResNet(**TINY, **VARIANTS['iieu-dc'])
    n_blocks, n_stages = 8, 4
    units = [m for m in iieu.modules() if isinstance(m, IIEU)]
    assert len(units) == 1 + 3 * n_blocks + n_stages  # stem, bn1-3, projection shortcuts
    assert sum(isinstance(m, DynamicCoupler) for m in iieu.modules()) == n_blocks
    block = iieu.layer2[1]
    assert isinstance(block.act_add, torch.nn.Identity)  # nothing after the coupler
    assert isinstance(block.act_shortcut, torch.nn.Identity)  # identity shortcut: no unit
    assert isinstance(iieu.layer2[0].act_shortcut, IIEU)
    assert iieu.layer3[0].act3.channels == 64 and iieu.layer3[0].act1.channels == 16
    ma = GatedResNet(**TINY, **VARIANTS['adashift-ma'])
    assert sum(isinstance(m, AdaShiftMA) for m in ma.modules()) == 1 + 3 * n_blocks
    assert ma.stem_act.proj is not None and ma.layer1[0].act1.proj is None
    b = GatedResNet(**TINY, **VARIANTS['adashift-b'])
    assert isinstance(b.layer1[0].act_add, AdaShiftB) and isinstance(b.layer1[0].act3,
                                                                      torch.nn.Identity)
    g = GatedResNet(**TINY, **VARIANTS['ge-theta'])
    assert [g.layer1[0].attention.feat_size, g.layer4[1].attention.feat_size] == [(56, 56),
                                                                                  (7, 7)]


@pytest.mark.parametrize('avg_down', [False, True])
def test_iieu_receives_each_convs_input(avg_down):
    model = GatedResNet(**TINY, act_cfg=IIEU_B, attention_cfg=None, avg_down=avg_down)
    seen = {}

    def hook(name):
        def fn(module, args):
            seen[name] = args[1:]
        return fn

    block = model.layer2[0]
    for name, unit in [('stem', model.stem_act), ('act1', block.act1), ('act2', block.act2),
                       ('act3', block.act3), ('shortcut', block.act_shortcut)]:
        unit.register_forward_pre_hook(hook(name))
    block_in = {}
    block.register_forward_pre_hook(lambda m, a: block_in.setdefault('x', a[0]))
    x = torch.randn(2, 3, 45, 38)
    model(x)
    assert seen['stem'][0] is x and seen['stem'][1] is model.conv1
    assert seen['act1'][0] is block_in['x'] and seen['act1'][1] is block.conv1
    assert seen['act2'][1] is block.conv2 and seen['act3'][1] is block.conv3
    conv = block.downsample[-2]
    assert seen['shortcut'][1] is conv
    if avg_down:  # the conv's input is the pooled map, not the block input
        torch.testing.assert_close(seen['shortcut'][0], block.downsample[0](block_in['x']))
    else:
        assert seen['shortcut'][0] is block_in['x']


def test_dynamic_coupler_replaces_the_add_and_with_cp_is_exact():
    torch.manual_seed(1)
    model = GatedResNet(**TINY, **VARIANTS['iieu-dc'])
    block = model.layer3[1]
    record = {}
    block.merge.register_forward_hook(lambda m, a, out: record.update(main=a[0], res=a[1],
                                                                      out=out))
    x = torch.randn(2, 3, 64, 48)
    outs = model(x)
    alpha = block.merge.weights(record['main'], record['res'])
    want = alpha[:, 0, :, None, None] * record['main'] + alpha[:, 1, :, None, None] * \
        record['res']
    torch.testing.assert_close(record['out'], want)
    cp = GatedResNet(**TINY, **VARIANTS['iieu-dc'], with_cp=True)
    cp.load_state_dict(model.state_dict())
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    sum(o.sum() for o in model(xa)).backward()
    outs_cp = cp(xb)
    sum(o.sum() for o in outs_cp).backward()
    for a, b in zip(outs, outs_cp):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(xa.grad, xb.grad)


def test_clear_errors_for_misplaced_units():
    with pytest.raises(ValueError, match='cannot sit after the residual add'):
        GatedResNet(**TINY, act_cfg=dict(add=dict(type='IIEU')), attention_cfg=None)
    with pytest.raises(ValueError, match='merge_cfg list has 3 entries'):
        GatedResNet(**TINY, merge_cfg=[None] * 3)
    with pytest.raises(ValueError, match='needs the conv input'):
        from mmcv.cnn import ConvModule
        ConvModule(3, 4, 3, act_cfg=dict(type='IIEU', channels=4))(torch.randn(1, 3, 5, 5))


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet'])
def test_family_builds_in_both_scopes(scope):
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(dict(type='GatedResNet', **TINY, **VARIANTS['iieu-dc']))
        for cfg, cls in [(dict(type='IIEU', channels=8), IIEU),
                         (dict(type='DynamicCoupler', channels=32), DynamicCoupler),
                         (dict(type='AdaShiftB', channels=8), AdaShiftB),
                         (dict(type='AdaShiftMA', channels=8), AdaShiftMA),
                         (dict(type='CBAM', channels=32), CBAM),
                         (dict(type='GatherExcite', channels=8), GatherExcite)]:
            assert isinstance(registry.build(cfg), cls)
    assert isinstance(model.layer1[0].merge, DynamicCoupler)


def test_frozen_stages_freeze_family_parameters():
    model = GatedResNet(**TINY, **VARIANTS['iieu-dc'], frozen_stages=1)
    model.train()
    assert not model.stem_act.eta.requires_grad
    assert not model.layer1[0].merge.fc1.weight.requires_grad
    assert model.layer2[0].merge.eta.requires_grad
    assert model.layer2[0].act1.norm.weight.requires_grad


# ------------------------------------------------------------------ ResNet-50 parameter counts
R50 = 23_508_032  # torchvision ResNet-50 without its fc
FC = 2_049_000  # the 1000-class fc of the published figures
BLOCKS = [(3, 64), (4, 128), (6, 256), (3, 512)]  # (blocks, mid width) per stage


def n_params(**kwargs):
    return sum(p.numel() for p in GatedResNet(**kwargs).parameters())


def test_resnet50_parameter_counts_against_the_papers():
    plain = n_params(act_cfg=RELU, attention_cfg=None)
    assert plain == R50
    # IIEU-B: 3C per unit at stem (64), bn1, bn2 (mid), bn3 (4 mid), projection shortcut
    iieu_channels = 64 + sum(n * 6 * mid + 4 * mid for n, mid in BLOCKS)
    iieu_b = n_params(**VARIANTS['iieu-b'])
    assert iieu_b - plain == 3 * iieu_channels == 79_680  # issue: "≈ 80 k"
    # IIEU-DC: 2C²/16 + 8C + 5C/16 per block with C = 4 mid
    dc = sum(n * (2 * (4 * m)**2 // 16 + 8 * 4 * m + 5 * 4 * m // 16) for n, m in BLOCKS)
    assert n_params(**VARIANTS['iieu-dc']) - iieu_b == dc == 2_640_496  # "≈ 2.64 M more"
    # AdaShift-B: 2C per unit at stem, bn1, bn2 (mid) and after the add (4 mid)
    assert n_params(**VARIANTS['adashift-b']) - plain == 2 * (
        64 + sum(n * 6 * mid for n, mid in BLOCKS)) == 45_440  # "≈ 45 k"
    ge_minus = n_params(**VARIANTS['ge-theta-'])
    assert ge_minus == plain  # GE-θ⁻ adds none (25.6 M)
    ge_theta = n_params(**VARIANTS['ge-theta']) + FC
    ge_plus = n_params(**VARIANTS['ge-theta+']) + FC
    # paper: 31.2 M and 33.7 M; ours 31.11 M and 33.64 M (kernel = whole map, BN; MLP biases)
    assert abs(ge_theta - 31.2e6) < 0.1e6 and abs(ge_plus - 33.7e6) < 0.1e6
    assert n_params(act_cfg=RELU, attention_cfg=attn('se')) + FC == 28_071_976  # SE: 28.1 M
