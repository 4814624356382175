"""Package metadata for gated_mm.

Two ways in:

* this clone: ``tools/setup_env.sh`` builds the environment (mmcv compiled against the installed
  torch, the OpenMMLab packages installed with ``--no-deps`` so that their GUI ``opencv-python``
  requirement does not pull OpenCV 5) and puts the clone itself on ``sys.path`` (see the
  script's header); nothing is installed;
* an existing OpenMMLab environment: ``pip install .`` (or ``pip install -e .``) declares the
  tested versions below. torch, torchvision and mmcv 2.1.0 with its compiled ops are
  prerequisites, not requirements: mmcv must be built for the environment's own torch (and
  CUDA), which pip cannot choose; ``import gated_mm`` says what is missing and the command.

``install_requires``: ``requirements/openmmlab.txt`` (mmengine, mmdet, mmpretrain, lvis, pinned
to the tested releases) and ``requirements/runtime.txt`` without its OpenCV line (mmengine and lvis
already require ``opencv-python``; a second, headless OpenCV next to it would shadow it).
Extras: ``deploy``, ``lvis_fast``, ``analysis``, ``tests`` (``requirements/<name>.txt``).

The configs and the tools ship inside the package as OpenMMLab packages ship theirs:
``gated_mm/.mim/configs`` and ``gated_mm/.mim/tools`` (links to ``configs/`` and ``tools/`` in
the repository, copied into the wheel), so that ``_base_ = 'gated_mm::<dir>/<file>.py'``
works outside the clone (see ``gated_mm/compat.py``) and the tools run from there.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
version = re.search(r"__version__ = '([^']+)'",
                    ROOT.joinpath('gated_mm', 'version.py').read_text()).group(1)

# runtime.txt lines that are the clone environment's choice, not a requirement of the package
NOT_REQUIRED = ('opencv-python-headless', )


def requirements(name, skip=()):
    """The requirement lines of ``requirements/<name>.txt`` (comments and blanks dropped)."""
    out = []
    for line in ROOT.joinpath('requirements', f'{name}.txt').read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if line and re.split(r'[<>=!~;\[ ]', line, maxsplit=1)[0] not in skip:
            out.append(line)
    return out


def mim_files():
    """Paths, relative to ``gated_mm/``, of the configs and tools shipped under ``.mim``."""
    base = ROOT / 'gated_mm'
    files = []
    for sub, patterns in (('configs', ('*.py', )), ('tools', ('*.py', '*.sh'))):
        for pattern in patterns:
            files += sorted(str(p.relative_to(base)) for p in (base / '.mim' / sub).rglob(pattern)
                            if '__pycache__' not in p.parts)
    return files


setup(
    name='gated_mm',
    version=version,
    description='Learned activations and attention gates (APA, AGLU, IIEU, AdaShift, GE, SE, '
                'CBAM) for long-tailed recognition and detection on MMDetection / MMPretrain',
    long_description=ROOT.joinpath('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['gated_mm', 'gated_mm.*']),
    package_data={'gated_mm': mim_files()},
    python_requires='>=3.9',
    install_requires=(['torch>=2.0'] + requirements('openmmlab')
                      + requirements('runtime', skip=NOT_REQUIRED)),
    extras_require={name: requirements(name)
                    for name in ('deploy', 'lvis_fast', 'analysis', 'tests')},
    license='Apache-2.0',
    zip_safe=False,
)
