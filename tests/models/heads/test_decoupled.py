"""tau-norm / LWS / adjusted linear heads (Kang et al., ICLR 2020) against explicit formulas."""
import pytest
import torch

from gated_mm.models.heads import AdjustedLinearClsHead, LWSClsHead, TauNormClsHead


@pytest.mark.parametrize('tau', [0.0, 0.7, 1.0])
def test_tau_norm(device, tau):
    head = TauNormClsHead(num_classes=4, in_channels=6, tau=tau).double().to(device)
    x = torch.randn(3, 6, dtype=torch.float64, device=device)
    w = head.fc.weight
    ref = torch.stack([torch.stack([x[i] @ w[c] / torch.sqrt((w[c] ** 2).sum()) ** tau
                                    for c in range(4)]) for i in range(3)])
    torch.testing.assert_close(head((x, )), ref)


def test_lws_trains_only_scales(device):
    head = LWSClsHead(num_classes=4, in_channels=6).double().to(device)
    with torch.no_grad():
        head.scales.copy_(torch.tensor([1., 2., 0.5, 3.]))
    x = torch.randn(3, 6, dtype=torch.float64, device=device)
    ref = (x @ head.fc.weight.t() + head.fc.bias) * head.scales
    torch.testing.assert_close(head((x, )), ref)
    assert [n for n, p in head.named_parameters() if p.requires_grad] == ['scales']


def test_adjusted_head_applies_only_in_predict():
    head = AdjustedLinearClsHead(num_classes=2, in_channels=3, logit_adjust=dict(
        type='PosthocLogitAdjustment', tau=1.0, class_counts=[90, 10]))
    x = torch.randn(5, 3)
    z = head((x, ))
    pred = head.predict((x, ))
    adj = torch.softmax(z - torch.log(torch.tensor([0.9, 0.1])), 1)
    torch.testing.assert_close(torch.stack([p.pred_score for p in pred]), adj)
