"""tools/dataset_converters/convert_apa_checkpoint.py: a public-layout SE-ResNet written here
from the APA paper's equations (module names as the public code: relu / unirect1-3 with
lambda_param, kappa_param; se.norm, se.excitation.0/2, se.uniact; fc cosine classifier) is
saved as {'model': state_dict, 'args': ...}, converted, loaded strictly into the gated_mm
classifier, and both give the same logits on a real photo (a COCO image from the data
directory, ``GATED_MM_DATA``). SE and CBAM / spatial-attention variants (the public
``classification/cbam.py`` layout)."""
import argparse
import glob
import importlib.util
import os
import os.path as osp

import numpy as np
import pytest
import torch
from torch import nn

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = os.environ.get('GATED_MM_DATA', osp.join(REPO, '..', 'shared', 'data'))
spec = importlib.util.spec_from_file_location(
    'convert_apa_checkpoint', osp.join(REPO, 'tools', 'dataset_converters',
                                       'convert_apa_checkpoint.py'))
conv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conv)


# ------------------------------------------------ reference model, from the equations
class RefAPA(nn.Module):
    """Public 'Unified' gate: (lambda * exp(-kappa z) + 1) ** (-1 / lambda), lambda >= 1e-4."""

    def __init__(self):
        super().__init__()
        self.lambda_param = nn.Parameter(torch.rand(1) * 0.9 + 0.1)
        self.kappa_param = nn.Parameter(torch.rand(1) * 2 - 1)

    def forward(self, z):
        lam = self.lambda_param.clamp(min=1e-4)
        return (lam * torch.exp(-self.kappa_param * z) + 1) ** (-1 / lam)


class RefAGLU(RefAPA):
    """Public 'UniRect': z * (l exp(-kappa z) + 1) ** (-1 / l), l = relu(lambda) + 1e-8."""

    def forward(self, z):
        lam = torch.relu(self.lambda_param) + 1e-8
        return z * (lam * torch.exp(-self.kappa_param * z) + 1) ** (-1 / lam)


