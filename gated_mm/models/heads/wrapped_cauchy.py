r"""Wrapped-Cauchy cosine classifier, the V3Det classifier of the APA paper's public configs.

Han et al., "Wrapped Cauchy Distributed Angular Softmax for Long-Tailed Visual Recognition"
(ICML 2023); used with a fixed scale s = 300 in the APA paper's V3Det Faster/Cascade R-CNN
(APA paper, Alexandridis et al., ECCV 2024, arXiv:2407.08567; public code kostas1515/AGLU). For class k with weight w_k and a feature x::

    c_k   = ⟨ x / (‖x‖ + ε), w_k / (‖w_k‖ + ε) ⟩                      (cosine, in [−1, 1])
    ρ_k   = sigmoid(g_k)                                              (concentration, (0, 1))
    f_k   = (1 − ρ_k²) / (2π (1 + ρ_k² − 2 ρ_k c_k))                  (wrapped-Cauchy density)
    out_k = s · f_k + b_k

f_k is the density of the angle between x and w_k under a wrapped Cauchy distribution
centred on w_k; the denominator equals (1 − ρ_k)² + 2ρ_k(1 − c_k) > 0. g_k is learned per
class (init ``rho_logit_init``, public code 1.0), s fixed (``scale``) or learned.

Deviations from the public code (options): it adds the linear bias to the cosine before the
density (``bias_position='cosine'``), which lets the denominator reach 0 once c_k + b_k >
(1 + ρ²)/(2ρ); the default here adds it to the logit (``'logit'``), where it cannot. It uses
3.14 for π (a 0.05 % smaller scale); here π. The whole computation runs in float32 under
autocast (the denominator cancels when ρ → 1, c → 1).

Shape: (N, in_features) → (N, out_features) as ``nn.Linear``.
"""
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..registry import register_in_scopes


@register_in_scopes(('mmdet', ))
class WrappedCauchyLinear(nn.Linear):
    """Cosine classifier with wrapped-Cauchy logits (mmdet ``cls_predictor_cfg``).

    ``cls_predictor_cfg=dict(type='WrappedCauchyLinear', scale=300.0)`` in a
    ``Shared2FCBBoxHead`` (the head passes ``in_features``/``out_features``).

    Args:
        in_features, out_features, bias: as ``nn.Linear``.
        scale: s (fixed), or the initial value of a learnable s (``learnable_scale``;
            public default 50 when learnable).
        learnable_scale: learn s.
        rho_logit_init: initial g_k (ρ_k = sigmoid(g_k)); public code 1.0 (ρ = 0.731).
        bias_position: 'logit' (default, out = s·f + b) or 'cosine' (public code,
            f evaluated at c + b).
        eps: ε added to the norms.

    Raises:
        ValueError: scale ≤ 0, eps ≤ 0 or an unknown ``bias_position``.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 scale: float = 300.0,
                 learnable_scale: bool = False,
                 rho_logit_init: float = 1.0,
                 bias_position: str = 'logit',
                 eps: float = 1e-6,
                 **kwargs):
        super().__init__(in_features, out_features, bias=bias, **kwargs)
        if not scale > 0 or not eps > 0:
            raise ValueError(f'WrappedCauchyLinear: scale and eps must be > 0, got '
                             f'scale={scale}, eps={eps}')
        if bias_position not in ('logit', 'cosine'):
            raise ValueError(f"WrappedCauchyLinear: bias_position must be 'logit' or 'cosine', "
                             f'got {bias_position!r}')
        self.bias_position, self.eps = bias_position, float(eps)
        self.learnable_scale = bool(learnable_scale)
        self.rho_logit_init = float(rho_logit_init)
        self.rho_logit = nn.Parameter(torch.full((out_features, ), self.rho_logit_init))
        if self.learnable_scale:
            self.scale = nn.Parameter(torch.tensor(float(scale)))
        else:
            self.register_buffer('scale', torch.tensor(float(scale)), persistent=False)

    def reset_parameters(self):
        """Weights N(0, 0.01), bias 0, g = ``rho_logit_init`` (public code); replaces
        ``nn.Linear``'s Kaiming init, which would be overwritten anyway (one random fill of
        the 13204 x 1024 V3Det weight instead of two)."""
        nn.init.normal_(self.weight, mean=0.0, std=0.01)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        if hasattr(self, 'rho_logit'):  # nn.Linear.__init__ calls this before it exists
            with torch.no_grad():
                self.rho_logit.fill_(self.rho_logit_init)

    init_weights = reset_parameters

    def forward(self, x: Tensor) -> Tensor:
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        with torch.autocast(device_type=x.device.type, enabled=False):
            w = self.weight.to(dtype)
            w = w / (w.norm(dim=1, keepdim=True) + self.eps)
            xf = x.to(dtype)
            xf = xf / (xf.norm(dim=1, keepdim=True) + self.eps)
            cosine = F.linear(xf, w)
            bias = None if self.bias is None else self.bias.to(dtype)
            if bias is not None and self.bias_position == 'cosine':
                cosine = cosine + bias
            rho = torch.sigmoid(self.rho_logit.to(dtype))
            density = (1 - rho.square()) / (2 * math.pi * (1 + rho.square() - 2 * rho * cosine))
            out = self.scale.to(dtype) * density
            if bias is not None and self.bias_position == 'logit':
                out = out + bias
        return out

    def extra_repr(self) -> str:
        kind = 'learnable' if self.learnable_scale else 'fixed'
        return (f'{super().extra_repr()}, scale={float(self.scale.detach()):.4g} ({kind}), '
                f'bias_position={self.bias_position}')
