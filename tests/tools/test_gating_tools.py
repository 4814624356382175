"""tools/analysis_tools/gating_table.py (the README's compatibility table) and
benchmark_gated_any.py (converted vs unconverted speed), at small sizes."""
import pytest
import torch

import gated_mm  # noqa: F401
from gated_mm.models.activations import AGLU


@pytest.fixture(scope='module')
def table_tool(analysis_tool):
    return analysis_tool('gating_table')


@pytest.fixture(scope='module')
def bench_tool(analysis_tool):
    return analysis_tool('benchmark_gated_any')


def test_table_rows(table_tool, tmp_path, capsys):
    out = tmp_path / 'table.md'
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        table_tool.main(['--small', '--only', 'mmdet ResNet', 'mmdet Swin', 'mmdet RPN head',
                         '--out', str(out)])
    finally:
        torch.set_num_threads(prev)
    rows = {line.split(' | ')[0].lstrip('| '): line.split(' | ')
            for line in out.read_text().splitlines()[2:]}
    assert rows['mmdet ResNet (small)'][1] == '49'  # stem + 16 bottlenecks x 3 ReLU calls
    assert rows['mmdet ResNet (small)'][3] == '4 (`layer*`)'
    assert rows['mmdet ResNet (small)'][4].startswith('loads; missing: only the ')
    assert "insert.after 'stages.0' outputs tuple" in rows['mmdet Swin (small)'][5]
    assert rows['mmdet RPN head (small)'][1] == '5 (0 module, 5 functional ReLU)'
    assert capsys.readouterr().out.strip() == out.read_text().strip()


def test_table_unknown_model(table_tool):
    with pytest.raises(SystemExit, match=r"--only \['ResNet'\] not in the zoo; candidates"):
        table_tool.main(['--only', 'ResNet'])


def test_benchmark_variants_and_kernel_count(bench_tool):
    cfg = bench_tool.variant_cfg('regnetx', 'AGLU + APA-SE', 64)
    assert cfg['type'] == 'Gated' and cfg['act']['by']['type'] == 'AGLU'
    assert cfg['insert']['after'] == 'layer*.*.bn3'
    assert bench_tool.variant_cfg('convnext', 'identity', 64)['act']['by'] == dict(type='GELU')
    assert bench_tool.variant_cfg('convnext', 'plain', 64)['type'] == 'ConvNeXt'
    unit = AGLU()
    x = torch.randn(2, 3, requires_grad=True)
    with bench_tool.KernelCalls() as k:  # GATED_MM_COMPILE=0 in the tests: eager kernels
        unit(x).sum().backward()
    assert (k.compiled, k.eager) == (0, 2)  # forward and backward, both counted
    assert 'run' not in vars(k.kernels)  # the instance patch is removed
