"""tools/analysis_tools/{per_class_accuracy,plot_gate_curves,attention_stats,compare_gates}.py on
a tiny APA + AGLU gated SE-ResNet trained here for one epoch on real Fashion-MNIST-LT (161
images); each tool writes its figure and JSON, and the numbers agree with the registered
metric / the model's own parameters."""
import json
import os.path as osp

import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'fashion_mnist_lt',
                'gated-se-resnet26-w8_apa-aglu_cos-iif_1xb128-10e_fashion-mnist-lt-1k.py')
# floor(40 * 10^(-i/9)) = 40 30 23 18 14 11 8 6 5 4 training images (159); many > 20,
# medium 8-20, few < 8
TINY = f"""
_base_ = [{DEMO!r}]
train_set = dict(type='FashionMNISTLT', split='train', imbalance_ratio=10, max_per_class=40,
                 data_root=None)
model = dict(backbone=dict(stem_channels=4, base_channels=4),
             head=dict(in_channels=128, logit_adjust=dict(train_dataset=train_set)))
train_dataloader = dict(batch_size=32, dataset=dict(imbalance_ratio=10, max_per_class=40))
test_dataloader = dict(batch_size=50, dataset=dict(max_per_class=10))
test_evaluator = dict(train_dataset=train_set, many_thr=20, few_thr=8)
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1), logger=dict(interval=1))
"""


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    from gated_mm.datasets import find_fashion_mnist
    try:
        find_fashion_mnist(None, download=False)
    except FileNotFoundError as e:
        pytest.skip(f'real Fashion-MNIST not available ({str(e)[:150]})')
    from mmengine.config import Config
    from mmengine.runner import Runner

    import gated_mm  # noqa: F401
    root = tmp_path_factory.mktemp('tiny')
    cfg_path = root / 'tiny.py'
    cfg_path.write_text(TINY)
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = str(root / 'work')
    Runner.from_cfg(cfg).train()
    ckpt = (root / 'work' / 'last_checkpoint').read_text().strip()
    return str(cfg_path), ckpt, root


def test_per_class_accuracy(analysis_tool, trained, capsys):
    cfg, ckpt, root = trained
    out = root / 'pc'
    analysis_tool('per_class_accuracy').main([cfg, ckpt, '--out-dir', str(out)])
    assert (out / 'per_class_accuracy.png').stat().st_size > 10_000
    res = json.loads((out / 'per_class_accuracy.json').read_text())
    assert res['train_counts'] == [40, 30, 23, 18, 14, 11, 8, 6, 5, 4]
    assert set(res['metrics']) == {'raw logits', 'IIF rel'}
    # mean of the per-class accuracies is the metric's mean_class (balanced test set: top1)
    for name, acc in res['per_class_accuracy'].items():
        m = res['metrics'][name]
        assert np.isclose(np.mean(acc), m['mean_class']) and np.isclose(m['top1'],
                                                                        m['mean_class'])
        assert np.isclose(np.mean(acc[:3]), m['many']) and np.isclose(np.mean(acc[7:]), m['few'])
    assert 'wrote' in capsys.readouterr().out


def test_gate_curves(analysis_tool, trained):
    cfg, ckpt, root = trained
    out = root / 'gc'
    analysis_tool('plot_gate_curves').main([cfg, ckpt, '--out-dir', str(out)])
    assert (out / 'gate_curves.png').stat().st_size > 10_000
    params = json.loads((out / 'gate_params.json').read_text())
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    # 8 blocks: 8 APA gates; AGLU at stem + 3 per block = 25
    assert sum(p['kind'] == 'APA' for p in params) == 8
    assert sum(p['kind'] == 'AGLU' for p in params) == 25
    first = params[0]  # the stem AGLU
    assert first['name'] == 'backbone.stem_act'
    assert np.isclose(first['kappa'], float(state['backbone.stem_act.kappa']))
    assert np.isclose(first['lambda_'], float(state['backbone.stem_act.lambda_']))


def test_attention_stats(analysis_tool, trained):
    cfg, ckpt, root = trained
    out = root / 'att'
    analysis_tool('attention_stats').main([cfg, ckpt, '--out-dir', str(out)])
    assert (out / 'attention_stats.png').stat().st_size > 10_000
    res = json.loads((out / 'attention_stats.json').read_text())
    assert len(res['blocks']) == 8 and res['groups'] == ['many', 'medium', 'few']
    var, ent = np.array(res['variance'], float), np.array(res['entropy'], float)
    assert var.shape == ent.shape == (8, 3)
    assert (var >= 0).all() and ((ent > 0) & (ent <= 1 + 1e-12)).all()


def test_signal_statistics_by_hand(analysis_tool):
    ga = analysis_tool('gate_analysis')
    a = torch.tensor([[0.5, 0.5, 0.5, 0.5], [1.0, 0.0, 0.0, 0.0], [0.2, 0.4, 0.6, 0.8]])
    var, ent = ga._signal_stats(a)
    np.testing.assert_allclose(var, [0, 0.1875, 0.05], atol=1e-12)
    q = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(ent, [1, 0, -(q * np.log(q)).sum() / np.log(4)], atol=1e-12)


def test_compare_gates_table_and_plots(analysis_tool, trained, capsys):
    cfg, ckpt, root = trained
    work = root / 'cmp'
    # apa-aglu seed 0 is the fixture's run (same model: --reuse finds its checkpoint);
    # sigmoid-relu is trained by the tool (tools/train.py subprocess)
    (work / 'apa-aglu' / 'seed0').mkdir(parents=True)
    (work / 'apa-aglu' / 'seed0' / 'last_checkpoint').write_text(ckpt)
    analysis_tool('compare_gates').main([cfg, '--variants', 'sigmoid-relu', 'apa-aglu',
                                         '--seeds', '0', '--work-dir', str(work), '--reuse'])
    assert (work / 'sigmoid-relu' / 'seed0' / 'epoch_1.pth').is_file()
    for f in ('results.md', 'results.json', 'shot_accuracy.png', 'per_class_accuracy.png',
              'attention_stats.png', 'gate_curves.png'):
        assert (work / f).is_file(), f
    res = json.loads((work / 'results.json').read_text())
    assert [r['variant'] for r in res['runs']] == ['sigmoid-relu', 'apa-aglu']
    assert res['iif'] == 'rel'
    sig = res['runs'][0]
    assert sig['gate_params'] == []  # Sigmoid-SE + ReLU has no APA/AGLU
    assert set(res['summary']['apa-aglu']['iif']) == {'top1', 'many', 'medium', 'few',
                                                      'mean_class'}
    table = (work / 'results.md').read_text()
    assert '| Sigmoid-SE + ReLU | IIF rel |' in table and '| APA-SE + AGLU | raw |' in table
