"""The shared runtime policy (configs/_base_/default_runtime.py) reaches every shipped config,
mmdet configs keep mmdet's runtime (scope, hooks, visualizer), and the ProgressBarHook draws
a bar over the validation / test batches of a real mmengine Runner."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import gated_mm  # noqa: F401
from gated_mm.engine import ProgressBarHook

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_runtime_policy_everywhere(path):
    cfg = Config.fromfile(path)
    backends = [b['type'] for b in cfg.visualizer.vis_backends]
    assert 'TensorboardVisBackend' in backends, f'{path.name}: {backends}'  # README's promise
    assert 'LocalVisBackend' in backends
    assert cfg.default_hooks.progress.type == 'ProgressBarHook'
    assert cfg.default_hooks.checkpoint.get('max_keep_ckpts', 0) >= 1
    assert cfg.default_hooks.logger.interval <= 50
    scope = cfg.default_scope
    assert scope in ('mmpretrain', 'mmdet')
    if scope == 'mmdet':  # mmdet's own runtime hooks and visualizer, built in its scope
        assert cfg.default_hooks.visualization.type == 'DetVisualizationHook'
        assert cfg.default_hooks.visualization._scope_ == 'mmdet'
        assert cfg.visualizer.type == 'DetLocalVisualizer'
        assert cfg.visualizer._scope_ == 'mmdet'
    else:
        assert cfg.default_hooks.visualization.type == 'VisualizationHook'
        assert cfg.visualizer.type == 'UniversalVisualizer'
        assert cfg.log_processor.window_size == 50


def test_imagenet_lt_base_splits():
    cfg = Config.fromfile(ROOT / 'configs/imagenet_lt/gated-se-resnet50_apa-aglu_8xb32-200e_imagenet-lt.py')
    assert cfg.train_dataloader.dataset.ann_file == 'ImageNet_LT_train.txt'
    assert cfg.val_dataloader.dataset.ann_file == 'ImageNet_LT_val.txt'
    assert cfg.test_dataloader.dataset.ann_file == 'ImageNet_LT_test.txt'
    assert cfg.model.head.logit_adjust.train_ann_file == 'data/imagenet/ImageNet_LT_train.txt'
    assert cfg.test_evaluator.type == 'ShotAccuracy'


class _Data(torch.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return torch.full((2, ), float(i))


def test_progress_bar_hook_in_a_real_runner(tmp_path, capsys):
    from mmengine.evaluator import BaseMetric
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Model(BaseModel):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return [dict(v=float(v.sum() * self.w)) for v in inputs]

    class Metric(BaseMetric):
        def process(self, data_batch, data_samples):
            self.results.extend(d['v'] for d in data_samples)

        def compute_metrics(self, results):
            return dict(total=sum(results))

    def collate(batch):
        return dict(inputs=torch.stack(batch))

    loader = dict(dataset=_Data(), batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=collate)
    runner = Runner(model=Model(), work_dir=str(tmp_path), test_dataloader=loader,
                    test_cfg=dict(), test_evaluator=Metric(),
                    default_hooks=dict(progress=dict(type='ProgressBarHook', bar_width=10)),
                    default_scope='mmengine')
    assert any(isinstance(h, ProgressBarHook) for h in runner.hooks)
    metrics = runner.test()
    assert metrics['total'] == pytest.approx(2 * sum(range(5)))
    err = capsys.readouterr().err
    assert '3/3' in err and 'ETA' in err  # 5 samples, batch 2: three batches
    assert err.count('/3,') >= 3  # the bar advanced once per batch (0/3 ... 3/3)
