"""CosineClsHead against an independent float64 NumPy reference of the APA recipe's cosine
classifier (z_c = s * <x / (1 + |x|), w_c / |w_c|>), its learnable scale, the IIF adjustment
in predict only, and its errors."""
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import gated_mm  # noqa: F401


def reference(x, w, s, squash=True):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    nx = np.sqrt((x**2).sum(1, keepdims=True))
    x_hat = x / (1 + nx) if squash else x / nx
    w_hat = w / np.sqrt((w**2).sum(1, keepdims=True))
    return s * x_hat @ w_hat.T


def build(**kw):
    init_default_scope('mmpretrain')
    return MODELS.build(dict(type='CosineClsHead', num_classes=5, in_channels=7, **kw))


def test_logits_match_reference_and_equal_public_form():
    torch.manual_seed(0)
    head = build().double()
    x = torch.randn(6, 7, dtype=torch.float64) * 3
    out = head((x, ))
    np.testing.assert_allclose(out.detach().numpy(), reference(x, head.weight.detach(), 16.),
                               rtol=1e-12, atol=1e-12)
    # the public form (|x| / (1 + |x|)) * x / |x| is the same number
    nx = x.norm(dim=1, keepdim=True)
    public = 16 * ((nx / (1 + nx)) * (x / nx)) @ (head.weight / head.weight.norm(dim=1,
                                                                                   keepdim=True)).T
    torch.testing.assert_close(out, public)
    # |logit| < s since |x_hat| < 1, and x = 0 gives finite zero logits (public: NaN)
    assert out.abs().max() < 16
    assert torch.equal(head((torch.zeros(2, 7, dtype=torch.float64), )),
                       torch.zeros(2, 5, dtype=torch.float64))


def test_plain_cosine_and_weight_init():
    head = build(squash=False, scale=10.).double()
    x = torch.randn(3, 7, dtype=torch.float64)
    np.testing.assert_allclose(head((x, )).detach().numpy(),
                               reference(x, head.weight.detach(), 10., squash=False), rtol=1e-12)
    bound = 1 / np.sqrt(7)
    assert head.weight.abs().max() <= bound and head.weight.abs().max() > bound / 2


def test_learnable_scale_is_squared_parameter_with_gradient():
    head = build(learnable_scale=True, scale=25.)
    assert torch.allclose(head.scale_sqrt, torch.tensor([5.]))  # public lr_cosine: 5, s = 25
    x = torch.randn(4, 7)
    out = head((x, ))
    torch.testing.assert_close(out, torch.as_tensor(
        reference(x, head.weight.detach(), 25.), dtype=torch.float32), rtol=1e-5, atol=1e-5)
    out.sum().backward()
    assert head.scale_sqrt.grad is not None and head.weight.grad is not None
    assert 'scale_sqrt' in dict(head.named_parameters())
    # the fixed scale is not a parameter nor saved
    fixed = build()
    assert not any('scale' in k for k in fixed.state_dict())


def test_iif_applies_in_predict_only_and_loss_uses_raw_logits():
    torch.manual_seed(1)
    counts = [50, 20, 10, 5, 1]
    head = build(logit_adjust=dict(type='IIF', variant='rel', class_counts=counts))
    x = torch.randn(8, 7)
    raw = head((x, ))
    n = np.array(counts, dtype=np.float64)
    w = torch.as_tensor(np.log((n.sum() - n) / n), dtype=torch.float32)
    samples = head.predict((x, ))
    scores = torch.stack([s.pred_score for s in samples])
    torch.testing.assert_close(scores, torch.softmax(raw + w, dim=1))
    assert [int(s.pred_label) for s in samples] == (raw + w).argmax(1).tolist()
    data_samples = [DataSample().set_gt_label(i % 5) for i in range(8)]
    loss = head.loss((x, ), data_samples)['loss']
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(
        raw, torch.arange(8) % 5))


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match='scale must be > 0'):
        build(scale=0.)
    with pytest.raises(ValueError, match=r'expected features \(N, 7\) \(in_channels\)'):
        build()((torch.zeros(2, 8), ))
