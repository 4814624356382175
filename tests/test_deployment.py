"""Deployment: ONNX export checked in onnxruntime on real images (dynamic batch and size),
TorchScript trace + save of the gated model, and mmpretrain's ImageClassificationInferencer
from a grey image file with the 1-channel quick-start model."""
import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import gated_mm  # noqa: F401
from gated_mm.datasets import ToGrayscale

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / 'configs/fashion_mnist_lt/gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py'
FMNIST = Path('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz')


@pytest.fixture(scope='module')
def grey_images(tmp_path_factory):
    """Three real Fashion-MNIST test images as grey PNG files."""
    if not FMNIST.exists():
        pytest.skip('Fashion-MNIST (Debian package dataset-fashion-mnist) not installed')
    import cv2
    with gzip.open(FMNIST) as f:
        imgs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:3]
    out = tmp_path_factory.mktemp('fmnist')
    paths = []
    for i, img in enumerate(imgs):
        paths.append(str(out / f'{i}.png'))
        cv2.imwrite(paths[-1], img)
    return paths


def test_to_grayscale_matches_the_luma_formula():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = ToGrayscale()(dict(img=bgr))
    ref = bgr[..., 2] * 0.299 + bgr[..., 1] * 0.587 + bgr[..., 0] * 0.114  # float64
    assert out['img'].shape == (5, 7) and out['img_shape'] == (5, 7)
    assert np.abs(out['img'].astype(np.float64) - ref).max() <= 0.5 + 1e-9
    grey = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    np.testing.assert_array_equal(ToGrayscale()(dict(img=np.repeat(grey[..., None], 3, 2)))['img'],
                                  grey)
    np.testing.assert_array_equal(ToGrayscale()(dict(img=grey[..., None]))['img'], grey)
    with pytest.raises(ValueError, match='ToGrayscale'):
        ToGrayscale()(dict(img=np.zeros((2, 2, 4), np.uint8)))


def test_inferencer_from_a_grey_image_file(grey_images):
    from mmpretrain.apis import ImageClassificationInferencer
    inferencer = ImageClassificationInferencer(str(QUICK), device='cpu')
    results = inferencer(grey_images[:2])
    assert len(results) == 2
    for r in results:
        assert 0 <= r['pred_label'] < 10
        assert len(r['pred_scores']) == 10
        assert abs(sum(r['pred_scores']) - 1) < 1e-5


def test_pytorch2onnx_quickstart_model(grey_images, tmp_path):
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    cmd = [sys.executable, str(ROOT / 'tools/deployment/pytorch2onnx.py'), str(QUICK),
           '--images', *grey_images, '--out', str(tmp_path / 'm.onnx'),
           '--torchscript', str(tmp_path / 'm.pt')]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for what in ('onnxruntime batch 3 28x28', 'onnxruntime batch 1', 'onnxruntime 60x92',
                 'torchscript output 0', 'torchscript 60x92'):
        assert what in out, out
    assert 'max abs diff' in out and 'ok: onnxruntime and TorchScript match PyTorch' in out

    # The saved files are real models: onnxruntime and the reloaded TorchScript file give the
    # eager model's logits on a batch of a size and image size not used at export.
    import onnxruntime as ort
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(QUICK)
    ts = torch.jit.load(str(tmp_path / 'm.pt'))
    x = torch.rand(2, 1, 36, 44, dtype=torch.float32) * 255
    sess = ort.InferenceSession(str(tmp_path / 'm.onnx'), providers=['CPUExecutionProvider'])
    (onnx_out, ) = sess.run(None, {'input': x.numpy()})
    with torch.no_grad():
        ts_out = ts(x)[0]
    assert onnx_out.shape == (2, 10)
    np.testing.assert_allclose(onnx_out, ts_out.numpy(), rtol=1e-4, atol=1e-5)
    assert MODELS.get(cfg.model.type) is not None


def test_unknown_config_is_a_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / 'tools/deployment/pytorch2onnx.py'),
                           'nope.py', '--images', 'x.png'], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    assert proc.returncode != 0
    if 'needs onnx' not in proc.stderr:
        assert proc.stderr.strip().splitlines()[-1] == 'pytorch2onnx.py: error: config nope.py not found'
