"""GOL and GumbelDropLoss against independent high-precision references.

References are written from the equations (GOL, Alexandridis et al., ECCV 2022, arXiv:2207.10936) with mpmath
at 50 digits, not from the implementation; the gradients are also checked by gradcheck."""
import json

import mpmath
import pytest
import torch

from gated_mm.models.losses import GOLLoss, GumbelDropLoss, gol_loss, gumbel_scores

mpmath.mp.dps = 50


def ref_loss(q, y):
    """ℓ = y·e^{−q} − (1 − y)·log(1 − exp(−e^{−q})) at 50 digits (1 − e^{−t} as −expm1(−t),
    which mpmath evaluates to full relative precision for tiny t)."""
    q, y = mpmath.mpf(q), mpmath.mpf(y)
    return y * mpmath.exp(-q) - (1 - y) * mpmath.log(-mpmath.expm1(-mpmath.exp(-q)))


def ref_grad(q, y):
    """dℓ/dq = −y·t + (1 − y)·t / (e^t − 1), t = e^{−q}."""
    q, y = mpmath.mpf(q), mpmath.mpf(y)
    t = mpmath.exp(-q)
    return -y * t + (1 - y) * t / mpmath.expm1(t)


Q = [-30.0, -8.0, -4.0, -1.3, -0.2, 0.0, 0.4, 2.0, 5.0, 9.9, 14.9, 15.1, 25.0, 60.0, 300.0]


@pytest.mark.parametrize('y', [0.0, 1.0, 0.3])
def test_gol_loss_and_gradient_match_high_precision_reference(y, device):
    q = torch.tensor(Q, dtype=torch.float64, device=device, requires_grad=True)
    loss = gol_loss(q, torch.full_like(q, y))
    loss.sum().backward()
    want = torch.tensor([float(ref_loss(v, y)) for v in Q], dtype=torch.float64, device=device)
    want_grad = torch.tensor([float(ref_grad(v, y)) for v in Q], dtype=torch.float64,
                             device=device)
    torch.testing.assert_close(loss.detach(), want, rtol=1e-12, atol=1e-300)
    torch.testing.assert_close(q.grad, want_grad, rtol=1e-11, atol=1e-300)


def test_gol_float32_matches_reference():
    q = torch.tensor([-8.0, -1.0, 0.0, 3.0, 12.0, 16.0, 40.0, 80.0])
    for y in (0.0, 1.0):
        got = gol_loss(q, torch.full_like(q, y))
        assert got.dtype == torch.float32
        want = torch.tensor([float(ref_loss(v, y)) for v in q.tolist()])
        torch.testing.assert_close(got, want, rtol=2e-6, atol=0)


def test_gol_gradcheck_exact_form():
    q = torch.linspace(-6, 20, 27, dtype=torch.float64, requires_grad=True)
    y = (torch.arange(27) % 3 == 0).double()
    assert torch.autograd.gradcheck(lambda x: gol_loss(x, y), (q, ))
    assert torch.autograd.gradgradcheck(lambda x: gol_loss(x, y), (q, ))


def test_gol_is_finite_over_the_float32_range():
    q = torch.cat([torch.linspace(-85, 85, 341), torch.tensor([120.0, 1e4, 3e38])])
    q.requires_grad_(True)
    for y in (0.0, 1.0):
        loss = gol_loss(q, torch.full_like(q, y))
        (g, ) = torch.autograd.grad(loss.sum(), q)
        assert torch.isfinite(loss).all() and torch.isfinite(g).all()
    # y = 0 never overflows, however negative q is (exp(-q) is never multiplied by 0)
    q = torch.tensor([-200.0, -1e4], requires_grad=True)
    loss = gol_loss(q, torch.zeros(2))
    (g, ) = torch.autograd.grad(loss.sum(), q)
    assert torch.equal(loss.detach(), torch.zeros(2)) and torch.equal(g, torch.zeros(2))


