"""Classification / detection heads, registered in the downstream libraries' ``MODELS``, and
the test-time logit adjustment they take (``logit_adjust``: :class:`IIF`, mmengine root
``MODELS``)."""
from .cosine_cls_head import CosineClsHead  # noqa: F401
from .normed_conv import CosineConv2d  # noqa: F401
from .carafe import CARAFEUpsample, carafe_reassemble  # noqa: F401
from .wrapped_cauchy import WrappedCauchyLinear  # noqa: F401
from .decoupled import AdjustedLinearClsHead, LWSClsHead, TauNormClsHead  # noqa: F401
from .iif import IIF, IIF_VARIANTS, iif_weights  # noqa: F401
from .norcal import NorCalCrossEntropyLoss, norcal_scores  # noqa: F401
