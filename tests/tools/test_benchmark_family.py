"""tools/analysis_tools/benchmark_family.py at tiny sizes (1 repetition): the family's
configs build through the registry, every member gets its plain and (where one exists)
public-layout row (the layouts themselves: test_public_layouts.py)."""
import pytest
import torch

import gated_mm  # noqa: F401


@pytest.fixture(scope='module')
def tool(analysis_tool):
    return analysis_tool('benchmark_family')


def test_family_covers_every_member(tool):
    fam = tool.family(112)
    assert list(fam) == ['IIEU-B', 'IIEU-DC', 'AdaShift-B', 'AdaShift-MA',
                         'AdaShift-MA (recompute_shift)', 'CBAM (Sigmoid)',
                         'CBAM (APA)', 'CBAM (APA + AGLU)', 'GE-θ⁻', 'GE-θ', 'GE-θ⁺']
    assert all(v['public'] is not None for k, v in fam.items() if not k.startswith('GE'))
    assert fam['IIEU-B']['ours']['act_cfg']['bn2']['type'] == 'IIEU'
    assert fam['IIEU-B']['public']['act_cfg']['bn2']['type'] == 'PublicIIEU'
    assert fam['GE-θ']['ours']['attention_cfg'][3]['feat_size'] == 4  # ceil(112 / 32)
    ma = fam['AdaShift-MA (recompute_shift)']['ours']['act_cfg']
    assert {v['recompute_shift'] for v in ma.values()} == {True}
    assert 'recompute_shift' not in fam['AdaShift-MA']['ours']['act_cfg']['bn2']


def test_smoke_run(tool, tmp_path, timer_spy, monkeypatch):
    """Each row's step time and img/s are what was measured for that model (a training step
    that moves its weights; an inference pass), the ratios are taken of those numbers."""
    spy = timer_spy(tool)
    built, real_build = [], tool.build

    def build(cfg, width):
        model = real_build(cfg, width)
        built.append((model, {k: v.clone() for k, v in model.state_dict().items()}))
        return model

    monkeypatch.setattr(tool, 'build', build)
    rows = tool.main(['--batch', '2', '--size', '32', '--width', '4', '--repeats', '1',
                      '--warmup', '0', '--only', 'IIEU-B', 'CBAM (APA + AGLU)', 'GE-θ',
                      '--breakdown', '--work-dir', str(tmp_path)])
    assert [r['member'] for r in rows] == ['IIEU-B', 'CBAM (APA + AGLU)', 'GE-θ']
    train, infer = spy.calls  # training steps, then inference
    assert set(train['counts']) == set(infer['counts']) and len(built) == len(train['counts'])
    assert set(train['counts'].values()) == set(infer['counts'].values()) == {1}
    for model, before in built:  # the timed step is a training step: it moved the weights
        after = model.state_dict()
        assert any(not torch.equal(after[k], v) for k, v in before.items()
                   if k.endswith('.weight'))
    for r in rows:
        for kind in ('plain', 'ours', 'public'):
            m = r[kind]
            if m is None:
                continue
            assert m['step'] == train['times'][m['key']]['median'] > 0
            assert m['img_s'] == pytest.approx(2 / infer['times'][m['key']]['median'], rel=1e-12)
        o, p = r['ours'], r['plain']
        assert r['step_vs_plain'] == pytest.approx(o['step'] / p['step'], rel=1e-12)
        assert r['infer_vs_plain'] == pytest.approx(o['img_s'] / p['img_s'], rel=1e-12)
        assert r['saved_vs_plain'] == pytest.approx(o['saved'] / p['saved'], rel=1e-12)
        assert o['saved'] > p['saved'] > 0
        assert o['params'] > p['params']  # the member adds parameters
    assert rows[0]['public']['params'] == rows[0]['ours']['params']
    assert rows[2]['public'] is None
    md = (tmp_path / 'benchmark_family.md').read_text()
    assert md.count('\n|') >= 4
    # --breakdown: every model's savers add up to its saved bytes, and each member's own module
    # is among the savers of ours and of the public layout
    for r in rows:
        for kind in ('plain', 'ours', 'public'):
            if r[kind] is not None:
                assert sum(b for _, b, _ in r[kind]['breakdown']) == r[kind]['saved']
    savers = {kind: {k for row in r[kind]['breakdown'] for k in row[0].split('+')}
              for kind, r in (('ours', rows[0]), ('public', rows[0]))}
    assert 'IIEU' in savers['ours'] and 'PublicIIEU' in savers['public']
    assert 'IIEU' not in {k for row in rows[0]['plain']['breakdown'] for k in row[0].split('+')}
    assert 'CBAM' in {k for row in rows[1]['ours']['breakdown'] for k in row[0].split('+')}
    assert '| IIEU-B/ours |' in md
