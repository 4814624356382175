r"""Normalised (cosine) convolution: the mask predictor of the GOL LVIS recipe.

For each output channel k and location p (GOL: Alexandridis et al., ECCV
2022, arXiv:2207.10936, and the APA paper's LVIS models; public code kostas1515/GOL and
kostas1515/AGLU)::

    out_k(p) = τ · ⟨ x(p) / (‖x(p)‖ + ε),  w_k / (‖w_k‖ + ε) ⟩ + b_k

‖x(p)‖ is the L2 norm over input channels at p, ‖w_k‖ the L2 norm of filter k over input
channels (per kernel tap; ``norm_over_kernel=True``: over the whole C_in·k·k filter; the two
agree for the 1×1 mask predictor). The logit of each class is thus a cosine similarity in
[−1, 1] scaled by the temperature τ:

* fixed: τ = ``temperature`` (R101 recipe: 20);
* learnable: τ = θ² with θ a parameter initialised to ``temperature`` (R50 recipe: 4.5, so
  τ = 20.25 at init), ``learnable=True, squared=True`` (the public code's form); or τ = θ
  (``squared=False``).

mmdet's own ``NormedConv2d`` has the fixed temperature only (and spells it
``tempearture``); this module adds the learnable one and computes the norms in float32
under autocast (bfloat16 squares of 256 channels lose the norm's low digits).

Shape: (N, C_in, H, W) → (N, C_out, H', W') as ``nn.Conv2d``.
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..registry import register_in_scopes


@register_in_scopes(('mmdet', ))
class CosineConv2d(nn.Conv2d):
    """Conv2d on L2-normalised inputs and filters, times a fixed or learnable temperature.

    Used as FCNMaskHead's ``predictor_cfg=dict(type='CosineConv2d', temperature=20.0)`` or
    ``dict(type='CosineConv2d', temperature=4.5, learnable=True, squared=True)``.

    Args:
        *args, **kwargs: ``nn.Conv2d`` arguments (in_channels, out_channels, kernel_size...).
        temperature: τ (fixed) or the initial value of θ (learnable).
        learnable: learn the temperature (one scalar parameter ``temperature``).
        squared: with ``learnable``, τ = θ² (public code) instead of τ = θ.
        eps: ε added to the norms.
        norm_over_kernel: normalise each filter over C_in·k·k instead of over C_in per tap.

    Raises:
        ValueError: temperature ≤ 0 or eps ≤ 0.
    """

    def __init__(self,
                 *args,
                 temperature: float = 20.0,
                 learnable: bool = False,
                 squared: bool = True,
                 eps: float = 1e-6,
                 norm_over_kernel: bool = False,
                 **kwargs):
        super().__init__(*args, **kwargs)
        if not temperature > 0 or not eps > 0:
            raise ValueError(f'CosineConv2d: temperature and eps must be > 0, got '
                             f'temperature={temperature}, eps={eps}')
        self.learnable, self.squared = bool(learnable), bool(squared)
        self.eps, self.norm_over_kernel = float(eps), bool(norm_over_kernel)
        if self.learnable:
            self.temperature = nn.Parameter(torch.tensor(float(temperature)))
        else:
            self.register_buffer('temperature', torch.tensor(float(temperature)),
                                 persistent=False)

    @property
    def scale(self) -> Tensor:
        """τ: the factor multiplying the cosine."""
        if self.learnable and self.squared:
            return self.temperature.square()
        return self.temperature

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            w = self.weight.float() if self.weight.dtype != torch.float64 else self.weight
            if self.norm_over_kernel:
                w_norm = w.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            else:
                w_norm = w.norm(dim=1, keepdim=True)
            w = w / (w_norm + self.eps)
            xf = x.to(w.dtype)
            xf = xf / (xf.norm(dim=1, keepdim=True) + self.eps) * self.scale.to(w.dtype)
        # back to the module's dtypes; the convolution itself runs under autocast (if on)
        return self._conv_forward(xf.to(x.dtype), w.to(self.weight.dtype), self.bias)

    def extra_repr(self) -> str:
        kind = ('learnable, tau = theta^2' if self.learnable and self.squared else
                'learnable' if self.learnable else 'fixed')
        temperature = float(self.temperature.detach())
        return f'{super().extra_repr()}, temperature={temperature:.4g} ({kind})'
