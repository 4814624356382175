"""reliability_diagram.py on a constructed tools/test.py --out dump."""
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'reliability_diagram.py')


def test_reliability_diagram(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("model = dict(head=dict(num_classes=3))\n"
                   "test_evaluator = dict(type='ShotAccuracy', class_counts=[300, 50, 5])\n")
    rng = np.random.default_rng(0)
    probs = torch.softmax(torch.as_tensor(rng.normal(size=(90, 3)) * 2), 1)
    labels = rng.integers(0, 3, 90)
    dump = tmp_path / 'preds.pkl'
    with open(dump, 'wb') as f:
        pickle.dump([dict(pred_score=p, gt_label=torch.tensor([int(y)]))
                     for p, y in zip(probs, labels)], f)
    out = subprocess.run([sys.executable, TOOL, str(cfg), str(dump), '--n-bins', '10'],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    from gated_mm.evaluation import calibration_errors
    ref = calibration_errors(probs.numpy(), labels, 10)
    line = next(ln for ln in out.stdout.splitlines() if ln.strip().startswith('all:'))
    assert f'ECE {ref["ece"]:.2f} %' in line
    assert osp.isfile(tmp_path / 'preds_reliability.png')
    bad = subprocess.run([sys.executable, TOOL, str(cfg), str(tmp_path / 'missing.pkl')],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode != 0 and 'not found' in bad.stderr
