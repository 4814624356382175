"""GOL presets against independent float64 transcriptions of the public codes they name.

* 'apa': kostas1515/AGLU, mmdetection_v3.2/mmdet/models/losses/droploss.py, DropLoss with
  use_classif='gumbel' (q clamped to [-10, 10]; exp(-q)*y + (y-1)*(logsumexp(-q) - exp(-q))
  with logsumexp(x) = exp(x) + log(1 - exp(-exp(x))); drop weights 1 - T*(1 - y); sum / N).
* 'gol': kostas1515/GOL, mmdet/models/losses/gumbel_ce.py, binary_cross_entropy (q clamped to
  [-4, 10], F.binary_cross_entropy(1/exp(exp(-q)), y), loss clamped to [0, 20]).

The transcriptions below follow the repositories' formulas line by line in float64 (plain
torch ops, gradients by autograd through them, including torch's own BCE backward), not
gated_mm's implementation. Values and gradients are compared over q in [-14, 14] (both clamp
regions) for y = 0 and 1, on CPU and CUDA (the ``device`` fixture: the CUDA case is
skipped, with the reason, without a GPU)."""
import pytest
import torch
import torch.nn.functional as F

from gated_mm.models.losses import GOL_PRESETS, GOLLoss, GumbelDropLoss


# ------------------------------------------------------------- transcriptions (float64)
def apa_repo_elementwise(q, y):
    """AGLU repo DropLoss, use_classif='gumbel' (before drop weights and reduction)."""
    def logsumexp(x):  # the repository's helper of that name
        alpha = torch.exp(x)
        return alpha + torch.log(1.0 - torch.exp(-alpha))
    q = torch.clamp(q, min=-10, max=10)
    return torch.exp(-q) * y + (y - 1.0) * (logsumexp(-q) - torch.exp(-q))


def gol_repo_elementwise(q, y):
    """GOL repo gumbel_ce.binary_cross_entropy with reduction='none'."""
    q = torch.clamp(q, min=-4, max=10)
    pestim = 1 / (torch.exp(torch.exp(-q)))
    loss = F.binary_cross_entropy(pestim, y, reduction='none')
    return torch.clamp(loss, min=0, max=20)


def apa_repo_droploss(cls_score, label, freq_info, lambda_):
    """AGLU repo DropLoss.forward (gumbel), with its threshold_func / exclude_func_and_ratio;
    the caller seeds torch's generator so that rand_like draws what the module draws."""
    n_i, n_c = cls_score.size()
    target = cls_score.new_zeros(n_i, n_c + 1)
    target[torch.arange(n_i), label] = 1
    target = target[:, :n_c]
    weight = cls_score.new_zeros(n_c)
    weight[freq_info < lambda_] = 1
    weight = weight.view(1, n_c).expand(n_i, n_c)
    fg = (label != n_c)
    ratio = torch.mean((freq_info[label[fg]] < lambda_).float())
    fg = fg.float().view(n_i, 1).expand(n_i, n_c)
    bg = 1 - fg
    random = torch.rand_like(bg) * bg
    random = torch.where(random > ratio, torch.ones_like(random), torch.zeros_like(random))
    weight = (random + fg) * weight
    drop_w = 1 - weight * (1 - target)
    loss = apa_repo_elementwise(cls_score, target)
    return torch.sum(loss * drop_w) / n_i


REPO = {'apa': apa_repo_elementwise, 'gol': gol_repo_elementwise}


def _grid(device):
    q = torch.linspace(-14, 14, 2801, dtype=torch.float64, device=device)
    # the clamp edges and the loss-clamp edge -log(20) exactly, and just beside them
    edges = torch.tensor([-10, -4, 10, -2.995732273553991], dtype=torch.float64, device=device)
    return torch.cat([q, edges, edges + 1e-9, edges - 1e-9])


def _compare(ours, ref):
    """Max absolute difference, and max relative difference where |ref| > 1e-6."""
    d = (ours - ref).abs()
    big = ref.abs() > 1e-6
    return d.max().item(), (d[big] / ref[big].abs()).max().item() if big.any() else 0.0


PARITY = {}  # (preset, y) -> max abs / rel differences, printed by -s for the docs


