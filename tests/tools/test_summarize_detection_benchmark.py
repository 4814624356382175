"""tools/analysis_tools/summarize_detection_benchmark.py: mean ± sample std over seeds, and a run
whose test produced no detections (``test_metrics.json`` = ``{}``) is reported as such, never
dropped from the table silently."""
import importlib.util
import json
import os.path as osp
import statistics

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SPEC = importlib.util.spec_from_file_location(
    'summarize_detection_benchmark',
    osp.join(ROOT, 'tools', 'analysis_tools', 'summarize_detection_benchmark.py'))
summ = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(summ)


def write(root, run, metrics):
    d = root / run / 'test'
    d.mkdir(parents=True)
    (d / 'test_metrics.json').write_text(json.dumps(metrics))


def test_mean_std_and_failed_runs(tmp_path, capsys):
    full = {f'lvis/{k}': 0.0 for k in summ.COLS}
    write(tmp_path, 'gol_seed0', dict(full, **{'lvis/bbox_AP': 0.30}))
    write(tmp_path, 'gol_seed1', dict(full, **{'lvis/bbox_AP': 0.20}))
    write(tmp_path, 'gol_seed2', {})  # no detections
    summ.main([str(tmp_path)])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith('| gol | 0,1,2'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    assert cells[2] == '1 of 3 (seed 2)'
    assert cells[3] == f'25.0 ± {statistics.stdev([30, 20]):.1f}'      # successful seeds
    assert cells[3 + len(summ.COLS)] == f'16.7 ± {statistics.stdev([30, 20, 0]):.1f}'
    assert '| gol | 2 | no detections' in out


def test_fixed_ap_table(tmp_path, capsys):
    """Runs tested with FIXED_AP=1 (<run>/test_fixed) get a second table: AP-fixed / AP-pool
    (mean ± std over those seeds); runs without it are left out of that table."""
    full = {f'lvis/{k}': 0.1 for k in summ.COLS}
    for seed, ap in ((0, 0.40), (1, 0.20)):
        write(tmp_path, f'ce_seed{seed}', full)
        d = tmp_path / f'ce_seed{seed}' / 'test_fixed'
        d.mkdir()
        (d / 'test_metrics.json').write_text(json.dumps({'bbox_AP-fixed': ap, 'bbox_AP-pool': 0.5}))
    write(tmp_path, 'gol_seed0', full)
    summ.main([str(tmp_path)])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith('| ce | 0,1 | ')
               and 'AP-fixed' not in line and line.count('|') == len(summ.FIXED_COLS) + 3)
    cells = [c.strip() for c in row.strip('|').split('|')]
    i = summ.FIXED_COLS.index('bbox_AP-fixed')
    assert cells[2 + i] == f'30.0 ± {statistics.stdev([40, 20]):.1f}'
    assert cells[2 + summ.FIXED_COLS.index('bbox_AP-pool')] == '50.0 ± 0.0'
    assert not any(line.startswith('| gol | 0 | ') and line.count('|') == len(summ.FIXED_COLS) + 3
                   for line in out.splitlines())