class RefSE(nn.Module):

    def __init__(self, c, r=16, apa=True):
        super().__init__()
        self.apa = apa
        layers = [nn.Linear(c, c // r, bias=False), nn.ReLU(), nn.Linear(c // r, c, bias=False)]
        if apa:
            self.norm = nn.LayerNorm(c)
            self.uniact = RefAPA()
            layers.append(nn.Dropout(0.1))
        self.excitation = nn.Sequential(*layers)

    def forward(self, x):
        y = x.mean(dim=(2, 3))
        y = self.excitation(self.norm(y) if self.apa else y)
        y = self.uniact(y) if self.apa else torch.sigmoid(y)
        return x * y[:, :, None, None]


class RefChannelGate(nn.Module):
    """CBAM channel attention, APA-code layout: LN on avg- and max-pooled vectors, shared
    MLP (bias) C → C/r → C, Dropout (identity in eval), sum, gate. Names: norm, mlp.1/.3,
    uniact (mlp.0 is the parameter-free flatten, mlp.2 the ReLU)."""

    def __init__(self, c, r, apa):
        super().__init__()
        self.norm = nn.LayerNorm(c)
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(c, c // r), nn.ReLU(),
                                 nn.Linear(c // r, c), nn.Dropout(0.1))
        if apa:
            self.uniact = RefAPA()

    def forward(self, x):
        s = sum(self.mlp(self.norm(p)) for p in (x.mean(dim=(2, 3)), x.amax(dim=(2, 3))))
        g = self.uniact(s) if hasattr(self, 'uniact') else torch.sigmoid(s)
        return x * g[:, :, None, None]


class RefSpatialGate(nn.Module):
    """CBAM spatial attention: [max_C; mean_C] → conv 7×7 (no bias) → BN → gate."""

    def __init__(self, apa):
        super().__init__()
        self.spatial = nn.Module()
        self.spatial.conv = nn.Conv2d(2, 1, 7, padding=3, bias=False)
        self.spatial.bn = nn.BatchNorm2d(1, momentum=0.01)
        if apa:
            self.uniact = RefAPA()

    def forward(self, x):
        s = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        s = self.spatial.bn(self.spatial.conv(s))
        return x * (self.uniact(s) if hasattr(self, 'uniact') else torch.sigmoid(s))


class RefCBAM(nn.Module):

    def __init__(self, c, r, apa_channel, apa_spatial, channel=True):
        super().__init__()
        if channel:
            self.ChannelGate = RefChannelGate(c, r, apa_channel)
        self.SpatialGate = RefSpatialGate(apa_spatial)

    def forward(self, x):
        if hasattr(self, 'ChannelGate'):
            x = self.ChannelGate(x)
        return self.SpatialGate(x)


class RefBlock(nn.Module):

    def __init__(self, inplanes, planes, stride, groups, base_width, apa, aglu, attention='se'):
        super().__init__()
        width = int(planes * (base_width / 64.)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.aglu = aglu
        if aglu:
            self.unirect1, self.unirect2, self.unirect3 = RefAGLU(), RefAGLU(), RefAGLU()
        if attention == 'se':
            self.se = RefSE(planes * 4, 16, apa)
        else:  # 'cbam' (channel + spatial), 'cbam-sig' (APA channel, Sigmoid spatial), 'spatial'
            self.cbam = RefCBAM(planes * 4, 16, apa, apa and attention != 'cbam-sig',
                                channel=attention != 'spatial')
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        act = (lambda m, z: m(z)) if self.aglu else (lambda m, z: torch.relu(z))
        out = act(getattr(self, 'unirect1', None), self.bn1(self.conv1(x)))
        out = act(getattr(self, 'unirect2', None), self.bn2(self.conv2(out)))
        att = self.se if hasattr(self, 'se') else self.cbam
        out = att(self.bn3(self.conv3(out)))
        out = out + (x if self.downsample is None else self.downsample(x))
        return act(getattr(self, 'unirect3', None), out)


class RefNet(nn.Module):
    """torchvision-style SE-ResNet(-Xt) with the public module names; cosine fc (scale 16)."""

    def __init__(self, layers=(3, 4, 6, 3), base=64, groups=1, base_width=64, apa=True, aglu=True,
                 num_classes=10, head='cosine', attention='se'):
        super().__init__()
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.aglu = aglu
        if aglu:
            self.relu = RefAGLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = base
        for i, n in enumerate(layers):
            blocks = []
            for j in range(n):
                blocks.append(RefBlock(inplanes, base * 2**i, (1 if i == 0 else 2) if j == 0 else 1,
                                       groups, base_width, apa, aglu, attention))
                inplanes = base * 2**i * 4
            setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
        self.head = head
        self.fc = nn.Linear(inplanes, num_classes, bias=head == 'linear')

    def forward(self, x):
        x = self.bn1(self.conv1(x))
        x = self.maxpool(self.relu(x) if self.aglu else torch.relu(x))
        for i in range(1, 5):
            x = getattr(self, f'layer{i}')(x)
        x = x.mean(dim=(2, 3))
        if self.head == 'linear':
            return self.fc(x)
        nx = x.norm(dim=1, keepdim=True)
        ex = (nx / (1 + nx)) * (x / nx)
        return 16 * ex @ (self.fc.weight / self.fc.weight.norm(dim=1, keepdim=True)).t()


def randomize_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


def real_image(size=64):
    from PIL import Image
    files = sorted(glob.glob(osp.join(DATA, 'coco-mini', 'val2017', '*.jpg')))
    if not files:
        pytest.skip(f'no real image under {DATA}/coco-mini/val2017')
    img = Image.open(files[0]).convert('RGB').resize((size, size), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(img, dtype=np.float64)).permute(2, 0, 1)[None]
    mean = torch.tensor([123.675, 116.28, 103.53], dtype=torch.float64)[None, :, None, None]
    std = torch.tensor([58.395, 57.12, 57.375], dtype=torch.float64)[None, :, None, None]
    return (x - mean) / std


def save_public(model, path):
    torch.save({'model': {f'module.{k}': v for k, v in model.state_dict().items()},
                'epoch': 199, 'args': argparse.Namespace(classif_norm='cosine')}, path)


KINDS = {  # public models at 1/4 width
    'se-r50-apa-aglu': dict(),
    'se-x50-sigmoid-relu-linear': dict(groups=4, base_width=16, apa=False, aglu=False,
                                       head='linear'),
    'cbam-r50-apa-aglu': dict(attention='cbam'),  # cb_resnet50 / CBAMBottleneckGumbel
    'cbam-r50-apa-sig-aglu': dict(attention='cbam-sig'),  # CBAMBottleneckGumbelSigmoid
    'cbam-r50-sigmoid-relu': dict(attention='cbam', apa=False, aglu=False),  # CBAMBottleneck
    'spatial-x50-apa-aglu': dict(attention='spatial', groups=4, base_width=16),  # sp_resnext50
    'spatial-r50-sigmoid-relu': dict(attention='spatial', apa=False, aglu=False),
}


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_converted_classifier_gives_the_same_logits(tmp_path, kind):
    torch.manual_seed(0)
    ref = RefNet(base=16, **{**dict(apa=True, aglu=True), **KINDS[kind]})
    ref = randomize_bn(ref).double().eval()
    src, dst = tmp_path / 'public.pth', tmp_path / 'converted.pth'
    save_public(ref, src)
    conv.main([str(src), str(dst)])
    out = torch.load(dst, map_location='cpu', weights_only=False)
    model = conv.verify(out['state_dict'], out['meta']['model_cfg'], False).double().eval()
    bb = out['meta']['model_cfg']['backbone']
    assert bb['depth'] == 50 and bb.get('groups', 1) == KINDS[kind].get('groups', 1)
    if 'attention' in KINDS[kind]:
        att = bb['attention_cfg']
        assert att['type'] == 'CBAM' and att['style'] == 'apa'
        assert att['mode'] == ('spatial' if kind.startswith('spatial') else 'both')
    x = real_image()
    with torch.no_grad():
        expected = ref(x)
        got = model.head(model.neck(model.backbone(x)))
    assert got.shape == (1, 10)
    # float64; the two APA forms (direct power vs log-space) differ only by rounding
    torch.testing.assert_close(got, expected, rtol=1e-7, atol=1e-8)


def test_backbone_only_and_full_size_key_layout(tmp_path):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import gated_mm  # noqa: F401
    ref = RefNet(num_classes=1000)  # full SE-R50 APA + AGLU (public layout), no forward
    src, dst = tmp_path / 'public.pth', tmp_path / 'backbone.pth'
    save_public(ref, src)
    conv.main([str(src), str(dst), '--backbone-only'])
    state = torch.load(dst, map_location='cpu', weights_only=False)['state_dict']
    assert not any(k.startswith(('backbone.', 'head.', 'fc')) for k in state)
    init_default_scope('mmpretrain')
    # the repository's default GatedResNet (the paper's SE-R50) takes it strictly, and through
    # init_cfg as a detector would
    backbone = MODELS.build(dict(type='GatedResNet', init_cfg=dict(type='Pretrained',
                                                                   checkpoint=str(dst))))
    backbone.load_state_dict(state, strict=True)
    backbone.init_weights()
    torch.testing.assert_close(backbone.layer3[2].attention.gate.kappa,
                               ref.layer3[2].se.uniact.kappa_param)
    torch.testing.assert_close(backbone.stem_act.lambda_, ref.relu.lambda_param)


def test_errors_are_one_line_and_name_the_key(tmp_path):
    assert conv.map_key('layer1.0.cbam.ChannelGate.mlp.1.weight') == \
        'backbone.layer1.0.attention.fc1.weight'
    with pytest.raises(conv.ConversionError, match='layer1.0.cbam.ChannelGate.mlp.4.p: unknown '
                       'CBAM parameter'):
        conv.map_key('layer1.0.cbam.ChannelGate.mlp.4.p')
    with pytest.raises(conv.ConversionError, match="no 'model' entry"):
        conv.public_state_dict({'state_dict': {}, 'meta': 1}, src='x.pth')
    bad = tmp_path / 'bad.pth'
    torch.save({'model': {'layer1.0.weird.weight': torch.zeros(1)}}, bad)
    with pytest.raises(SystemExit, match='layer1.0.weird.weight: unknown block parameter'):
        conv.main([str(bad), str(tmp_path / 'o.pth')])
    with pytest.raises(SystemExit, match='source checkpoint not found'):
        conv.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'o.pth')])


# ------------------------------------------------ CIFAR ResNet_s (public resnet_cifar.py layout)
class RefCifarSE(nn.Module):
    """CIFAR SE (r = 4): APA variant LN → fc → ReLU → fc → Dropout → APA ('unact')."""

    def __init__(self, c, apa):
        super().__init__()
        self.apa = apa
        layers = [nn.Linear(c, c // 4, bias=False), nn.ReLU(), nn.Linear(c // 4, c, bias=False)]
        if apa:
            self.unact = RefAPA()
            self.norm = nn.LayerNorm(c)
            layers.append(nn.Dropout(0.1))
        self.excitation = nn.Sequential(*layers)

    def forward(self, x):
        y = x.mean(dim=(2, 3))
        y = self.excitation(self.norm(y) if self.apa else y)
        return x * (self.unact(y) if self.apa else torch.sigmoid(y))[:, :, None, None]


class RefCifarBlock(nn.Module):
    """Basic block, option-A shortcut (stride-2 subsample, pad planes/4 channels each side)."""

    def __init__(self, in_planes, planes, stride, apa, aglu, se):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if se:
            self.se = RefCifarSE(planes, apa)
        if aglu:
            self.unirect1, self.unirect2 = RefAGLU(), RefAGLU()
        self.aglu = aglu
        self.pad = planes // 4 if (stride != 1 or in_planes != planes) else None

    def forward(self, x):
        act1 = self.unirect1 if self.aglu else torch.relu
        act2 = self.unirect2 if self.aglu else torch.relu
        out = self.bn2(self.conv2(act1(self.bn1(self.conv1(x)))))
        if hasattr(self, 'se'):
            out = self.se(out)
        sc = x if self.pad is None else nn.functional.pad(x[:, :, ::2, ::2],
                                                          (0, 0, 0, 0, self.pad, self.pad))
        return act2(out + sc)


class RefCifarNet(nn.Module):

    def __init__(self, n=5, apa=True, aglu=True, se=True, head='cosine', num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        if aglu:
            self.unirect = RefAGLU()
        self.aglu = aglu
        in_planes = 16
        for i, planes in enumerate((16, 32, 64)):
            blocks = []
            for j in range(n):
                blocks.append(RefCifarBlock(in_planes, planes, 2 if (i and not j) else 1, apa,
                                            aglu, se))
                in_planes = planes
            setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
        self.head = head
        self.linear = nn.Linear(64, num_classes, bias=head == 'linear')

    def forward(self, x):
        x = self.bn1(self.conv1(x))
        x = self.unirect(x) if self.aglu else torch.relu(x)
        x = self.layer3(self.layer2(self.layer1(x))).mean(dim=(2, 3))
        if self.head == 'linear':
            return self.linear(x)
        nx = x.norm(dim=1, keepdim=True)
        w = self.linear.weight
        return 16 * ((nx / (1 + nx)) * (x / nx)) @ (w / w.norm(dim=1, keepdim=True)).t()


@pytest.mark.parametrize('kind', ['se-resnet32-apa-aglu-cosine', 'resnet32-relu-linear',
                                  'se-resnet20-sigmoid-relu-linear'])
def test_converted_cifar_resnet_gives_the_same_logits(tmp_path, kind):
    torch.manual_seed(0)
    args = {'se-resnet32-apa-aglu-cosine': dict(),
            'resnet32-relu-linear': dict(apa=False, aglu=False, se=False, head='linear'),
            'se-resnet20-sigmoid-relu-linear': dict(n=3, apa=False, aglu=False, head='linear')}
    ref = randomize_bn(RefCifarNet(num_classes=100, **args[kind])).double().eval()
    src, dst = tmp_path / 'public.pth', tmp_path / 'converted.pth'
    save_public(ref, src)
    conv.main([str(src), str(dst)])
    out = torch.load(dst, map_location='cpu', weights_only=False)
    bb = out['meta']['model_cfg']['backbone']
    assert bb['type'] == 'GatedCifarResNet' and bb['depth'] == (20 if 'resnet20' in kind else 32)
    model = conv.verify(out['state_dict'], out['meta']['model_cfg'], False).double().eval()
    x = real_image(32)
    with torch.no_grad():
        expected = ref(x)
        got = model.head(model.neck(model.backbone(x)))
    assert got.shape == (1, 100)
    torch.testing.assert_close(got, expected, rtol=1e-7, atol=1e-8)
    with pytest.raises(conv.ConversionError, match='layer2.0.shortcut.0.weight: option-B'):
        conv.map_cifar_key('layer2.0.shortcut.0.weight')



def test_public_aglu_lambda_is_shifted_not_floored_as_the_docstring_says():
    """The converter's docstring: the public UniRect computes with relu(λ) + 1e-8 everywhere
    (RefAGLU, transcribed), gated_mm's AGLU with max(λ, 1e-4); outputs differ by ≤ 3.2e-9
    (|z| ≤ 10, κ = 1, λ = 1, float64) and by up to 2.5e-5 for λ < 1e-4; the warning says so."""
    from gated_mm.models.activations import AGLU
    z = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    ref, ours = RefAGLU().double(), AGLU().double()

    def max_diff(lam):
        with torch.no_grad():
            ref.lambda_param.fill_(lam)
            ours.lambda_.fill_(lam)
            ref.kappa_param.fill_(1.0)
            ours.kappa.fill_(1.0)
            return (ref(z) - ours(z)).abs().max().item()

    assert 1e-10 < max_diff(1.0) <= 3.2e-9  # a 1e-8 shift of λ: not zero, so not a floor
    assert 1e-5 < max_diff(0.0) <= 2.5e-5  # below 1e-4: 1e-8 (public) vs 1e-4 (gated_mm)
    lam32 = torch.tensor(0.25, dtype=torch.float32)
    assert lam32 + 1e-8 == lam32  # float32: the shift vanishes for λ ≥ 0.25
    warn = conv.range_warnings({'layer1.0.unirect1.lambda_param': torch.tensor([5e-5]),
                                'layer1.0.unirect2.lambda_param': torch.tensor([0.5])})
    assert len(warn) == 1 and 'relu(lambda) + 1e-8' in warn[0] and 'unirect1' in warn[0]
