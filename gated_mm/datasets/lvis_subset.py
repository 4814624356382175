"""LVIS datasets for converted subsets (mmdet ``DATASETS``), and the LVIS-format helpers of
:mod:`gated_mm.datasets.lvis_convert` re-exported.

* :class:`LVISSubsetDataset` is mmdet's ``LVISV1Dataset`` whose class names come from the
  annotation file (``LVISV1Dataset`` hard-codes the 1203 LVIS v1 names);
* :func:`convert_coco_to_lvis`, :func:`load_category_frequency`: see ``lvis_convert.py``.
"""
import os.path as osp
from typing import Optional

from .lvis_convert import (LVIS_URL_PREFIX, convert_coco_to_lvis, frequency_group,  # noqa: F401
                           load_category_frequency)

try:  # mmdet is optional for the rest of gated_mm
    from mmdet.datasets import LVISV1Dataset
    from mmdet.registry import DATASETS
except ImportError:  # pragma: no cover
    LVISV1Dataset = None

if LVISV1Dataset is not None:

    @DATASETS.register_module()
    class LVISSubsetDataset(LVISV1Dataset):
        """mmdet ``LVISV1Dataset`` whose classes are the annotation file's categories.

        For LVIS v1-format files with other categories than LVIS v1's 1203 (e.g. the
        mini-LVIS files of ``tools/dataset_converters/coco_to_lvis.py``): ``classes`` are the
        category names in file order (mmdet's label order), unless ``metainfo`` gives them.
        Everything else (``coco_url`` paths, filtering, RFS wrapping) is ``LVISV1Dataset``.

        Raises:
            FileNotFoundError: ``ann_file`` (joined to ``data_root``) does not exist.
        """

        def __init__(self, *args, ann_file: str = '', metainfo: Optional[dict] = None,
                     data_root: str = '', backend_args: Optional[dict] = None,
                     **kwargs):
            metainfo = dict(metainfo or {})
            if 'classes' not in metainfo:
                path = ann_file
                if data_root and not osp.isabs(ann_file):
                    path = osp.join(data_root, ann_file)
                from mmengine.fileio import exists, load
                if not exists(path, backend_args=backend_args):
                    raise FileNotFoundError(
                        f'LVISSubsetDataset: annotation file not found: {path} (ann_file='
                        f'{ann_file!r}, data_root={data_root!r}); make it with '
                        f'tools/dataset_converters/coco_to_lvis.py')
                cats = load(path, backend_args=backend_args)['categories']
                metainfo['classes'] = tuple(c['name'] for c in cats)
                metainfo.setdefault('palette', None)
            super().__init__(*args, ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                             backend_args=backend_args, **kwargs)
else:  # pragma: no cover
    LVISSubsetDataset = None
