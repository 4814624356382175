from . import activations, attention, backbones, heads  # noqa: F401
from . import losses  # noqa: F401