@pytest.mark.parametrize('preset', ['apa', 'gol'])
@pytest.mark.parametrize('y', [0.0, 1.0])
def test_preset_values_and_gradients_match_the_repository(preset, y, device):
    """Through the module's forward: one class, each logit one RoI, labelled 0 (y = 1) or
    background (y = 0), reduction 'none'."""
    q = _grid(device)
    loss = GOLLoss(num_classes=1, preset=preset, reduction='none')
    q1 = q.clone()[:, None].requires_grad_(True)
    q2 = q.clone().requires_grad_(True)
    labels = torch.full((q.numel(), ), 0 if y == 1.0 else 1, device=device)
    ours = loss(q1, labels)[:, 0]
    ref = REPO[preset](q2, torch.full_like(q2, y))
    (g1, ) = torch.autograd.grad(ours.sum(), q1)
    (g2, ) = torch.autograd.grad(ref.sum(), q2)
    dv, rv = _compare(ours.detach(), ref.detach())
    dg, rg = _compare(g1[:, 0], g2)
    PARITY[(preset, y, device.type)] = (dv, rv, dg, rg)
    print(f'\n{preset} y={y} {device.type}: value max abs {dv:.2e} rel {rv:.2e}; '
          f'gradient max abs {dg:.2e} rel {rg:.2e}')
    # the APA repository's form (e^{-q} + log(1 - exp(-e^{-q}))) - e^{-q} cancels in float64:
    # absolute rounding up to a few ulp of e^{10} = 22026 (3.6e-12) for y = 0, q < 0
    torch.testing.assert_close(ours.detach(), ref.detach(), rtol=1e-12, atol=2e-11)
    assert rv < 1e-8, (preset, y, rv)  # the same cancellation, relative to |ref| > 1e-6
    # torch's BCE backward floors η(1-η) at 1e-12: for y = 0 and q < -3.32 ('gol') the true
    # gradient is < 1e-20, so only the absolute difference is meaningful there
    assert dg < 2e-11, (preset, y, dg)
    assert rg < 1e-8 or (preset == 'gol' and y == 0.0), (preset, y, rg)
    # the clamped regions have exactly zero gradient in both
    lo, hi = loss.logit_clamp
    clamped = (q < lo) | (q > hi)
    assert clamped.any() and (g1[:, 0][clamped] == 0).all() and (g2[clamped] == 0).all()


@pytest.mark.parametrize('preset', ['apa', 'gol'])
def test_preset_forward_with_one_hot_labels_matches_the_repository(preset, device):
    g = torch.Generator().manual_seed(0)
    n, c = 300, 7
    q = (torch.randn(n, c, generator=g, dtype=torch.float64) * 6).to(device)
    labels = torch.randint(0, c + 1, (n, ), generator=g).to(device)
    q1, q2 = q.clone().requires_grad_(True), q.clone().requires_grad_(True)
    ours = GOLLoss(num_classes=c, preset=preset)(q1, labels)
    y = F.one_hot(labels, c + 1)[:, :c].double()
    ref = REPO[preset](q2, y).sum() / n
    ours.backward()
    ref.backward()
    assert abs(ours.item() - ref.item()) < 1e-12 * abs(ref.item())
    assert (q1.grad - q2.grad).abs().max().item() < 1e-12


def test_presets_and_their_clamps():
    assert GOL_PRESETS['apa'][:2] == ((-10.0, 10.0), None)
    assert GOL_PRESETS['gol'][:2] == ((-4.0, 10.0), (0.0, 20.0))
    assert GOL_PRESETS['exact'][:2] == (None, None)
    assert GOLLoss(num_classes=2).preset == 'apa'  # the APA paper's LVIS-table loss
    custom = GOLLoss(num_classes=2, preset='apa', logit_clamp=(-4.0, 10.0))
    assert custom.preset == 'apa+custom' and custom.logit_clamp == (-4.0, 10.0)
    assert GOLLoss(num_classes=2, preset='gol', loss_clamp=None).loss_clamp is None
    with pytest.raises(ValueError, match="unknown preset 'gumbel'"):
        GOLLoss(num_classes=2, preset='gumbel')
    with pytest.raises(ValueError, match='loss_clamp must be None or'):
        GOLLoss(num_classes=2, loss_clamp=(3.0, 1.0))


def test_gol_preset_differs_from_apa_where_the_repositories_differ():
    # a positive at q = -3.5: the GOL repo's loss is clamped at 20 (zero gradient), the APA
    # repo's is e^{3.5} = 33.1 with gradient -33.1
    q = torch.tensor([[-3.5]], dtype=torch.float64, requires_grad=True)
    for preset, want, want_g in (('gol', 20.0, 0.0), ('apa', 33.11545195869231, -33.115)):
        q.grad = None
        out = GOLLoss(num_classes=1, preset=preset)(q, torch.tensor([0]))
        out.backward()
        assert abs(out.item() - want) < 1e-9 and abs(q.grad.item() - want_g) < 1e-3


