"""BatchNorm folding of the gated backbones (inference): same outputs, IIEU-B units kept."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch import nn

import gated_mm  # noqa: F401
from gated_mm.models.backbones import fold_batch_norm

BASE = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', '_base_', 'models')
D = torch.float64


def base_backbone(name):
    return Config.fromfile(osp.join(BASE, name)).model.backbone.to_dict()


def member_cfgs():
    aglu_se = base_backbone('gated-se-resnet50_apa-aglu.py')
    cbam = dict(type='GatedResNet', depth=50, act_cfg=aglu_se['act_cfg'],
                attention_cfg=dict(type='CBAM', ratio=4, style='apa', gate_cfg=dict(type='APA')))
    ge = base_backbone('gated-ge-resnet50_theta.py')
    ge['attention_cfg'] = [dict(a, feat_size=-(-32 // s))
                           for a, s in zip(ge['attention_cfg'], (4, 8, 16, 32))]
    return {
        'plain ReLU': dict(type='GatedResNet', depth=50, act_cfg=dict(type='ReLU')),
        'APA + AGLU SE': aglu_se,
        'IIEU-B': base_backbone('gated-resnet50_iieu-b.py'),
        'IIEU-DC': base_backbone('gated-resnet50_iieu-dc.py'),
        'AdaShift-B': base_backbone('gated-resnet50_adashift-b.py'),
        'AdaShift-MA': base_backbone('gated-resnet50_adashift-ma.py'),
        'CBAM APA + AGLU': cbam,
        'GE-theta': ge,
        'R18 APA + AGLU SE': dict(aglu_se, depth=18),
        'R50 avg_down deep shortcut': dict(aglu_se, avg_down=True),
    }


def randomise_norms(model, seed=0):
    """Non-trivial running statistics and affine parameters (folding the init is a no-op)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)


def build(cfg, width=8):
    from mmpretrain.registry import MODELS
    cfg = dict(cfg, base_channels=width, stem_channels=width)
    cfg.pop('init_cfg', None)
    torch.manual_seed(0)
    model = MODELS.build(cfg).to(D)
    randomise_norms(model)
    return model.eval()


def max_rel(a, b):
    return max(float((x - y).abs().max() / y.abs().max()) for x, y in zip(a, b))


@pytest.mark.parametrize('name', list(member_cfgs()))
def test_folded_equals_unfolded_float64(name, device):
    model = build(member_cfgs()[name]).to(device)
    x = torch.randn(2, 3, 32, 32, dtype=D, device=device)
    with torch.no_grad():
        ref = model(x)
        report = fold_batch_norm(model)
        out = model(x)
    assert report.folded or name.startswith('IIEU'), name  # IIEU-B at every conv
    assert max_rel(out, ref) < 1e-12, (name, max_rel(out, ref))
    # every backbone unit was folded except those whose activation reads the conv (IIEU-B)
    kept = {reason for _, reason in report.kept}
    if name.startswith('IIEU'):
        assert report.kept and kept == {'IIEU reads the conv weights'}, kept
    else:
        assert not report.kept, report.kept
    # the BatchNorms left are the kept units' and those inside attention/coupler modules
    left = {n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    assert {n for n, _ in report.kept} <= left
    assert all(n in {k for k, _ in report.kept} or '.attention.' in n or '.merge.' in n
               for n in left), sorted(left)[:5]


def test_fold_matches_the_closed_form():
    """W' = W·γ/sqrt(σ²+ε), b' = (0 − μ)·γ/sqrt(σ²+ε) + β (Ioffe & Szegedy 2015, Alg. 2),
    transcribed here independently of PyTorch's fuse_conv_bn_eval."""
    model = build(dict(type='GatedResNet', depth=18, act_cfg=dict(type='AGLU')))
    conv, bn = model.conv1, model.norm1
    w, mean, var, gamma, beta = (t.detach().clone() for t in (
        conv.weight, bn.running_mean, bn.running_var, bn.weight, bn.bias))
    fold_batch_norm(model)
    scale = gamma / torch.sqrt(var + bn.eps)
    torch.testing.assert_close(model.conv1.weight, w * scale.view(-1, 1, 1, 1), rtol=1e-14,
                               atol=0)
    torch.testing.assert_close(model.conv1.bias, beta - mean * scale, rtol=1e-14, atol=1e-15)
    assert isinstance(model.norm1, nn.Identity)
    assert 'conv1.weight' in model.state_dict() and 'conv1.bias' in model.state_dict()


def test_training_mode_is_refused_and_folding_twice_is_a_no_op():
    model = build(member_cfgs()['APA + AGLU SE'])
    model.train()
    with pytest.raises(ValueError, match='training mode.*model.eval'):
        fold_batch_norm(model)
    model.eval()
    first = fold_batch_norm(model)
    again = fold_batch_norm(model)
    assert first.folded and not again.folded and not again.kept
    assert 'folded' in first.summary()


def test_iieu_b_keeps_its_norm_and_its_conv():
    model = build(base_backbone('gated-resnet50_iieu-b.py'))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    report = fold_batch_norm(model)
    params = dict(model.named_parameters())
    assert report.kept and not report.folded
    for norm_name, _ in report.kept:
        assert isinstance(model.get_submodule(norm_name), nn.BatchNorm2d), norm_name
        prefix, last = norm_name.rpartition('.')[::2]
        conv = last.replace('bn', 'conv') if last.startswith('bn') else str(int(last) - 1)
        weight = '.'.join(filter(None, (prefix, conv, 'weight')))
        # a kept unit's conv is unchanged: IIEU-B reads its weights
        torch.testing.assert_close(params[weight], before[weight], rtol=0, atol=0)


def test_subtrees_without_gated_units_fold_with_mmcv(device):
    """An mmpretrain ResNet (a baseline) and a conv → BN neck next to a gated IIEU-B
    backbone: the plain parts fold (mmcv.cnn.fuse_conv_bn), the IIEU-B units keep theirs."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    plain = MODELS.build(dict(type='ResNet', depth=18, base_channels=8, stem_channels=8,
                              out_indices=(3, ))).to(device, D)
    randomise_norms(plain)
    plain.eval()
    x = torch.randn(2, 3, 32, 32, dtype=D, device=device)
    with torch.no_grad():
        ref = plain(x)
        report = fold_batch_norm(plain)
        out = plain(x)
    assert len(report.folded) == 20 and not report.kept  # stem + 2 per block + 3 shortcuts
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert max_rel(out, ref) < 1e-12

    gated = build(base_backbone('gated-resnet50_iieu-b.py'))
    neck = nn.Sequential(nn.Conv2d(256, 8, 1), nn.BatchNorm2d(8))
    randomise_norms(neck)
    model = nn.ModuleDict(dict(backbone=gated, neck=neck)).to(device).eval()
    report = fold_batch_norm(model)
    assert report.folded == ['neck.1'] and report.kept
    assert all(n.startswith('backbone.') for n, _ in report.kept)
