"""float16 autocast with dynamic loss scaling (``torch.amp.GradScaler``) on CUDA: the APA /
AGLU kernels, the GOL loss and the quick-start gated SE-ResNet. Skipped without a GPU (fp16
autocast and its loss scaling are a GPU path; CPU autocast is bf16, tested elsewhere).

``train_steps`` is device-agnostic (the CPU bf16 case runs here as a check of the test itself).
"""
import os.path as osp

import pytest
import torch

import gated_mm  # noqa: F401
from gated_mm.models.activations import AGLU, APA

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
QUICKSTART = osp.join(REPO, 'configs', 'fashion_mnist_lt',
                      'gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py')


def ref_eta(z, kappa, lambda_):
    return (lambda_ * torch.exp(-kappa * z) + 1) ** (-1 / lambda_)


@pytest.mark.cuda
@pytest.mark.parametrize('cls', [APA, AGLU])
def test_fp16_autocast_kernels_compute_in_float32_on_cuda(cls):
    """Under fp16 autocast the gate is computed in float32 and rounded once to fp16."""
    torch.manual_seed(2)
    m = cls(kappa_init=1.1, lambda_init=0.4).cuda()
    conv = torch.nn.Conv2d(8, 8, 1).cuda()
    x = torch.randn(2, 8, 6, 6, device='cuda')
    with torch.autocast('cuda', dtype=torch.float16):
        h = conv(x)
        assert h.dtype == torch.float16
        y = m(h)
    assert y.dtype == torch.float16
    z = h.double()
    want = ref_eta(z, 1.1, 0.4) * (z if cls is AGLU else 1)
    eps = torch.finfo(torch.float16).eps
    torch.testing.assert_close(y.double(), want, rtol=eps, atol=eps)
    y.float().sum().backward()
    assert m.kappa.grad.dtype == torch.float32 and torch.isfinite(m.kappa.grad).all()


@pytest.mark.cuda
def test_fp16_autocast_gol_loss_on_cuda():
    from gated_mm.models.losses import gol_loss
    q = torch.tensor([-30.0, -4.0, 0.0, 2.0, 9.9, 15.1, 60.0, 300.0], device='cuda')
    y = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0], device='cuda')
    q = q.half()  # the reference at the fp16 inputs: only the loss's own rounding is tested
    want = gol_loss(q.double(), y.double())
    with torch.autocast('cuda', dtype=torch.float16):
        got = gol_loss(q, y)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), want, rtol=2e-3, atol=1e-3)


def train_steps(device, dtype, steps=12, scaler_enabled=True):
    """``steps`` SGD steps of the quick-start model (dropout on) on one fixed random batch
    under ``dtype`` autocast with ``torch.amp.GradScaler``; returns (losses, final scale)."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(QUICKSTART)
    torch.manual_seed(0)
    # the config's own scope: an earlier test may have left another default scope (mmdet)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    scaler = torch.amp.GradScaler(device, enabled=scaler_enabled)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 1, 28, 28, generator=g).to(device)
    samples = [DataSample().set_gt_label(int(c)) for c in torch.randint(0, 10, (16, ),
                                                                        generator=g)]
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        with torch.autocast(device, dtype=dtype):
            loss = sum(v for k, v in model(x, samples, mode='loss').items() if 'loss' in k)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(float(loss))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    return losses, scaler.get_scale() if scaler_enabled else 1.0


def _check_training(losses, scale):
    assert all(map(lambda v: v == v and abs(v) != float('inf'), losses)), losses
    assert 0 < scale < float('inf')
    assert min(losses[-3:]) < losses[0], losses  # it learns the batch


@pytest.mark.cuda
def test_fp16_autocast_with_grad_scaler_trains_the_quickstart_model_on_cuda():
    losses, scale = train_steps('cuda', torch.float16)
    _check_training(losses, scale)
    ref, _ = train_steps('cuda', torch.float32, scaler_enabled=False)
    assert losses[0] == pytest.approx(ref[0], rel=1e-2)  # same model, same first loss


@pytest.mark.slow  # builds the quick-start model: ~20 s on 2 cores
def test_the_training_check_itself_with_bf16_on_cpu():
    """The same loop on CPU with bf16 (GradScaler is a no-op there but must not break)."""
    losses, scale = train_steps('cpu', torch.bfloat16, steps=4, scaler_enabled=False)
    _check_training(losses, scale)
