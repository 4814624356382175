"""The long-tailed detection baselines against independent float64 transcriptions of their
public code or paper equations (values and gradients):

* FederatedLoss   — CenterNet2 custom_fast_rcnn.py sigmoid_cross_entropy_loss + Detic
                    get_fed_loss_inds (same random draw);
* ECMLoss         — janghyuncho/ECM-Loss effective_class_margin_loss.py / ecm_utils.py;
* IIFDetLoss      — kostas1515/iif iif_loss.py (CE on w * z), its weight table idf_1204.csv;
* NorCal          — tydpan/NorCal roi_heads.py predict_probs ('gamma', 'exps', renorm);
* mmdet SeesawLoss — Seesaw paper (arXiv:2008.10032), its loss and gradient;
* mmdet EQLV2Loss — EQL v2 paper (arXiv:2012.08548), its weights and gradient accumulation.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from gated_mm.models.heads.iif import iif_weights
from gated_mm.models.heads.norcal import NorCalCrossEntropyLoss, norcal_scores
from gated_mm.models.losses import ECMLoss, FederatedLoss, IIFDetLoss, federated_classes

C = 6
COUNTS = [300, 120, 40, 12, 5, 2]          # training images per class
N_IMAGES = 400


def batch(device, n=16, c1=C + 1, seed=0, bg_every=3):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, c1, generator=g, dtype=torch.float64) * 2).to(device)
    labels = torch.randint(0, C, (n, ), generator=g).to(device)
    labels[::bg_every] = C                  # background RoIs
    return z.requires_grad_(True), labels


def grads(loss, z):
    (g, ) = torch.autograd.grad(loss, z)
    return g


# ----------------------------------------------------------------- Federated Loss
def ref_fed_loss(logits_c1, gt_classes, weight, num_sample_cats):
    """CenterNet2 sigmoid_cross_entropy_loss (C + 1 logits, the last unused) with Detic's
    get_fed_loss_inds, transcribed."""
    B, C1 = logits_c1.shape
    Cc = C1 - 1
    target = logits_c1.new_zeros(B, Cc + 1)
    target[range(len(gt_classes)), gt_classes] = 1
    target = target[:, :Cc]
    appeared = torch.unique(gt_classes.cpu())  # the draw on the CPU (as FederatedLoss)
    prob = appeared.new_ones(Cc + 1).float()
    prob[-1] = 0
    if len(appeared) < num_sample_cats:
        prob[:Cc] = weight.float().clone()
        prob[appeared] = 0
        more = torch.multinomial(prob, num_sample_cats - len(appeared), replacement=False)
        appeared = torch.cat([appeared, more])
    mask = appeared.new_zeros(Cc + 1)
    mask[appeared] = 1
    mask = mask.to(logits_c1.device)
    fed_w = mask[:Cc].view(1, Cc).expand(B, Cc).to(logits_c1.dtype)
    loss = F.binary_cross_entropy_with_logits(logits_c1[:, :-1], target, reduction='none')
    return torch.sum(loss * fed_w) / B


@pytest.mark.parametrize('k', [3, 5])
def test_federated_loss_matches_public_code(device, k):
    z1, labels = batch(device)                 # C + 1 logits for the public code
    z = z1.detach()[:, :C].clone().requires_grad_(True)
    loss_fn = FederatedLoss(C, num_sample_cats=k, freq_weight=0.5, image_count=COUNTS).to(device)
    w = torch.tensor(COUNTS, dtype=torch.float64) ** 0.5
    worst = 0.0
    for seed in range(5):
        torch.manual_seed(seed)
        ref = ref_fed_loss(z1, labels, w.to(device), k)
        torch.manual_seed(seed)
        got = loss_fn(z, labels)
        assert got.dtype == torch.float64
        g_ref, g_got = grads(ref, z1)[:, :C], grads(got, z)
        worst = max(worst, abs(float(got.detach() - ref.detach())), float((g_got - g_ref).abs().max()))
    assert worst < 1e-15


def test_federated_classes_rules():
    labels = torch.tensor([0, 0, 2, C, C])
    w = torch.tensor(COUNTS, dtype=torch.float32) ** 0.5
    s = federated_classes(labels, C, 4, w)     # {0, 2, bg} + 1 draw
    assert {0, 2} <= set(s.tolist()) and len(s) == 3 and C not in s.tolist()
    assert sorted(federated_classes(labels, C, 50, w).tolist()) == list(range(C))
    assert sorted(federated_classes(labels, C, 2, w).tolist()) == [0, 2]
    # the sampling weight n_c^0.5: the 300-image class is drawn 12x as often as the 2-image one
    torch.manual_seed(0)
    hits = torch.zeros(C)
    for _ in range(3000):
        hits[federated_classes(torch.tensor([C]), C, 2, w)] += 1
    assert hits[0] / hits[5] == pytest.approx(math.sqrt(150), rel=0.25)
    with pytest.raises(ValueError, match='use_sigmoid=False'):
        FederatedLoss(C, image_count=COUNTS, use_sigmoid=False)
    with pytest.raises(ValueError, match='exactly one of freq_file'):
        FederatedLoss(C)


# ----------------------------------------------------------------- ECM
def ref_ecm(cls_score, labels, counts, fg_bg_ratio):
    """janghyuncho/ECM-Loss EffectiveClassMarginLoss.forward, transcribed."""
    n = torch.tensor(counts, dtype=torch.float64)
    n = torch.cat([n, n.sum()[None] * fg_bg_ratio])
    a = (n.sum() - n) / n
    cls_w = (a * ((1 + a) / a).log())[None]
    B, C1 = cls_score.shape
    target = cls_score.new_zeros(B, C1)
    target[torch.arange(B), labels] = 1
    n_pos, n_neg = n, n.sum() - n
    pos_w = (n_neg.pow(1 / 4) / (n_pos.pow(1 / 4) + n_neg.pow(1 / 4))).pow(-1).log()
    neg_w = (n_pos.pow(1 / 4) / (n_pos.pow(1 / 4) + n_neg.pow(1 / 4))).pow(-1).log()
    e_pos = (cls_score + pos_w.to(cls_score)).exp()
    e_neg = (-cls_score + neg_w.to(cls_score)).exp()
    p_pos, p_neg = e_pos / (e_pos + e_neg), e_neg / (e_pos + e_neg)
    loss = -(p_pos.log() * target + p_neg.log() * (1 - target))
    return (loss * cls_w.to(loss)).sum() / B


def ref_ecm_activation(cls_score):
    s = cls_score.sigmoid()
    s[:, :-1] *= (1 - s[:, -1:])
    return s


def test_ecm_loss_matches_public_code(device):
    z, labels = batch(device)
    loss_fn = ECMLoss(C, image_count=COUNTS).to(device)
    got, ref = loss_fn(z, labels), ref_ecm(z, labels.cpu(), COUNTS, 6.3313)
    assert got.dtype == torch.float64
    assert abs(float(got.detach() - ref.detach())) < 1e-13 * abs(float(ref.detach()))  # loss ~ 10
    # the public exp/log form rounds more than the softplus form: 1.6e-14 measured
    assert float((grads(got, z) - grads(ref, z)).abs().max()) < 1e-13
    with torch.no_grad():
        act = loss_fn.get_activation(z)
        assert torch.allclose(act, ref_ecm_activation(z.clone()), rtol=0, atol=1e-15)
    # large logits: the public exp form overflows in float32, this one stays finite
    big = torch.full((2, C + 1), 100.0, device=device, requires_grad=True)
    out = loss_fn(big, torch.tensor([0, C], device=device))
    assert torch.isfinite(out) and torch.isfinite(grads(out, big)).all()
    with pytest.raises(ValueError, match='0 training images'):
        ECMLoss(C, image_count=[1, 0, 1, 1, 1, 1])


# ----------------------------------------------------------------- IIF for detection
def test_iif_weights_equal_the_public_lvis_table():
    """kostas1515/iif instance_segmentation/lvis_files/idf_1204.csv, the row of a class in
    64 of LVIS v1's 100,170 training images (columns smooth, raw, prob (= 'rel'), normit,
    gombit, base2, base10)."""
    row = dict(smooth=8.340246734689194, raw=7.355740938246138, rel=7.3551018202072465,
               normit=3.2209133650223976, gombit=7.355421396246417,
               base2=10.612090973671634, base10=3.194557699790146)
    for variant, value in row.items():
        w = iif_weights([64, 5000], variant, num_images=100170)
        assert float(w[0]) == pytest.approx(value, abs=1e-9), variant


def test_iif_det_loss_matches_public_code(device):
    z, labels = batch(device)
    loss_fn = IIFDetLoss(C, variant='raw', image_count=COUNTS, num_images=N_IMAGES).to(device)
    w = torch.tensor([math.log(N_IMAGES / n) for n in COUNTS] + [1.0], dtype=torch.float64,
                     device=device)[None]
    ref = F.cross_entropy(z * w, labels, reduction='none').mean()  # public cross_entropy
    got = loss_fn(z, labels)
    assert abs(float((got - ref).detach())) < 1e-14
    assert float((grads(got, z) - grads(ref, z)).abs().max()) < 1e-15
    with torch.no_grad():
        assert torch.allclose(loss_fn.get_activation(z), torch.softmax(w * z, dim=-1),
                              rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match='needs num_images'):
        IIFDetLoss(C, image_count=COUNTS)
    with pytest.raises(ValueError, match='use_sigmoid=True'):
        IIFDetLoss(C, image_count=COUNTS, num_images=N_IMAGES, use_sigmoid=True)


# ----------------------------------------------------------------- NorCal
def ref_norcal(scores, counts, gamma):
    """tydpan/NorCal predict_probs, method 'gamma', calibrate_on 'exps', renorm True."""
    g = 1 / torch.tensor(counts, dtype=scores.dtype, device=scores.device).view(1, -1) ** gamma
    probs = torch.exp(scores)
    probs = torch.cat([probs[:, :-1] * g, probs[:, -1:]], dim=1)
    return probs / probs.sum(dim=1, keepdim=True)


@pytest.mark.parametrize('gamma', [0.0, 0.6, 1.5])
def test_norcal_matches_public_code(device, gamma):
    z, _ = batch(device)
    counts = torch.tensor(COUNTS, dtype=torch.float64)
    got, ref = norcal_scores(z, counts, gamma), ref_norcal(z, COUNTS, gamma)
    assert float((got - ref).detach().abs().max()) < 1e-15
    gw = torch.randn(got.shape, dtype=torch.float64, device=device)
    assert float((grads((got * gw).sum(), z) - grads((ref * gw).sum(), z)).abs().max()) < 1e-15
    pytest.importorskip('mmdet', reason='mmdet not installed (NorCalCrossEntropyLoss extends '
                       'its CrossEntropyLoss)')
    head_loss = NorCalCrossEntropyLoss(C, gamma=gamma, image_count=COUNTS).to(device)
    with torch.no_grad():
        assert torch.allclose(head_loss.get_activation(z), ref, rtol=0, atol=1e-15)
    assert head_loss.get_cls_channels(C) == C + 1
    assert 'image_count' not in head_loss.state_dict()  # a CE checkpoint loads unchanged
    # training is mmdet's softmax cross-entropy, unchanged
    _, labels = batch(device)
    with torch.no_grad():
        assert float(head_loss(z, labels)) == pytest.approx(float(F.cross_entropy(z, labels)),
                                                            abs=1e-14)


# ----------------------------------------------------------------- mmdet SeesawLoss
def paper_seesaw(z, labels, cum, p, q):
    """Seesaw loss, Wang et al. CVPR 2021, with S_ij a constant in the gradient (the
    paper's gradient): L = −log σ̂_y, σ̂_i = e^{z_i} / (Σ_{j≠i} S_ij e^{z_j} + e^{z_i}),
    S_ij = M_ij C_ij, M_ij = (N_j / N_i)^p if N_i > N_j else 1,
    C_ij = (σ_j / σ_i)^q if σ_j > σ_i else 1 (σ: softmax of z). Returns (Σ loss, dL/dz)."""
    n, c = z.shape
    sig = torch.softmax(z, dim=1)
    loss, grad = z.new_zeros(()), torch.zeros_like(z)
    for r in range(n):
        i = int(labels[r])
        s = torch.ones(c, dtype=z.dtype)
        for j in range(c):
            if j == i:
                continue
            m = (cum[j] / cum[i]) ** p if cum[i] > cum[j] else 1.0
            cc = (sig[r, j] / sig[r, i]) ** q if sig[r, j] > sig[r, i] else 1.0
            s[j] = m * cc
        e = torch.exp(z[r] - z[r].max())
        denom = (s * e).sum()
        loss = loss - torch.log(e[i] / denom)
        grad[r] = s * e / denom
        grad[r, i] -= 1.0
    return loss, grad


def test_mmdet_seesaw_loss_matches_the_paper(device):
    pytest.importorskip('mmdet', reason='mmdet not installed (the loss under test is mmdet\'s)')
    from mmdet.models.losses import SeesawLoss
    n = 12
    g = torch.Generator().manual_seed(1)
    z = (torch.randn(n, C + 2, generator=g, dtype=torch.float64)).to(device)
    labels = torch.randint(0, C, (n, ), generator=g)
    labels[::4] = C
    z.requires_grad_(True)
    loss_fn = SeesawLoss(num_classes=C, p=0.8, q=2.0).to(device).double()  # float64 buffers
    prior = torch.tensor([50.0, 20.0, 9.0, 4.0, 2.0, 1.0, 0.0], dtype=torch.float64)
    loss_fn.cum_samples.copy_(prior.to(device))  # a history, every class count >= 1
    out = loss_fn(z, labels.to(device), torch.ones(n, dtype=torch.float64, device=device),
                  avg_factor=n)
    cum = prior.to(torch.float64) + torch.bincount(labels, minlength=C + 1).to(torch.float64)
    pos = labels < C
    ref_l, ref_g = paper_seesaw(z.detach()[pos, :C].cpu(), labels[pos], cum[:C], 0.8, 2.0)
    # mmdet's weight_reduce_loss divides by avg_factor + float32 eps (1.19e-7), not avg_factor
    denom = n + torch.finfo(torch.float32).eps
    got_cls = out['loss_cls_classes']
    assert abs(float(got_cls.detach()) - float(ref_l) / denom) < 1e-14
    g_cls = grads(got_cls, z)[:, :C].cpu()
    assert float((g_cls[pos] - ref_g / denom).abs().max()) < 1e-15
    assert float(g_cls[~pos].abs().max()) == 0.0   # background RoIs: objectness term only
    # objectness: 2-way softmax CE (0 = object, 1 = background) over all RoIs
    ref_obj = F.cross_entropy(z[:, C:], (labels == C).long().to(device), reduction='sum')
    assert abs(float(out['loss_cls_objectness'].detach() - ref_obj.detach() / denom)) < 1e-14


# ----------------------------------------------------------------- mmdet EQLV2Loss
def test_mmdet_eqlv2_loss_matches_the_paper(device):
    """EQL v2, Tan et al. CVPR 2021: f(x) = 1 / (1 + e^{−γ(x − μ)}),
    g_j = accumulated positive / negative gradient of class j, q_j = 1 + α(1 − f(g_j)) on
    positives, r_j = f(g_j) on negatives, gradients accumulated with the weights applied;
    L = Σ_ij w_ij BCE(z_ij, y_ij) / N over C + 1 sigmoid outputs (the background
    column weighted 1 and not accumulated)."""
    pytest.importorskip('mmdet', reason='mmdet not installed (the loss under test is mmdet\'s)')
    from mmdet.models.losses import EQLV2Loss
    gamma, mu, alpha = 12.0, 0.8, 4.0
    loss_fn = EQLV2Loss(num_classes=C, gamma=12, mu=mu, alpha=alpha).to(device).double()
    acc_pos = torch.zeros(C, dtype=torch.float64)
    acc_neg = torch.zeros(C, dtype=torch.float64)
    ratio = torch.full((C, ), 100.0, dtype=torch.float64)     # initial g: weights ~ 1
    for step in range(3):
        z, labels = batch(device, seed=step)
        f = 1 / (1 + torch.exp(-gamma * (ratio - mu)))
        r = torch.cat([f, torch.ones(1, dtype=torch.float64)])
        q = 1 + alpha * (1 - r)
        y = F.one_hot(labels.cpu(), C + 1).to(torch.float64)
        w = y * q + (1 - y) * r
        zc = z.detach().cpu()
        bce = -(y * F.logsigmoid(zc) + (1 - y) * F.logsigmoid(-zc))
        ref_loss = (w * bce).sum() / z.shape[0]
        ref_grad = w * (torch.sigmoid(zc) - y) / z.shape[0]
        got = loss_fn(z, labels)
        assert abs(float(got) - float(ref_loss)) < 1e-13, step
        assert float((grads(got, z).cpu() - ref_grad).abs().max()) < 1e-15, step
        gabs = (torch.sigmoid(zc) - y).abs() * w
        acc_pos += (gabs * y).sum(0)[:C]
        acc_neg += (gabs * (1 - y)).sum(0)[:C]
        ratio = acc_pos / (acc_neg + 1e-10)
        assert float((loss_fn.pos_neg.cpu() - ratio).abs().max()) < 1e-12 * float(ratio.max())
