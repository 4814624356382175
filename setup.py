"""Package metadata for gated_mm.

Dependencies are installed by ``tools/setup_env.sh`` (mmcv must be compiled against the
installed torch, and the OpenMMLab packages are installed without their GUI OpenCV pin),
so ``install_requires`` lists only what pip can resolve on its own safely. setup_env.sh does
not install this package into any environment: each clone's ``.venv`` puts the clone itself on
``sys.path`` (see the script's header).
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

version = re.search(r"__version__ = '([^']+)'",
                    Path(__file__).with_name('gated_mm').joinpath('version.py').read_text()).group(1)

setup(
    name='gated_mm',
    version=version,
    description='Learned activations and attention gates (APA, AGLU, IIEU, AdaShift, GE, SE, '
                'CBAM) for long-tailed recognition and detection on MMDetection / MMPretrain',
    long_description=Path(__file__).with_name('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['gated_mm', 'gated_mm.*']),
    python_requires='>=3.9',
    install_requires=['numpy', 'torch>=2.0'],
    extras_require={'deploy': ['onnx', 'onnxruntime'],  # requirements/deploy.txt
                    'lvis_fast': ['faster-coco-eval==1.8.0']},  # requirements/lvis_fast.txt
    license='Apache-2.0',
    zip_safe=False,
)
