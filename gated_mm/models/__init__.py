from . import activations, attention, backbones  # noqa: F401