@pytest.mark.parametrize('with_mmdet_args', [False, True])
def test_apa_droploss_matches_the_repository_drop_rule_and_reduction(device, with_mmdet_args):
    g = torch.Generator().manual_seed(3)
    num_classes, n = 10, 400
    image_count = torch.tensor([50, 40, 30, 20, 10, 5, 4, 3, 2, 1], dtype=torch.float64)
    freq = image_count / 100
    labels = torch.cat([torch.randint(0, num_classes, (120, ), generator=g),
                        torch.full((n - 120, ), num_classes)])[torch.randperm(n, generator=g)]
    q = torch.randn(n, num_classes, generator=g, dtype=torch.float64) * 5
    q, labels, freq = q.to(device), labels.to(device), freq.to(device)
    loss = GumbelDropLoss(num_classes=num_classes, lambda_=0.06, image_count=image_count,
                          num_images=100, preset='apa').to(device)
    q1, q2 = q.clone().requires_grad_(True), q.clone().requires_grad_(True)
    torch.manual_seed(11)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(11)
    if with_mmdet_args:  # what mmdet's BBoxHead.loss passes for sampled RoIs
        ours = loss(q1, labels, weight=torch.ones(n, device=device), avg_factor=float(n))
    else:
        ours = loss(q1, labels)
    torch.manual_seed(11)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(11)
    ref = apa_repo_droploss(q2, labels, freq, 0.06)
    ours.backward()
    ref.backward()
    assert abs(ours.item() - ref.item()) < 1e-12 * abs(ref.item())
    assert (q1.grad - q2.grad).abs().max().item() < 1e-14
    assert (q1.grad == 0).sum() > 0  # some negatives were dropped


def test_test_time_scores_match_the_repository():
    q = torch.linspace(-8, 12, 101, dtype=torch.float64)[None]
    ours = GOLLoss(num_classes=101).get_activation(q)
    ref = torch.cat([1 / (torch.exp(torch.exp(-q))), q.new_zeros(1, 1)], dim=1)
    assert (ours - ref).abs().max().item() < 1e-15


def test_mmdet_loss_conventions_as_when_swapping_a_sigmoid_loss():
    """A user replaces loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, ...) by GOL."""
    pytest.importorskip('mmdet', reason='mmdet not installed (the head is its Shared2FCBBoxHead)')
    from mmdet.registry import MODELS
    import gated_mm  # noqa: F401  (registers the losses)
    head = MODELS.build(dict(
        type='Shared2FCBBoxHead', in_channels=8, fc_out_channels=16, roi_feat_size=2,
        num_classes=3,
        loss_cls=dict(type='GOLLoss', use_sigmoid=True, num_classes=3, reduction='mean',
                      loss_weight=2.0)))
    assert head.fc_cls.out_features == 3  # C outputs, no background logit
    g = torch.Generator().manual_seed(0)
    cls_score = torch.randn(6, 3, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 3, 3, 1])
    weights = torch.tensor([1.0, 1, 1, 1, 0, 1], dtype=torch.float64)
    out = head.loss(cls_score, torch.zeros(6, 12, dtype=torch.float64),
                    torch.zeros(6, 5, dtype=torch.float64), labels, weights,
                    torch.zeros(6, 4, dtype=torch.float64), torch.zeros(6, 4, dtype=torch.float64))
    y = F.one_hot(labels, 4)[:, :3].double()
    ref = 2.0 * (apa_repo_elementwise(cls_score, y) * weights[:, None]).sum() / 5  # avg_factor
    assert abs(out['loss_cls'].item() - ref.item()) < 1e-12
    assert 'acc_fg' in out
    direct = MODELS.build(dict(type='GumbelDropLoss', use_sigmoid=True, num_classes=3,
                               image_count=[5, 1, 1], num_images=10, lambda_=0.2,
                               reduction='sum', loss_weight=0.5))
    assert direct.reduction == 'sum' and direct.loss_weight == 0.5
    with pytest.raises(ValueError, match='use_sigmoid=False is not supported'):
        MODELS.build(dict(type='GOLLoss', use_sigmoid=False, num_classes=3))
