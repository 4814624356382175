"""GatedResNet against independent references (torchvision's ResNet), its arguments and errors."""
import pytest
import torch
import torchvision
from mmengine.registry import DefaultScope

import gated_mm  # noqa: F401
from gated_mm.models.activations import AGLU, APA
from gated_mm.models.attention import GatedSE
from gated_mm.models.backbones import GatedBottleneck, GatedResNet

RELU = dict(type='ReLU', inplace=True)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def plain(**kwargs):
    return GatedResNet(act_cfg=RELU, attention_cfg=None, **kwargs)


def randomise_batch_norms(model, seed=0):
    """Non-trivial BN statistics and affine parameters (default BN is the identity in eval
    mode, so a missing or misplaced BN would go unseen)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.rand(c, generator=gen, dtype=torch.float64) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen, dtype=torch.float64) + 0.5)
                m.weight.copy_(torch.rand(c, generator=gen, dtype=torch.float64) + 0.5)
                m.bias.copy_(torch.rand(c, generator=gen, dtype=torch.float64) * 0.4 - 0.2)
    return model


@pytest.mark.parametrize('tv_name,kwargs', [
    ('resnet50', dict(depth=50)),
    ('resnext50_32x4d', dict(depth=50, groups=32, width_per_group=4)),
])
def test_plain_layout_equals_torchvision(tv_name, kwargs):
    """With ReLU and no attention the backbone *is* torchvision's ResNet(-Xt): same keys and
    shapes, strict load of its weights, and every stage's full feature map equal in float64
    with random BN statistics and affine parameters."""
    torch.manual_seed(0)
    ref = randomise_batch_norms(getattr(torchvision.models, tv_name)().double().eval())
    ours = plain(out_indices=(0, 1, 2, 3), **kwargs).double().eval()
    state = {k: v for k, v in ref.state_dict().items() if not k.startswith('fc.')}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in state.items()}
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 96, 80, dtype=torch.float64)
    with torch.no_grad():
        feats = ours(x)
        r = ref.maxpool(ref.relu(ref.bn1(ref.conv1(x))))
        assert [f.shape for f in feats] == [
            (2, 256 * 2**i, -(-96 // 2**(i + 2)), -(-80 // 2**(i + 2))) for i in range(4)]
        for i, f in enumerate(feats):
            r = getattr(ref, f'layer{i + 1}')(r)
            torch.testing.assert_close(f, r, rtol=1e-12, atol=1e-12, msg=f'stage {i + 1}')


def test_parameter_counts_of_se_r50_variants():
    # torchvision ResNet-50 without its fc: 25,557,032 - 2,049,000 = 23,508,032 parameters.
    r50 = 23_508_032
    blocks = [(3, 256), (4, 512), (6, 1024), (3, 2048)]
    se = sum(n * 2 * c * (c // 16) for n, c in blocks)  # two no-bias linears per block
    sigmoid_se = GatedResNet(act_cfg=RELU, attention_cfg=dict(type='GatedSE', ratio=16))
    assert n_params(sigmoid_se) == r50 + se  # 26.02 M: the "SE-R50 ~ 28.1 M" minus the fc
    apa_aglu = GatedResNet()  # default: the APA paper's SE-R50 with APA + AGLU
    layer_norm = sum(n * 2 * c for n, c in blocks)
    n_blocks = sum(n for n, _ in blocks)
    aglu = (1 + 3 * n_blocks) * 2  # stem + bn1, bn2, add of every block; kappa and lambda
    assert n_params(apa_aglu) == r50 + se + layer_norm + 2 * n_blocks + aglu
    assert sum(isinstance(m, AGLU) for m in apa_aglu.modules()) == 1 + 3 * n_blocks
    assert sum(isinstance(m, APA) for m in apa_aglu.modules()) == n_blocks


@pytest.mark.parametrize('size', [(224, 224), (97, 61), (28, 28)])
def test_any_input_size_forward_backward(size):
    torch.manual_seed(0)
    model = GatedResNet(depth=26, base_channels=16, stem_channels=16, out_indices=(0, 1, 2, 3))
    x = torch.randn(2, 3, *size, requires_grad=True)
    outs = model(x)
    h, w = size
    for i, out in enumerate(outs):
        s = 2**(i + 2)
        assert out.shape == (2, 64 * 2**i, -(-h // s), -(-w // s))
    sum(o.sum() for o in outs).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_per_position_and_per_stage_configs():
    model = GatedResNet(
        depth=26, base_channels=8, stem_channels=8,
        act_cfg=dict(stem=dict(type='AGLU'), bn1=RELU, bn2=dict(type='GELU'),
                     add=[RELU, RELU, dict(type='AGLU'), dict(type='AGLU')]),
        attention_cfg=[None, None, dict(type='GatedSE'), dict(type='GatedSE', gate_cfg=dict(
            type='APA'))])
    assert isinstance(model.stem_act, AGLU)
    b1, b3, b4 = model.layer1[0], model.layer3[1], model.layer4[0]
    assert isinstance(b1.act1, torch.nn.ReLU) and isinstance(b1.act2, torch.nn.GELU)
    assert isinstance(b1.act3, torch.nn.Identity) and isinstance(b1.act_add, torch.nn.ReLU)
    assert isinstance(b1.attention, torch.nn.Identity)
    assert isinstance(b3.act_add, AGLU) and isinstance(b3.attention.gate, torch.nn.Sigmoid)
    assert isinstance(b4.attention.gate, APA)
    assert b3.act_add is not model.layer3[0].act_add  # own kappa/lambda per position
    with pytest.raises(ValueError, match=r"unknown position\(s\) \['after_conv9'\]"):
        GatedResNet(act_cfg=dict(after_conv9=RELU))
    with pytest.raises(ValueError, match='attention_cfg list has 2 entries'):
        GatedResNet(attention_cfg=[None, None])


def test_frozen_stages_freeze_gate_parameters_and_norm_eval():
    model = GatedResNet(depth=26, base_channels=8, stem_channels=8, frozen_stages=1,
                        norm_eval=True)
    model.train()
    assert not model.stem_act.kappa.requires_grad
    assert not model.layer1[0].act1.lambda_.requires_grad
    assert not model.layer1[0].attention.gate.kappa.requires_grad
    assert model.layer2[0].act1.kappa.requires_grad
    assert model.layer2[0].attention.gate.lambda_.requires_grad
    assert not model.layer2[0].norm1.training and model.layer2[0].attention.training


def test_zero_init_residual_and_init_weights():
    model = GatedResNet(depth=26, base_channels=8, stem_channels=8)
    model.init_weights()
    assert all((m.norm3.weight == 0).all() for m in model.modules()
               if isinstance(m, GatedBottleneck))


def test_wrong_channel_count_is_a_clear_error():
    model = GatedResNet(depth=26, base_channels=8, stem_channels=8, in_channels=3)
    with pytest.raises(ValueError, match=r'in_channels=3; set in_channels'):
        model(torch.randn(1, 1, 28, 28))


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet'])
def test_registered_names_resolve_in_both_scopes(scope):
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        backbone = registry.build(dict(type='GatedResNet', depth=26, base_channels=8,
                                       stem_channels=8))
        act = registry.build(dict(type='AGLU'))
        gate = registry.build(dict(type='APA'))
        se = registry.build(dict(type='GatedSE', channels=32))
    assert isinstance(backbone, GatedResNet) and isinstance(act, AGLU)
    assert isinstance(gate, APA) and isinstance(se, GatedSE)
    with pytest.raises(KeyError, match='NotAGate'):
        registry.build(dict(type='GatedSE', channels=8, gate_cfg=dict(type='NotAGate')))


@pytest.mark.parametrize('depth', [18, 34])
def test_resnet18_34_basic_blocks_equal_torchvision(depth):
    """depth 18/34 build basic-block ResNets; with ReLU and no attention they are torchvision's
    resnet18/34 (same state-dict keys and shapes; the same features in float64)."""
    torchvision = pytest.importorskip('torchvision')
    from gated_mm.models.backbones import GatedResNet
    from gated_mm.models.backbones.gated_basic_block import GatedBasicBlock
    torch.manual_seed(0)
    ours = GatedResNet(depth=depth, act_cfg=dict(type='ReLU', inplace=True), attention_cfg=None,
                       out_indices=(0, 1, 2, 3)).double().eval()
    ref = getattr(torchvision.models, f'resnet{depth}')().double().eval()
    assert all(isinstance(b, GatedBasicBlock) for b in ours.layer1)
    assert [len(getattr(ours, f'layer{i}')) for i in range(1, 5)] == \
        [len(getattr(ref, f'layer{i}')) for i in range(1, 5)]
    theirs = {k: v for k, v in ref.state_dict().items() if not k.startswith('fc.')}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.items()}
    for m in ref.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    ours.load_state_dict({k: v for k, v in ref.state_dict().items() if not k.startswith('fc.')})
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    feats = ours(x)
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512]
    r = ref.maxpool(ref.relu(ref.bn1(ref.conv1(x))))
    for i, f in enumerate(feats):
        r = getattr(ref, f'layer{i + 1}')(r)
        torch.testing.assert_close(f, r, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match='needs groups=1'):
        GatedResNet(depth=18, groups=2, width_per_group=32)
