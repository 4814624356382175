#!/usr/bin/env python
"""Export a gated_mm classifier (or a detector's backbone) to ONNX and check it in onnxruntime.

    python tools/deployment/pytorch2onnx.py CONFIG [CHECKPOINT] --images IMG [IMG ...]
        [--out model.onnx] [--shape H W] [--backbone-only] [--opset 17]
        [--torchscript model.pt] [--atol 1e-4 --rtol 1e-3]

What is exported: the network on a float image batch (N, C, H, W) in the config's channel
order, with the config's ``data_preprocessor`` normalisation ((x - mean) / std) inside the
graph; outputs: the classifier's logits ``cls_score`` (N, num_classes) (test-time IIF logit
adjustment and softmax are post-processing in ``predict`` and are not part of the graph), or
with ``--backbone-only`` (any config, detectors included) the backbone's feature maps
``feat0 ... featK``. Batch, height and width are dynamic axes.

Check: every image of ``--images`` is read (``mmcv.imread``; grey for a 1-channel model,
BGR -> RGB when the preprocessor has ``to_rgb``), resized to ``--shape`` (default: the
config's test crop or resize, else the first image's size) and run through PyTorch and onnxruntime, as one batch and one
by one, and at a second image size; the maximum absolute and relative difference of each
output is printed, and the script exits non-zero if one exceeds ``--atol`` + ``--rtol``·|ref|.

``--torchscript FILE`` also saves ``torch.jit.trace(...)`` of the same wrapper (the gated
activations trace their plain-op path: the fused autograd Functions cannot be serialised by
TorchScript) and checks the reloaded file the same way. Dynamic shapes hold for ONNX; the
TorchScript trace is shape-specialised only where the model's Python branches on shape
(AdaShift-MA's grid, IIEU's padding), which this script does not check.

Needs ``onnx`` and ``onnxruntime`` (``requirements/deploy.txt``).
"""
import argparse
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Export a gated_mm model to ONNX and check it')
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?', help='weights (default: the initialised model)')
    p.add_argument('--images', nargs='+', required=True, help='real images for the check')
    p.add_argument('--out', default='model.onnx')
    p.add_argument('--shape', nargs=2, type=int, metavar=('H', 'W'))
    p.add_argument('--backbone-only', action='store_true',
                   help='export model.backbone (e.g. of a detector)')
    p.add_argument('--opset', type=int, default=17)
    p.add_argument('--torchscript', metavar='FILE', help='also save a traced TorchScript file')
    p.add_argument('--atol', type=float, default=1e-4)
    p.add_argument('--rtol', type=float, default=1e-3)
    return p.parse_args(argv)


def fail(msg):
    sys.exit(f'pytorch2onnx.py: error: {msg}')


def build(cfg_path, checkpoint):
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope, init_default_scope
    from mmengine.runner import load_checkpoint

    import gated_mm  # noqa: F401
    if not osp.isfile(cfg_path):
        fail(f'config {cfg_path} not found')
    cfg = Config.fromfile(cfg_path)
    scope = cfg.get('default_scope', 'mmpretrain')
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
    if checkpoint:
        if not osp.isfile(checkpoint):
            fail(f'checkpoint {checkpoint} not found')
        load_checkpoint(model, checkpoint, map_location='cpu')
    model.eval()
    return cfg, model.to(torch.float32)


class Deployable:
    """A plain ``nn.Module`` around the model: normalisation + network, tensors out."""

    def __new__(cls, model, backbone_only):
        import torch

        prep = model.data_preprocessor
        mean = getattr(prep, 'mean', None)
        std = getattr(prep, 'std', None)

        class _Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model
                self.backbone_only = backbone_only
                self.register_buffer('mean', None if mean is None else mean.clone().float())
                self.register_buffer('std', None if std is None else std.clone().float())

            def forward(self, x):
                if self.mean is not None:
                    x = (x - self.mean) / self.std
                if self.backbone_only:
                    return tuple(self.model.backbone(x))
                out = self.model(x, mode='tensor')
                return out if isinstance(out, tuple) else (out, )

        return _Net().eval()


def in_channels(model):
    b = model.backbone
    return int(getattr(b, 'in_channels', 3))


def read_images(paths, shape, channels, to_rgb):
    import mmcv
    import numpy as np
    import torch
    imgs = []
    for p in paths:
        img = mmcv.imread(p, flag='grayscale' if channels == 1 else 'color')
        if img is None:
            fail(f'cannot read image {p}')
        if channels == 3 and to_rgb:
            img = mmcv.bgr2rgb(img)
        img = mmcv.imresize(img, (shape[1], shape[0]))
        if img.ndim == 2:
            img = img[..., None]
        imgs.append(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float())
    return torch.stack(imgs)


