from . import activations, attention, backbones, gating, heads  # noqa: F401
from . import losses  # noqa: F401
