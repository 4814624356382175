"""Metrics for long-tailed recognition, registered in mmpretrain's ``METRICS``, and
``FasterLVISMetric`` and ``StreamedLVISMetric`` (mmdet ``METRICS``: LVIS evaluation with
faster-coco-eval; with results spilled to disk and evaluated by category chunk)."""
from .shot_accuracy import ShotAccuracy, shot_groups

from .calibration import (CalibrationError, calibration_errors, probabilities,  # noqa: F401
                          reliability_bins)
from .faster_lvis import FasterLVISMetric, faster_lvis_evaluate  # noqa: F401
from .lvis_streaming import StreamedLVISMetric, evaluate_chunked  # noqa: F401

__all__ = ['ShotAccuracy', 'shot_groups']
