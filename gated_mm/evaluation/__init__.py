"""Metrics for long-tailed recognition, registered in mmpretrain's ``METRICS``."""
from .shot_accuracy import ShotAccuracy, shot_groups

from .calibration import (CalibrationError, calibration_errors, probabilities,  # noqa: F401
                          reliability_bins)

__all__ = ['ShotAccuracy', 'shot_groups']
