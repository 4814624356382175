"""Detection heads: the cosine mask predictor, the wrapped-Cauchy classifier (each against an
independent float64 reference), and a gated Mask R-CNN with GOL running loss and predict."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import gated_mm  # noqa: F401
from gated_mm.models.heads import CosineConv2d, WrappedCauchyLinear

ROOT = Path(__file__).resolve().parents[3]
QUICK = ROOT / 'configs/lvis/mask-rcnn_gated-se-r26-w32-apa-aglu_fpn_gol_1xb2-300i_mini-lvis.py'


# ------------------------------------------------------------------ cosine conv
def ref_cosine_1x1(x, w, b, tau):
    """out[n,k,h,w] = tau * sum_c x[n,c,h,w] w[k,c] / (|x[n,:,h,w]| |w[k,:]|) + b[k]."""
    xn = x.norm(dim=1, keepdim=True)
    wn = w.flatten(1).norm(dim=1)
    out = torch.einsum('nchw,kc->nkhw', x, w.flatten(1)) / (xn * wn[None, :, None, None])
    return tau * out + b[None, :, None, None]


@pytest.mark.parametrize('learnable,squared,tau', [(False, True, 20.0), (True, True, 4.5 ** 2),
                                                   (True, False, 4.5)])
def test_cosine_conv_matches_reference(learnable, squared, tau):
    torch.manual_seed(0)
    temp = 20.0 if not learnable else 4.5
    m = CosineConv2d(8, 5, 1, temperature=temp, learnable=learnable, squared=squared,
                     eps=1e-300).double()
    x = torch.randn(2, 8, 3, 4, dtype=torch.float64)
    out = m(x)
    torch.testing.assert_close(out, ref_cosine_1x1(x, m.weight, m.bias, tau), rtol=1e-12,
                               atol=1e-12)
    # |logit - b| <= tau: a cosine times the temperature
    assert ((out - m.bias[None, :, None, None]).abs() <= tau + 1e-9).all()
    assert [n for n, _ in m.named_parameters()] == (['weight', 'bias', 'temperature']
                                                    if learnable else ['weight', 'bias'])


def test_cosine_conv_gradcheck_and_learnable_temperature():
    from torch.func import functional_call
    torch.manual_seed(0)
    m = CosineConv2d(4, 3, 3, padding=1, temperature=1.5, learnable=True).double()
    x = torch.randn(1, 4, 5, 5, dtype=torch.float64, requires_grad=True)
    w = m.weight.detach().clone().requires_grad_(True)
    t = m.temperature.detach().clone().requires_grad_(True)
    b = m.bias.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x_, w_, t_, b_: functional_call(m, {'weight': w_, 'temperature': t_,
                                                   'bias': b_}, (x_, )), (x, w, t, b))
    # tau = theta^2 is learned: d sum(out) / d theta = 2 theta * sum(cosine terms)
    (g, ) = torch.autograd.grad(m(x).sum(), m.temperature)
    with torch.no_grad():
        unit = (m(x) - m.bias[None, :, None, None]) / m.temperature**2
    assert abs(g.item() - (2 * m.temperature * unit.sum()).item()) < 1e-9


def test_cosine_conv_bf16_autocast_and_errors():
    m = CosineConv2d(16, 4, 1, temperature=20.0)
    x = torch.randn(2, 16, 6, 6)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = m(x.to(torch.bfloat16))
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.float(), m(x.to(torch.bfloat16).float()), atol=0.2, rtol=0.02)
    with pytest.raises(ValueError, match='temperature and eps must be > 0'):
        CosineConv2d(4, 4, 1, temperature=0.0)


# ------------------------------------------------------------------ wrapped Cauchy
def ref_wrapped_cauchy(cos, rho, terms=400):
    """Density of the wrapped Cauchy at angle phi = arccos(cos) from its Fourier series
    (1 / 2pi) (1 + 2 sum_n rho^n cos(n phi)), independent of the closed form."""
    phi = torch.arccos(cos.clamp(-1, 1))
    n = torch.arange(1, terms + 1, dtype=torch.float64)
    series = (rho[None, :, None]**n * torch.cos(n * phi[..., None])).sum(-1)
    return (1 + 2 * series) / (2 * math.pi)


@pytest.mark.parametrize('bias_position', ['logit', 'cosine'])
def test_wrapped_cauchy_matches_fourier_series_reference(bias_position):
    torch.manual_seed(0)
    m = WrappedCauchyLinear(6, 5, scale=300.0, bias_position=bias_position,
                            eps=1e-300).double()
    with torch.no_grad():
        m.rho_logit.copy_(torch.tensor([-2.0, 0.0, 1.0, 1.5, 2.0]))
        m.bias.copy_(torch.linspace(-0.01, 0.01, 5) if bias_position == 'cosine'
                     else torch.linspace(-1, 1, 5))
    x = torch.randn(7, 6, dtype=torch.float64)
    cos = (x / x.norm(dim=1, keepdim=True)) @ (m.weight / m.weight.norm(dim=1, keepdim=True)).T
    rho = torch.sigmoid(m.rho_logit)
    if bias_position == 'cosine':
        want = 300.0 * ref_wrapped_cauchy(cos + m.bias, rho)
    else:
        want = 300.0 * ref_wrapped_cauchy(cos, rho) + m.bias
    torch.testing.assert_close(m(x), want.detach(), rtol=1e-9, atol=1e-9)


def test_wrapped_cauchy_gradcheck_init_and_autocast():
    torch.manual_seed(0)
    m = WrappedCauchyLinear(5, 4, scale=50.0, learnable_scale=True).double()
    assert torch.allclose(m.rho_logit, torch.ones(4, dtype=torch.float64))  # public init
    assert abs(m.weight.std().item() - 0.01) < 0.01
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: m(inp), (x, ))
    out = m(x).sum()
    grads = torch.autograd.grad(out, [m.weight, m.rho_logit, m.scale, m.bias])
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    m32 = WrappedCauchyLinear(16, 10)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = m32(torch.randn(4, 16).to(torch.bfloat16))
    assert y.dtype == torch.float32 and torch.isfinite(y).all()
    with pytest.raises(ValueError, match="bias_position must be 'logit' or 'cosine'"):
        WrappedCauchyLinear(4, 4, bias_position='x')


# ------------------------------------------------------------------ Mask R-CNN
def tiny_gated_mask_rcnn_cfg(num_classes=6):
    """The quick mini-LVIS config (APA + AGLU, GOL + DropLoss, cosine mask head) at 1/4 of
    its width, with explicit class frequencies instead of the annotation file."""
    cfg = Config.fromfile(QUICK)
    w = 8
    cfg.merge_from_dict({
        'model.backbone.stem_channels': w, 'model.backbone.base_channels': w,
        'model.neck.in_channels': [4 * w, 8 * w, 16 * w, 32 * w], 'model.neck.out_channels': 32,
        'model.rpn_head.in_channels': 32, 'model.rpn_head.feat_channels': 32,
        'model.roi_head.bbox_roi_extractor.out_channels': 32,
        'model.roi_head.mask_roi_extractor.out_channels': 32,
        'model.roi_head.bbox_head.in_channels': 32,
        'model.roi_head.bbox_head.fc_out_channels': 64,
        'model.roi_head.bbox_head.num_classes': num_classes,
        'model.roi_head.mask_head.in_channels': 32,
        'model.roi_head.mask_head.conv_out_channels': 32,
        'model.roi_head.mask_head.num_classes': num_classes,
        'model.test_cfg.rcnn.score_thr': 0.0,
    })
    cfg.model.roi_head.bbox_head.loss_cls = dict(
        type='GumbelDropLoss', num_classes=num_classes, lambda_=0.3,
        image_count=[9, 8, 5, 2, 1, 1], num_images=10)
    return cfg


def test_gated_mask_rcnn_loss_and_predict_on_cpu():
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    init_default_scope('mmdet')
    torch.manual_seed(0)
    cfg = tiny_gated_mask_rcnn_cfg()
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.roi_head.bbox_head.fc_cls.out_features == 6  # GOL: no background logit
    assert torch.allclose(model.roi_head.bbox_head.fc_cls.bias, torch.full((6, ), -2.0))
    assert model.roi_head.bbox_head.loss_cls.num_tail_classes == 3  # f = 0.2, 0.1, 0.1
    assert isinstance(model.roi_head.mask_head.conv_logits, CosineConv2d)
    packed = demo_mm_inputs(2, [(3, 96, 128), (3, 96, 128)], num_items=[3, 2], num_classes=6,
                            with_mask=True)
    data = model.data_preprocessor(packed, True)
    model.train()
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_cls', 'acc_fg', 'loss_bbox', 'loss_mask', 'loss_rpn_cls'} <= set(losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    kappa = [p for n, p in model.backbone.named_parameters() if n.endswith('kappa')]
    assert kappa and all(p.grad is not None and torch.isfinite(p.grad).all() for p in kappa)
    assert model.roi_head.mask_head.conv_logits.temperature.grad is not None

    model.eval()
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2
    pred = results[0].pred_instances
    assert len(pred) > 0 and pred.masks.shape[1:] == (96, 128)
    assert (pred.labels < 6).all() and ((pred.scores > 0) & (pred.scores <= 1)).all()


def test_gated_backbone_loads_init_cfg_checkpoint_in_mmdet(tmp_path):
    """A detection config's backbone ``init_cfg=dict(type='Pretrained', ...)`` loads a
    backbone-only state dict, and ``prefix='backbone.'`` a whole detector checkpoint."""
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    kw = dict(type='GatedResNet', depth=26, base_channels=8, stem_channels=8,
              groups=4, width_per_group=2, out_indices=(0, 1, 2, 3), frozen_stages=1,
              norm_eval=True)
    torch.manual_seed(0)
    src = MODELS.build(dict(kw))
    src.init_weights()
    with torch.no_grad():
        for p in src.parameters():
            p.add_(torch.rand_like(p))
    torch.save(src.state_dict(), tmp_path / 'backbone.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}},
               tmp_path / 'detector.pth')
    for init in (dict(type='Pretrained', checkpoint=str(tmp_path / 'backbone.pth')),
                 dict(type='Pretrained', checkpoint=str(tmp_path / 'detector.pth'),
                      prefix='backbone.')):
        dst = MODELS.build(dict(kw, init_cfg=init))
        dst.init_weights()
        for (name, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
            assert torch.equal(a, b), name
        frozen = [n for n, p in dst.named_parameters() if not p.requires_grad]
        assert any(n.startswith('layer1.') and n.endswith('kappa') for n in frozen)
        assert not any(n.startswith('layer2.') for n in frozen)
