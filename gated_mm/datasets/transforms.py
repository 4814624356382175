"""Image transforms, registered in mmpretrain's ``TRANSFORMS``."""
import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ToGrayscale(BaseTransform):
    """Convert ``results['img']`` to one channel (H, W) for a model with ``in_channels=1``.

    A 3-channel image (BGR, as ``mmcv.imread`` and mmpretrain's ``ImageClassificationInferencer``
    load every file, grey files included) becomes ``0.299 R + 0.587 G + 0.114 B`` (OpenCV's
    ``COLOR_BGR2GRAY``; a grey file read as three equal channels gives its own values back);
    (H, W, 1) is squeezed to (H, W); an (H, W) image is left as it is. ``PackInputs`` then
    packs it as a (1, H, W) tensor. The dtype is kept.

    Raises:
        ValueError: an image that is not (H, W), (H, W, 1) or (H, W, 3).
    """

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 3 and img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        elif img.ndim == 3 and img.shape[2] == 1:
            img = img[..., 0]
        elif img.ndim != 2:
            raise ValueError(f'ToGrayscale: expected an (H, W), (H, W, 1) or (H, W, 3) image, '
                             f'got shape {img.shape}')
        results['img'] = np.ascontiguousarray(img)
        results['img_shape'] = img.shape[:2]
        return results
