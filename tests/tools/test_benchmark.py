"""tools/analysis_tools/benchmark.py --memory-only: the deterministic saved-tensor tables (no
timing) and the issue's memory targets read from them."""
import json

import pytest


@pytest.fixture(scope='module')
def bench(analysis_tool):
    return analysis_tool('benchmark')


def test_memory_only_op_and_model_tables(bench, tmp_path, capsys):
    bench.main(['all', '--memory-only', '--shape', '2', '64', '56', '56', '--depth', '26',
                '--batch', '1', '--size', '64', '--device', 'cpu', '--work-dir',
                str(tmp_path)])
    assert 'saved / reference' in capsys.readouterr().out
    ops = {(r['op'], r['variant']): r
           for r in json.loads((tmp_path / 'benchmark_op.json').read_text())['rows']}
    assert all(r['median'] is None for r in ops.values())  # nothing timed
    for op in ('AGLU', 'APA'):
        assert ops[op, 'ours']['saved_ratio'] < 1.01  # the input (and κ, λ) only
    assert ops['IIEU-B', 'ours']['saved_vs_reference'] <= 0.5  # issue target
    assert ops['AdaShift-MA', 'ours']['saved_ratio'] <= 1.15  # x + O(N·C·7²)
    assert ops['AdaShift-MA', 'reference']['saved_ratio'] > 1.9  # + the sigmoid output
    models = {r['model']: r
              for r in json.loads((tmp_path / 'benchmark_model.json').read_text())['rows']}
    assert models['APA + AGLU (ours)']['saved_ratio'] <= 1.05  # issue target
    assert (models['APA + AGLU (ours, block end unfused)']['saved_bytes'] >
            models['APA + AGLU (ours)']['saved_bytes'])


def test_inference_table_folds_and_fuses(bench, tmp_path, capsys, timer_spy):
    """One repetition at a detection-like H x W: every variant runs, its images/s is the batch
    over the time measured for it, the folded ones report their BatchNorms folded (stem + 3
    per block + 1 per projection shortcut), the others none."""
    spy = timer_spy(bench)
    bench.main(['inference', '--depth', '26', '--batch', '1', '--size', '32', '48',
                '--repeats', '1', '--warmup', '0', '--device', 'cpu', '--work-dir',
                str(tmp_path)])
    assert '32x48' in capsys.readouterr().out
    rows = {r['model']: r
            for r in json.loads((tmp_path / 'benchmark_inference.json').read_text())['rows']}
    assert len(rows) == 6 and len(spy.calls) == 1
    (call, ) = spy.calls
    assert call['counts'] == dict.fromkeys(rows, 1)  # each variant ran (once) when timed
    plain = next(iter(rows.values()))['images_per_s']  # the table's first row: plain
    for name, r in rows.items():
        median = call['times'][name]['median']
        assert 0 < median < 60, (name, median)
        assert r['images_per_s'] == pytest.approx(1 / median, rel=1e-12), name
        assert r['median_ms'] == pytest.approx(1e3 * median, rel=1e-12), name
        assert r['vs_plain'] == pytest.approx(r['images_per_s'] / plain, rel=1e-12), name
    n_bn = 1 + 3 * 8 + 4  # ResNet-26: 8 bottlenecks, 4 projection shortcuts
    for name, r in rows.items():
        assert r['bn_folded'] == (n_bn if 'BN folded' in name else 0), name


def test_saved_by_module_attributes_each_storage(bench):
    """Linear → ReLU → Linear on a (3, 4) input, counted by hand: the first Linear keeps its
    input x (3·4 floats), ReLU keeps its output (3·8), which the second Linear also keeps as
    its input (one storage, two savers), and only the second weight (2·8 floats) is saved: x
    needs no gradient, so the first Linear's weight is not needed in backward."""
    import torch
    from torch import nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8, bias=False), nn.ReLU(), nn.Linear(8, 2, bias=False))
    x = torch.randn(3, 4)
    with bench.SavedByModule(model.parameters()) as s:
        model(x).sum()
    rows = {k: (b, c) for k, b, c in s.rows}
    assert rows == {'Linear': (3 * 4 * 4, 1), 'Linear+ReLU': (3 * 8 * 4, 1),
                    '(parameters)': (2 * 8 * 4, 1)}
    with bench.SavedBytes() as t:
        model(x).sum()
    assert s.nbytes == t.nbytes
    # the hooks are gone after the context
    assert not torch.nn.modules.module._global_forward_hooks
