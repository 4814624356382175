"""Test-wide settings.

The APA/AGLU kernels are checked against the float64 references in their eager form
(``GATED_MM_COMPILE=0``), which compiles nothing; ``test_activations.py`` compares the
compiled kernels with the eager ones separately. Subprocesses (tools/*.py) inherit this.
"""
import os

os.environ.setdefault('GATED_MM_COMPILE', '0')
