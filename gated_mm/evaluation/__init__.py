"""Metrics for long-tailed recognition, registered in mmpretrain's ``METRICS``, and
``FasterLVISMetric`` (mmdet ``METRICS``: LVIS evaluation with faster-coco-eval)."""
from .shot_accuracy import ShotAccuracy, shot_groups

from .calibration import (CalibrationError, calibration_errors, probabilities,  # noqa: F401
                          reliability_bins)
from .faster_lvis import FasterLVISMetric, faster_lvis_evaluate  # noqa: F401

__all__ = ['ShotAccuracy', 'shot_groups']