def default_shape(cfg):
    try:
        for t in cfg.test_dataloader.dataset.pipeline:
            if t.get('type') in ('CenterCrop', ) and 'crop_size' in t:
                s = t['crop_size']
                return (s, s) if isinstance(s, int) else tuple(s)
            if t.get('type') == 'Resize' and 'scale' in t:
                s = t['scale']
                return (s, s) if isinstance(s, int) else (s[1], s[0])
    except (AttributeError, KeyError, TypeError):
        pass
    return None


def compare(name, ref, out, atol, rtol):
    """Print and return whether max |out - ref| <= atol + rtol |ref| for every output."""
    import numpy as np
    ok = True
    for i, (r, o) in enumerate(zip(ref, out)):
        r = r.detach().double().numpy() if hasattr(r, 'detach') else np.asarray(r, np.float64)
        o = o.detach().double().numpy() if hasattr(o, 'detach') else np.asarray(o, np.float64)
        if r.shape != o.shape:
            print(f'{name} output {i}: shape {o.shape} != PyTorch {r.shape}')
            ok = False
            continue
        diff = np.abs(o - r)
        rel = diff.max() / max(np.abs(r).max(), 1e-12)
        good = bool(np.all(diff <= atol + rtol * np.abs(r)))
        ok &= good
        print(f'{name} output {i} {tuple(r.shape)}: max abs diff {diff.max():.3e}, '
              f'max rel diff (to max |ref|) {rel:.3e}{"" if good else "  FAIL"}')
    return ok


def main(argv=None):
    args = parse_args(argv)
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        fail('needs onnx and onnxruntime: pip install -r requirements/deploy.txt')
    import torch

    cfg, model = build(args.config, args.checkpoint)
    if not args.backbone_only and not hasattr(model, 'head'):
        fail('the model has no classification head; use --backbone-only for detectors')
    net = Deployable(model, args.backbone_only)
    channels = in_channels(model)
    to_rgb = bool(cfg.model.get('data_preprocessor', {}).get('to_rgb', False))
    shape = tuple(args.shape) if args.shape else default_shape(cfg)
    if shape is None:  # no resize in the test pipeline: the first image's own size
        import mmcv
        first = mmcv.imread(args.images[0])
        if first is None:
            fail(f'cannot read image {args.images[0]}')
        shape = first.shape[:2]
    x = read_images(args.images, shape, channels, to_rgb)
    with torch.no_grad():
        ref = net(x)
    names = [f'feat{i}' for i in range(len(ref))] if args.backbone_only else ['cls_score']
    dynamic = {'input': {0: 'batch', 2: 'height', 3: 'width'}}
    dynamic.update({n: {0: 'batch'} for n in names})
    torch.onnx.export(net, (x, ), args.out, input_names=['input'], output_names=names,
                      dynamic_axes=dynamic, opset_version=args.opset, dynamo=False)
    onnx.checker.check_model(onnx.load(args.out))
    print(f'exported {args.out} (opset {args.opset}; input (batch, {channels}, height, width))')

    sess = ort.InferenceSession(args.out, providers=['CPUExecutionProvider'])
    run = lambda t: sess.run(None, {'input': t.numpy()})  # noqa: E731
    ok = compare(f'onnxruntime batch {len(x)} {shape[0]}x{shape[1]}', ref, run(x), args.atol,
                 args.rtol)
    ok &= compare('onnxruntime batch 1', [r[:1] for r in ref], run(x[:1]), args.atol, args.rtol)
    shape2 = (shape[0] + 32, shape[1] + 64)  # a second, non-square size
    x2 = read_images(args.images, shape2, channels, to_rgb)
    with torch.no_grad():
        ref2 = net(x2)
    ok &= compare(f'onnxruntime {shape2[0]}x{shape2[1]}', ref2, run(x2), args.atol, args.rtol)

    if args.torchscript:
        with torch.no_grad():
            traced = torch.jit.trace(net, (x, ), check_trace=False)
        traced.save(args.torchscript)
        loaded = torch.jit.load(args.torchscript)
        with torch.no_grad():
            ok &= compare('torchscript', ref, loaded(x), args.atol, args.rtol)
            ok &= compare(f'torchscript {shape2[0]}x{shape2[1]}', ref2, loaded(x2), args.atol,
                          args.rtol)
        print(f'saved {args.torchscript}')
    if not ok:
        sys.exit('pytorch2onnx.py: error: the exported model differs from PyTorch beyond '
                 f'--atol {args.atol} / --rtol {args.rtol}')
    print('ok: onnxruntime' + (' and TorchScript' if args.torchscript else '')
          + ' match PyTorch')


if __name__ == '__main__':
    main()
