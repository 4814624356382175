"""Re-balancing losses: float64 values and gradients against independent formulas."""
import math

import numpy as np
import pytest
import torch

from gated_mm.models.losses import (BalancedSoftmaxLoss, ClassBalancedLoss, LDAMLoss,
                                    LogitAdjustedLoss, PosthocLogitAdjustment,
                                    effective_number_weights)

COUNTS = [500, 120, 30, 7, 2]


def _data(device, n=16, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, c, generator=g, dtype=torch.float64) * 2).to(device).requires_grad_()
    y = torch.randint(0, c, (n,), generator=g).to(device)
    return z, y


def _ce_rows(z, y):
    """Per-sample −log softmax(z)_y by the explicit sum (no torch CE)."""
    return torch.stack([-(z[i, y[i]] - torch.log(torch.exp(z[i]).sum()))
                        for i in range(len(y))])


def _check(loss_fn, ref_fn, device):
    z, y = _data(device)
    out = loss_fn(z, y)
    z2 = z.detach().clone().requires_grad_()
    ref = ref_fn(z2, y)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    g1, = torch.autograd.grad(out, z)
    g2, = torch.autograd.grad(ref, z2)
    torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-12)


def test_balanced_softmax(device):
    n = torch.tensor(COUNTS, dtype=torch.float64, device=device)

    def ref(z, y):  # −log(n_y e^{z_y} / Σ n_j e^{z_j})
        return torch.stack([-torch.log(n[y[i]] * torch.exp(z[i, y[i]]) /
                                       (n * torch.exp(z[i])).sum())
                            for i in range(len(y))]).mean()
    _check(BalancedSoftmaxLoss(class_counts=COUNTS), ref, device)


@pytest.mark.parametrize('tau', [0.0, 0.5, 1.5])
def test_logit_adjusted(device, tau):
    pi = torch.tensor(COUNTS, dtype=torch.float64, device=device)
    pi = pi / pi.sum()
    _check(LogitAdjustedLoss(tau=tau, class_counts=COUNTS),
           lambda z, y: _ce_rows(z + tau * torch.log(pi), y).mean(), device)


def test_posthoc_adjustment():
    z = torch.randn(4, 5, dtype=torch.float64)
    pi = np.array(COUNTS) / sum(COUNTS)
    out = PosthocLogitAdjustment(tau=0.7, class_counts=COUNTS)(z)
    np.testing.assert_allclose(out.numpy(), z.numpy() - 0.7 * np.log(pi), rtol=1e-12)


@pytest.mark.parametrize('drw', [False, True])
def test_ldam(device, drw):
    s, m = 30.0, 0.5
    n = np.array(COUNTS, dtype=np.float64)
    delta = torch.tensor(m * n ** -0.25 / (n ** -0.25).max(), device=device)
    beta = 0.999
    eff = (1 - beta ** n) / (1 - beta)
    w = torch.tensor((1 / eff) / (1 / eff).sum() * len(n), device=device)
    loss = LDAMLoss(max_margin=m, scale=s, drw_epoch=3, drw_beta=beta, class_counts=COUNTS)
    loss.set_epoch(3 if drw else 2)

    def ref(z, y):
        rows = []
        for i in range(len(y)):
            zy = z[i, y[i]] - delta[y[i]]
            others = torch.cat([z[i, :y[i]], z[i, y[i] + 1:]])
            rows.append(-(s * zy - torch.log(torch.exp(s * zy) + torch.exp(s * others).sum())))
        rows = torch.stack(rows)
        wy = w[y] if drw else torch.ones_like(rows)
        return (wy * rows).sum() / wy.sum()
    _check(loss, ref, device)


def test_effective_number_weights():
    beta = 0.99
    w = effective_number_weights([10, 1], beta).numpy()
    e = np.array([(1 - beta ** 10) / (1 - beta), 1.0])
    np.testing.assert_allclose(w, (1 / e) / (1 / e).sum() * 2, rtol=1e-12)
    np.testing.assert_allclose(effective_number_weights([10, 1], 0.0).numpy(), [1, 1])


@pytest.mark.parametrize('loss_type,gamma', [('ce', 0.0), ('focal', 0.5), ('focal', 2.0)])
def test_class_balanced(device, loss_type, gamma):
    beta = 0.999
    n = np.array(COUNTS, dtype=np.float64)
    eff = (1 - beta ** n) / (1 - beta)
    w = torch.tensor((1 / eff) / (1 / eff).sum() * len(n), device=device)

    def ref(z, y):
        rows = _ce_rows(z, y)
        if loss_type == 'focal':
            p = torch.exp(-rows)
            rows = (1 - p) ** gamma * rows
        return (w[y] * rows).mean()
    _check(ClassBalancedLoss(beta=beta, loss_type=loss_type, gamma=gamma, class_counts=COUNTS),
           ref, device)


@pytest.mark.parametrize('make', [
    lambda: BalancedSoftmaxLoss(class_counts=COUNTS),
    lambda: LogitAdjustedLoss(tau=1.0, class_counts=COUNTS),
    lambda: LDAMLoss(drw_epoch=0, class_counts=COUNTS),
    lambda: ClassBalancedLoss(loss_type='focal', gamma=2.0, class_counts=COUNTS)])
def test_finite_under_bf16_autocast(device, make):
    z = (torch.randn(32, 5, device=device) * 20).requires_grad_()
    y = torch.randint(0, 5, (32,), device=device)
    loss_fn = make()
    if isinstance(loss_fn, LDAMLoss):
        loss_fn.set_epoch(0)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        out = loss_fn(z.to(torch.bfloat16), y)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(z.grad).all()


def test_bad_input():
    with pytest.raises(ValueError, match='exactly one'):
        BalancedSoftmaxLoss()
    with pytest.raises(ValueError, match='logits have 3 classes'):
        BalancedSoftmaxLoss(class_counts=COUNTS)(torch.zeros(2, 3), torch.zeros(2).long())
    with pytest.raises(ValueError, match='0 training'):
        LDAMLoss(class_counts=[3, 0])(torch.zeros(2, 2), torch.zeros(2).long())
    with pytest.raises(ValueError, match='integer class indices'):
        ClassBalancedLoss(class_counts=[3, 2])(torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match='tau'):
        LogitAdjustedLoss(tau=-1, class_counts=COUNTS)
    assert math.isfinite(float(BalancedSoftmaxLoss(class_counts=COUNTS)(
        torch.zeros(2, 5), torch.tensor([0, 4]))))
