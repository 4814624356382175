"""GatedCifarResNet / GatedBasicBlock against independent references: the parameter counts of
He et al.'s CIFAR ResNets (by formula), option-A shortcuts and the basic-block wiring computed
by hand, SE and AGLU placement of the APA paper's se_resnet32, and the CIFAR-100-LT config
through the full classifier."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

import gated_mm  # noqa: F401
from gated_mm.models.activations import AGLU, APA
from gated_mm.models.attention import GatedSE
from gated_mm.models.backbones import (GatedBasicBlock, GatedCifarResNet, GatedResNet,
                                       ZeroPadShortcut)

ROOT = Path(__file__).resolve().parents[3]
CIFAR_CFG = ROOT / 'configs/cifar100_lt/gated-se-resnet32_apa-aglu_1xb512-500e_cifar100-lt-r100.py'
RELU = dict(type='ReLU', inplace=True)
AGLU_CFG = dict(type='AGLU', kappa_init=(0.8, 1.2), lambda_init=(0.0, 1.0))
APA_SE4 = dict(type='GatedSE', ratio=4, layer_norm=True, dropout=0.1,
               gate_cfg=dict(type='APA', kappa_init=(-1.0, 0.0), lambda_init=(0.0, 1.0)))
WIDTHS = (16, 32, 64)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def plain(**kwargs):
    return GatedCifarResNet(act_cfg=RELU, attention_cfg=None, **kwargs)


def cifar_resnet_params(depth, num_classes=10):
    """He et al.'s CIFAR ResNet by formula: 3×3 stem conv + BN, 3 stages of n = (depth-2)/6
    basic blocks (two 3×3 convs, two BNs), option-A shortcuts (no parameters), linear fc."""
    n = (depth - 2) // 6
    total, c_in = 3 * 16 * 9 + 2 * 16, 16
    for c in WIDTHS:
        for _ in range(n):
            total += c_in * c * 9 + c * c * 9 + 2 * (2 * c)
            c_in = c
    return total + 64 * num_classes + num_classes


# He et al. 2016, Table 6 (CIFAR-10): 0.27 M, 0.46 M, 0.66 M, 0.85 M, 1.7 M
@pytest.mark.parametrize('depth,millions,digits', [(20, 0.27, 2), (32, 0.46, 2), (44, 0.66, 2),
                                                   (56, 0.85, 2), (110, 1.7, 1)])
def test_plain_parameter_counts_equal_he_et_al(depth, millions, digits):
    model = plain(depth=depth)
    with_fc = n_params(model) + 64 * 10 + 10
    assert with_fc == cifar_resnet_params(depth)
    assert round(with_fc / 1e6, digits) == millions
    assert len(model.layer1) == len(model.layer3) == (depth - 2) // 6
    assert not hasattr(model, 'layer4')


def test_resnet32_exact_count_and_option_b():
    assert n_params(plain(depth=32)) + 650 == 464_154  # the well-known 0.46 M ResNet-32
    proj = sum(c // 2 * c + 2 * c for c in (32, 64))  # 1×1/2 conv + BN at stages 2 and 3
    assert n_params(plain(depth=32, shortcut='B')) == n_params(plain(depth=32)) + proj
    downsample = plain(depth=20, shortcut='B').layer2[0].downsample
    assert isinstance(downsample[0], torch.nn.Conv2d) and downsample[0].stride == (2, 2)


@pytest.mark.parametrize('size', [(32, 32), (27, 31)])
def test_output_shapes(size):
    model = GatedCifarResNet(depth=20, out_indices=(0, 1, 2)).eval()
    h, w = size
    with torch.no_grad():
        outs = model(torch.randn(2, 3, h, w))
    assert [tuple(o.shape) for o in outs] == [(2, 16 * 2**i, -(-h // 2**i), -(-w // 2**i))
                                              for i in range(3)]
    assert plain(depth=32)(torch.randn(2, 3, h, w))[0].shape == (2, 64, -(-h // 4), -(-w // 4))


def zero_pad_subsample(x, c_out):
    """Option A by hand: every other pixel, the input channels in the middle of c_out zeros
    (the public code pads c_out // 4 on each side for c_out = 2 c_in)."""
    n, c_in, h, w = x.shape
    out = torch.zeros(n, c_out, (h + 1) // 2, (w + 1) // 2, dtype=x.dtype)
    lo = (c_out - c_in) // 2
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, lo:lo + c_in, i, j] = x[:, :, 2 * i, 2 * j]
    return out


@pytest.mark.parametrize('size', [(8, 8), (7, 9)])
def test_option_a_shortcut_is_zero_padded_subsampling(size):
    x = torch.randn(2, 16, *size)
    got = ZeroPadShortcut(16, 32, stride=2)(x)
    torch.testing.assert_close(got, zero_pad_subsample(x, 32), rtol=0, atol=0)
    assert got[:, :8].abs().sum() == 0 and got[:, 24:].abs().sum() == 0
    assert n_params(ZeroPadShortcut(16, 32, 2)) == 0
    with pytest.raises(ValueError, match='out_channels >= in_channels'):
        ZeroPadShortcut(32, 16, 2)


@pytest.mark.parametrize('act_cfg,attention_cfg', [(RELU, None), (AGLU_CFG, APA_SE4)],
                         ids=['plain', 'se-apa-aglu'])
def test_downsampling_block_equals_hand_computation(act_cfg, attention_cfg):
    """act[add](SE(bn2(conv2(act[bn1](bn1(conv1/2(x)))))) + optionA(x)); SE sits after bn2,
    before the add; nothing after bn2 by default."""
    torch.manual_seed(0)
    model = GatedCifarResNet(depth=20, act_cfg=act_cfg, attention_cfg=attention_cfg).eval()
    blk = model.layer2[0]
    for bn in (blk.bn1, blk.bn2):  # non-trivial running statistics and affine parameters
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(2, 16, 9, 7)

    def bn(t, m):
        return F.batch_norm(t, m.running_mean, m.running_var, m.weight, m.bias, False, 0., m.eps)

    relu_or = (lambda m: torch.relu) if act_cfg is RELU else (lambda m: m)
    with torch.no_grad():
        y = relu_or(blk.act1)(bn(F.conv2d(x, blk.conv1.weight, stride=2, padding=1), blk.bn1))
        y = bn(F.conv2d(y, blk.conv2.weight, padding=1), blk.bn2)
        if attention_cfg is not None:
            y = blk.attention(y)
        want = relu_or(blk.act_add)(y + zero_pad_subsample(x, 32))
        got = blk(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert isinstance(blk.act2, torch.nn.Identity)


def test_se_and_aglu_placement_of_the_apa_se_resnet32():
    model = GatedCifarResNet(depth=32, act_cfg=AGLU_CFG, attention_cfg=APA_SE4)
    blocks = [b for layer in (model.layer1, model.layer2, model.layer3) for b in layer]
    assert len(blocks) == 15 and all(isinstance(b, GatedBasicBlock) for b in blocks)
    for i, layer in enumerate((model.layer1, model.layer2, model.layer3)):
        for b in layer:
            c = WIDTHS[i]
            se = b.attention
            assert isinstance(se, GatedSE) and se.channels == c and b.out_channels == c
            assert se.fc1.out_features == c // 4 and isinstance(se.gate, APA)
            assert isinstance(se.norm, torch.nn.LayerNorm) and se.dropout.p == 0.1
            assert isinstance(b.act1, AGLU) and isinstance(b.act_add, AGLU)
            assert isinstance(b.act2, torch.nn.Identity)
            assert isinstance(b.act_shortcut, torch.nn.Identity)
    assert isinstance(model.stem_act, AGLU)
    aglus = [m for m in model.modules() if isinstance(m, AGLU)]
    assert len(aglus) == 1 + 2 * 15
    assert sum(isinstance(m, APA) and not isinstance(m, AGLU) for m in model.modules()) == 15
    # every position its own kappa and lambda
    params = [p for m in aglus for p in (m.kappa, m.lambda_)]
    assert len({id(p) for p in params}) == len(params) == 2 * 31
    assert len({m.kappa.item() for m in aglus}) > 1  # drawn per module from U(0.8, 1.2)
    se = sum(2 * c * (c // 4) for c in WIDTHS) * 5  # two no-bias linears per block
    ln = sum(2 * c for c in WIDTHS) * 5
    assert n_params(model) == n_params(plain(depth=32)) + se + ln + 2 * 15 + 2 * 31
    assert n_params(model) == 478_156


def test_per_position_and_per_stage_act_configs():
    model = GatedCifarResNet(
        depth=20, attention_cfg=[None, APA_SE4, None],
        act_cfg=dict(stem=RELU, bn1=dict(type='AGLU'), bn2=[None, dict(type='GELU'), None],
                     add=[RELU, RELU, dict(type='AGLU')]))
    assert isinstance(model.stem_act, torch.nn.ReLU)
    assert isinstance(model.layer1[0].act1, AGLU) and model.layer1[0].act1 is not \
        model.layer1[1].act1
    assert isinstance(model.layer1[0].act2, torch.nn.Identity)
    assert isinstance(model.layer2[2].act2, torch.nn.GELU)
    assert isinstance(model.layer3[0].act_add, AGLU) and isinstance(model.layer2[0].act_add,
                                                                     torch.nn.ReLU)
    assert isinstance(model.layer1[0].attention, torch.nn.Identity)
    assert isinstance(model.layer2[1].attention, GatedSE)
    with pytest.raises(ValueError, match=r"unknown position\(s\) \['bn3'\]"):
        GatedCifarResNet(act_cfg=dict(bn3=RELU))
    with pytest.raises(ValueError, match='attention_cfg list has 4 entries'):
        GatedCifarResNet(attention_cfg=[None] * 4)


@pytest.mark.parametrize('depth', [33, 2, 30])
def test_bad_depth_is_a_one_line_error(depth):
    with pytest.raises(ValueError, match=rf'^GatedCifarResNet: depth must be 6n\+2 \(20, 32, 44, '
                                         rf'56, 110\), got {depth}$'):
        GatedCifarResNet(depth=depth)
    with pytest.raises(ValueError, match="shortcut must be 'A' or 'B'"):
        GatedCifarResNet(shortcut='C')



@pytest.mark.parametrize('key,value', [('num_stages', 4), ('strides', (1, 2, 2, 2)),
                                       ('stem_type', 'imagenet'), ('dilations', (1, 1, 2))])
def test_layout_is_fixed_and_other_arguments_reach_gated_resnet(key, value):
    """Only the defaults are GatedCifarResNet's own: a layout argument is a one-line error,
    every other GatedResNet argument is passed on (groups checked there, norm_cfg used)."""
    with pytest.raises(ValueError, match=rf'^GatedCifarResNet: {key} fixed by the CIFAR layout'):
        GatedCifarResNet(depth=20, **{key: value})
    with pytest.raises(ValueError, match=r'needs groups=1 \(no ResNeXt basic block\), got 32'):
        GatedCifarResNet(depth=20, groups=32)
    gn = GatedCifarResNet(depth=20, norm_cfg=dict(type='GN', num_groups=4), in_channels=1)
    norms = [m for m in gn.modules() if isinstance(m, (torch.nn.GroupNorm, torch.nn.BatchNorm2d))]
    assert norms and all(isinstance(m, torch.nn.GroupNorm) for m in norms)
    assert gn.conv1.in_channels == 1
    assert (gn.num_stages, gn.stem_type, type(gn.maxpool)) == (3, 'cifar', torch.nn.Identity)

def test_frozen_stages_freeze_gate_parameters_and_norm_eval():
    model = GatedCifarResNet(depth=20, frozen_stages=1, norm_eval=True)
    model.train()
    assert not model.stem_act.kappa.requires_grad and not model.conv1.weight.requires_grad
    assert not model.layer1[0].act1.lambda_.requires_grad
    assert not model.layer1[2].act_add.kappa.requires_grad
    assert not model.layer1[0].attention.gate.kappa.requires_grad
    assert model.layer2[0].act1.kappa.requires_grad
    assert model.layer2[0].attention.gate.lambda_.requires_grad
    assert not model.layer1[0].training and not model.layer2[0].bn1.training
    assert model.layer2[0].attention.training


def test_forward_backward_every_parameter_gets_a_finite_gradient():
    torch.manual_seed(0)
    model = GatedCifarResNet(depth=20, act_cfg=AGLU_CFG, attention_cfg=APA_SE4)
    model.init_weights()
    out = model(torch.randn(2, 3, 27, 31))[0]
    (out * torch.randn_like(out)).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_with_cp_and_init():
    torch.manual_seed(0)
    a = GatedCifarResNet(depth=20).eval()
    a.init_weights()
    b = GatedCifarResNet(depth=20, with_cp=True).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    torch.testing.assert_close(a(x)[0], b(x)[0])
    b(x)[0].sum().backward()
    assert x.grad is not None
    assert (a.layer1[0].bn2.weight == 1).all()  # no zero-init by default (He et al.)
    z = GatedCifarResNet(depth=20, zero_init_residual=True)
    z.init_weights()
    assert all((blk.bn2.weight == 0).all() for layer in (z.layer1, z.layer2, z.layer3)
               for blk in layer)


def test_option_a_in_bottleneck_gated_resnet():
    a = GatedResNet(depth=26, base_channels=8, stem_channels=8, shortcut='A',
                    out_indices=(0, 1, 2, 3))
    b = GatedResNet(depth=26, base_channels=8, stem_channels=8, out_indices=(0, 1, 2, 3))
    proj = sum(c_in * c + 2 * c for c_in, c in [(8, 32), (32, 64), (64, 128), (128, 256)])
    assert n_params(b) - n_params(a) == proj
    outs = a(torch.randn(1, 3, 45, 37))
    assert [o.shape[1] for o in outs] == [32, 64, 128, 256]
    assert isinstance(a.layer1[0].downsample, ZeroPadShortcut)


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet'])
def test_registered_in_both_scopes(scope):
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        backbone = registry.build(dict(type='GatedCifarResNet', depth=20))
    assert isinstance(backbone, GatedCifarResNet) and isinstance(backbone, GatedResNet)


def test_cifar100_lt_config_builds_and_runs_the_classifier():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(CIFAR_CFG)
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    bb = model.backbone
    assert isinstance(bb, GatedCifarResNet) and n_params(bb) == 478_156
    assert isinstance(bb.layer3[4].attention.gate, APA) and bb.layer3[4].attention.channels == 64
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    samples = [DataSample().set_gt_label(label) for label in (3, 97)]
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=images, data_samples=samples), False)
        assert data['inputs'].shape == (2, 3, 32, 32)
        logits = model(data['inputs'], mode='tensor')
    assert logits.shape == (2, 100) and torch.isfinite(logits).all()
    model.train()  # one training loss with the config's mixup, backward through everything
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), True)
    losses = model(**data, mode='loss')
    loss = sum(v for v in losses.values())
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in bb.parameters())
