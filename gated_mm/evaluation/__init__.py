"""Metrics for long-tailed recognition, registered in mmpretrain's ``METRICS``."""
from .shot_accuracy import ShotAccuracy, shot_groups

__all__ = ['ShotAccuracy', 'shot_groups']
