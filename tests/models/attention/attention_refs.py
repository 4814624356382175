"""float64 references shared by the attention tests (imported as ``attention_refs``: pytest puts
this folder on sys.path), written from the equations: explicit batch statistics, LayerNorm and
gates, no code shared with the modules."""
import torch

from gated_mm.models.activations import APA

D = torch.float64


def ln(v, weight, bias, eps):
    mean = v.mean(-1, keepdim=True)
    var = ((v - mean)**2).mean(-1, keepdim=True)
    return (v - mean) / torch.sqrt(var + eps) * weight + bias


def bn_train(s, bn):  # batch statistics over (N, H, W), biased variance
    mean = s.mean(dim=(0, 2, 3), keepdim=True)
    var = ((s - mean)**2).mean(dim=(0, 2, 3), keepdim=True)
    return (s - mean) / torch.sqrt(var + bn.eps) * bn.weight.view(1, -1, 1, 1) + \
        bn.bias.view(1, -1, 1, 1)


def gate(z, module):
    if isinstance(module, APA):  # APA paper Eq. (4), direct form
        return (module.lambda_ * torch.exp(-module.kappa * z) + 1)**(-1 / module.lambda_)
    return 1 / (1 + torch.exp(-z))

def randomise(m, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith('kappa'):
                p.uniform_(0.3, 1.2)
            elif name.endswith('lambda_'):
                p.uniform_(0.3, 1.5)
            elif name.endswith('bias'):
                p.uniform_(-0.3, 0.3)
            elif p.dim() == 1:
                p.uniform_(0.5, 1.5)
    return m


def compare(m, ref, x):
    grads = []
    for fn in (m, lambda t: ref(t, m)):
        m.zero_grad()
        xa = x.clone().requires_grad_()
        out = fn(xa)
        out.backward(torch.cos(3 * out.detach()))
        grads.append([out.detach(), xa.grad] +
                     [torch.zeros_like(p) if p.grad is None else p.grad.clone()
                      for p in m.parameters()])
    names = ['out', 'x'] + [n for n, _ in m.named_parameters()]
    for a, b, name in zip(*grads, names):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=name)