def test_logit_clamp_is_the_public_code_clamp():
    q = torch.tensor([-7.0, -4.0, 0.5, 10.0, 13.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    loss = gol_loss(q, y, logit_clamp=(-4.0, 10.0))
    loss.sum().backward()
    want = [float(ref_loss(min(max(v, -4.0), 10.0), t)) for v, t in zip(q.tolist(), y.tolist())]
    torch.testing.assert_close(loss.detach(), torch.tensor(want, dtype=torch.float64))
    assert q.grad[0] == 0 and q.grad[-1] == 0 and q.grad[2] != 0


def test_gumbel_scores_and_activation():
    q = torch.tensor([[-2.0, 0.0, 3.0]])
    torch.testing.assert_close(gumbel_scores(q), torch.exp(-torch.exp(-q)))
    head = GOLLoss(num_classes=3)
    s = head.get_activation(q.to(torch.bfloat16))
    assert s.shape == (1, 4) and s.dtype == torch.float32 and s[0, 3] == 0
    with pytest.raises(ValueError, match='bbox_head.num_classes=4 but loss_cls.num_classes=3'):
        head.get_cls_channels(4)


def _batch(n_fg=200, n_bg=2000, num_classes=10, tail_classes=(5, 6, 7, 8, 9), tail_frac=0.3,
           seed=0):
    g = torch.Generator().manual_seed(seed)
    n_tail = int(round(n_fg * tail_frac))
    tail = torch.tensor(tail_classes)
    head = torch.tensor([c for c in range(num_classes) if c not in tail_classes])
    fg = torch.cat([tail[torch.randint(len(tail), (n_tail, ), generator=g)],
                    head[torch.randint(len(head), (n_fg - n_tail, ), generator=g)]])
    labels = torch.cat([fg, torch.full((n_bg, ), num_classes)])
    logits = torch.randn(labels.numel(), num_classes, generator=g, dtype=torch.float64) * 3
    return logits, labels


def _drop_loss(**kw):
    # class frequencies 0.50 ... 0.01 of 100 images; lambda 0.06 -> classes 5..9 in T
    args = dict(num_classes=10, lambda_=0.06, image_count=[50, 40, 30, 20, 10, 5, 4, 3, 2, 1],
                num_images=100, logit_clamp=None)
    args.update(kw)
    return GumbelDropLoss(**args)


def test_droploss_drop_statistics_on_a_constructed_batch():
    loss = _drop_loss()
    assert loss.tail_mask.tolist() == [False] * 5 + [True] * 5 and loss.num_tail_classes == 5
    logits, labels = _batch()
    target = loss.one_hot(logits, labels)
    torch.manual_seed(0)
    w = loss.drop_weights(logits, labels, target)
    fg = labels < 10
    tail = loss.tail_mask
    # positives and non-tail columns are never dropped
    assert (w[target == 1] == 1).all() and (w[:, ~tail] == 1).all()
    # foreground RoIs: every tail-class negative dropped
    fg_tail_neg = w[fg][:, tail][target[fg][:, tail] == 0]
    assert fg_tail_neg.numel() > 0 and (fg_tail_neg == 0).all()
    # background RoIs: tail negatives dropped with probability 1 - r, r = 60 / 200 = 0.3
    dropped = 1 - w[~fg][:, tail].mean().item()
    assert abs(dropped - 0.7) < 0.03, dropped  # 10,000 Bernoulli draws: std 0.005


def test_droploss_value_and_gradient_match_float64_reference():
    loss = _drop_loss()
    logits, labels = _batch(n_fg=20, n_bg=60)
    logits.requires_grad_(True)
    weight = torch.rand(labels.numel(), dtype=torch.float64)
    torch.manual_seed(1)
    out = loss(logits, labels, weight=weight, avg_factor=80.0)
    out.backward()
    torch.manual_seed(1)
    w = loss.drop_weights(logits.detach(), labels, loss.one_hot(logits, labels))
    y = loss.one_hot(logits, labels).tolist()
    q = logits.detach().tolist()
    ref = sum(float(ref_loss(q[i][c], y[i][c])) * w[i, c].item() * weight[i].item()
              for i in range(len(q)) for c in range(10)) / 80.0
    assert abs(out.item() - ref) < 1e-12 * max(1.0, abs(ref))
    ref_g = torch.tensor([[float(ref_grad(q[i][c], y[i][c])) for c in range(10)]
                          for i in range(len(q))], dtype=torch.float64)
    ref_g = ref_g * w * weight[:, None] / 80.0
    torch.testing.assert_close(logits.grad, ref_g, rtol=1e-10, atol=1e-300)
    assert (logits.grad[w == 0] == 0).all()


def test_droploss_without_foreground_drops_nothing():
    loss = _drop_loss()
    logits = torch.randn(30, 10)
    labels = torch.full((30, ), 10)
    w = loss.drop_weights(logits, labels, loss.one_hot(logits, labels))
    assert (w == 1).all()


def test_gol_reduction_and_background():
    loss = GOLLoss(num_classes=3, logit_clamp=None)
    q = torch.tensor([[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    labels = torch.tensor([1, 3])  # second RoI is background
    y = [[0, 1, 0], [0, 0, 0]]
    ref = sum(float(ref_loss(q[i, c].item(), y[i][c])) for i in range(2) for c in range(3))
    assert abs(loss(q, labels).item() - ref / 2) < 1e-12
    assert abs(loss(q, labels, reduction_override='sum').item() - ref) < 1e-12
    assert loss(q, labels, reduction_override='none').shape == (2, 3)
    with pytest.raises(ValueError, match=r'cls_score must be \(N, 3\)'):
        loss(q[:, :2], labels)
    with pytest.raises(ValueError, match=r'labels must be in \[0, 3\]'):
        loss(q, torch.tensor([0, 4]))


def test_finite_and_float32_under_bf16_autocast():
    loss = _drop_loss(logit_clamp=(-4.0, 10.0))
    logits, labels = _batch(n_fg=50, n_bg=150)
    lin = torch.nn.Linear(10, 10)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        x = lin(logits.float())  # bf16 logits, as a bbox head under AMP produces
        assert x.dtype == torch.bfloat16
        torch.manual_seed(0)
        out = loss(x, labels)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    out.backward()
    assert torch.isfinite(lin.weight.grad).all()
    torch.manual_seed(0)
    ref = loss(x.detach().float(), labels)  # same bf16 values, computed in float32
    torch.testing.assert_close(out.detach(), ref)
    # the exact form too, over extreme bf16 logits
    big = (torch.linspace(-60, 60, 50).to(torch.bfloat16))[None].repeat(4, 1)[:, :10]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        val = gol_loss(big, torch.zeros_like(big))
    assert val.dtype == torch.float32 and torch.isfinite(val).all()


def test_frequencies_from_files_and_buffers(tmp_path):
    # LVIS-style file: categories with image_count, N = distinct annotated images
    cats = [dict(id=i + 1, name=f'c{i}', image_count=n) for i, n in enumerate([9, 1, 3])]
    anns = [dict(id=k, image_id=k % 10, category_id=1) for k in range(30)]
    (tmp_path / 'lvis.json').write_text(json.dumps(dict(categories=cats, annotations=anns)))
    m = GumbelDropLoss(num_classes=3, lambda_=0.35, freq_file=str(tmp_path / 'lvis.json'))
    torch.testing.assert_close(m.class_frequency, torch.tensor([0.9, 0.1, 0.3]))
    assert m.tail_mask.tolist() == [False, True, True]
    # COCO-style file: counts from the annotations; category file with num_images
    coco = dict(categories=[dict(id=5), dict(id=2)],
                annotations=[dict(image_id=i, category_id=5) for i in range(4)]
                + [dict(image_id=0, category_id=2)], images=[dict(id=i) for i in range(8)])
    (tmp_path / 'coco.json').write_text(json.dumps(coco))
    m2 = GumbelDropLoss(num_classes=2, lambda_=0.5, freq_file=str(tmp_path / 'coco.json'))
    torch.testing.assert_close(m2.class_frequency, torch.tensor([1.0, 0.25]))
    (tmp_path / 'cats.json').write_text(json.dumps(dict(categories=cats, num_images=30)))
    m3 = GumbelDropLoss(num_classes=3, freq_file=str(tmp_path / 'cats.json'))
    torch.testing.assert_close(m3.class_frequency, torch.tensor([0.3, 1 / 30, 0.1]))
    # buffers travel with the state dict: a model built without the file (test time)
    state = m.state_dict()
    assert set(state) == {'class_frequency', 'tail_mask'}
    m4 = GumbelDropLoss(num_classes=3, lambda_=0.35, freq_file=str(tmp_path / 'missing.json'))
    m4.load_state_dict(state)
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 3, 3])
    assert torch.isfinite(m4(logits, labels))
    m4.to(torch.float64)
    assert m4.class_frequency.dtype == torch.float64


def test_bad_frequency_input_is_a_one_line_error(tmp_path):
    m = GumbelDropLoss(num_classes=3, freq_file=str(tmp_path / 'nope.json'))
    with pytest.raises(FileNotFoundError, match='loss_cls.freq_file') as e:
        m(torch.randn(2, 3), torch.tensor([0, 3]))
    assert '\n' not in str(e.value)
    (tmp_path / 'bad.json').write_text(json.dumps(dict(images=[])))
    with pytest.raises(ValueError, match='bad.json: no "categories"'):
        GumbelDropLoss(num_classes=3, freq_file=str(tmp_path / 'bad.json'))
    with pytest.raises(ValueError, match='2 class image counts but num_classes=3'):
        GumbelDropLoss(num_classes=3, image_count=[1, 2], num_images=5)
    with pytest.raises(ValueError, match='exactly one of freq_file'):
        GumbelDropLoss(num_classes=3)


# ------------------------------------------------------------ GOL in an upstream bbox head
def _upstream_head(loss_cls, head_type='Shared2FCBBoxHead', **kw):
    """mmdet's own bbox head as mmdet's Mask R-CNN config builds it (default init_cfg)."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    return MODELS.build(dict(type=head_type, in_channels=8, fc_out_channels=16,
                             roi_feat_size=7, num_classes=5, loss_cls=loss_cls, **kw))


@pytest.mark.parametrize('head_type', ['Shared2FCBBoxHead', 'Shared4Conv1FCBBoxHead'])
def test_gol_brings_its_classifier_prior_to_an_upstream_head(head_type):
    """The loss sets the owning head's fc_cls bias to init_bias after the head's own init
    (mmdet's Normal(0, 0.01), bias 0, stays for the weights); the public codes' value −2."""
    torch.manual_seed(0)
    head = _upstream_head(dict(type='GumbelDropLoss', num_classes=5, image_count=[9, 5, 3, 1, 1],
                               num_images=10), head_type)
    head.init_weights()
    fc = head.fc_cls
    assert fc.out_features == 5 and (fc.bias == -2.0).all()
    assert 0.005 < fc.weight.std().item() < 0.015  # mmdet's Normal(std=0.01), untouched
    # the scores at the prior: η(−2) = exp(−e²) for every class
    assert abs(float(torch.exp(-torch.exp(torch.tensor(2.0)))) - 6.17e-4) < 1e-6
    # init_bias=None leaves the head's init alone (mmdet: bias 0); another value is used as is
    for init_bias, want in ((None, 0.0), (-3.5, -3.5)):
        head = _upstream_head(dict(type='GOLLoss', num_classes=5, init_bias=init_bias))
        head.init_weights()
        assert (head.fc_cls.bias == want).all()
    with pytest.raises(ValueError, match='init_bias must be finite'):
        GOLLoss(num_classes=5, init_bias=float('nan'))


def test_gol_prior_goes_to_the_module_the_loss_is_assigned_to():
    holder = torch.nn.Module()
    holder.fc_cls = torch.nn.Linear(4, 3)
    holder.loss_cls = GOLLoss(num_classes=3)
    holder.loss_cls.init_weights()
    assert (holder.fc_cls.bias == -2.0).all()
    GOLLoss(num_classes=3).init_weights()  # no owner: a warning, nothing set, no error


def test_gol_merged_into_an_inherited_cross_entropy_is_one_line(tmp_path):
    """A config that writes loss_cls=dict(type='GumbelDropLoss', ...) over mmdet's
    CrossEntropyLoss without _delete_=True: one line naming the keys and _delete_=True."""
    from mmengine.config import Config
    from gated_mm.models.losses import check_gol_loss_cfg
    upstream = tmp_path / 'upstream.py'
    upstream.write_text("_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'")
    cfg = Config.fromfile(upstream)
    cfg.merge_from_dict({'model.roi_head.bbox_head.loss_cls': dict(
        type='GumbelDropLoss', num_classes=1203, freq_file='x.json')})
    assert cfg.model.roi_head.bbox_head.loss_cls.use_sigmoid is False  # the merge happened
    with pytest.raises(ValueError) as e:
        check_gol_loss_cfg(cfg.model)
    msg = str(e.value)
    assert '\n' not in msg and msg.startswith('model.roi_head.bbox_head.loss_cls:')
    assert 'use_sigmoid=False' in msg and "loss_cls=dict(_delete_=True, type='GumbelDropLoss'" \
        in msg
    # keys the loss does not take at all (an inherited CrossEntropyLoss's class_weight) too
    bad = dict(model=dict(roi_head=dict(bbox_head=[dict(loss_cls=dict(
        type='GOLLoss', num_classes=3, class_weight=[1.0] * 4))])))
    with pytest.raises(ValueError, match=r"bbox_head\[0\]\.loss_cls: .*class_weight="):
        check_gol_loss_cfg(bad['model'])
    # a clean swap and other losses pass
    cfg = Config.fromfile(upstream)
    cfg.merge_from_dict({'model.roi_head.bbox_head.loss_cls': dict(
        _delete_=True, type='GumbelDropLoss', num_classes=1203, freq_file='x.json')})
    check_gol_loss_cfg(cfg.model)
    # the loss itself (mmdet's tools, no pre-check) names the fix too
    with pytest.raises(ValueError, match=r'_delete_=True'):
        GOLLoss(num_classes=3, use_sigmoid=False)
