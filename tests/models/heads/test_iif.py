"""IIF weights against an independent reference (Python's math / statistics, float64) written
from the equations of the IIF and APA public codes; the IIF module's adjustment, count sources
and errors."""
import math
from statistics import NormalDist

import numpy as np
import pytest
import torch

from gated_mm.datasets import class_counts_from
from gated_mm.models.heads import IIF, IIF_VARIANTS, iif_weights

COUNTS = [1280, 640, 101, 100, 37, 20, 19, 5]


def reference(counts, variant):
    """w_c per variant, scalar math (module docstring of gated_mm/models/heads/iif.py)."""
    n_tot = float(sum(counts))
    out = []
    for n in map(float, counts):
        p = n / n_tot
        out.append({
            'raw': math.log(n_tot / n),
            'smooth': math.log((n_tot + 1) / (n + 1)) + 1,
            'rel': math.log((n_tot - n) / n),
            'normit': -NormalDist().inv_cdf(p),
            'gombit': -math.log(-math.log(1 - p)),
            'base2': math.log2(n_tot / n),
            'base10': math.log10(n_tot / n),
        }[variant])
    return np.array(out)


@pytest.mark.parametrize('variant', IIF_VARIANTS)
def test_weights_match_reference(variant):
    w = iif_weights(COUNTS, variant)
    assert w.dtype == torch.float64 and w.shape == (len(COUNTS), )
    np.testing.assert_allclose(w.numpy(), reference(COUNTS, variant), rtol=1e-12, atol=1e-12)
    # rarer classes get larger weights in every variant
    assert bool(torch.all(torch.diff(w) >= 0))


def test_norm_p_and_known_values():
    w = iif_weights([3, 1], 'raw', norm_p=2)
    ref = np.array([math.log(4 / 3), math.log(4)])
    np.testing.assert_allclose(w.numpy(), ref / np.linalg.norm(ref), rtol=1e-12)
    # rel with two classes is antisymmetric: log(1/3) and log(3)
    np.testing.assert_allclose(iif_weights([3, 1], 'rel').numpy(), [-math.log(3), math.log(3)])


def test_module_adds_or_multiplies_and_keeps_dtype():
    logits = torch.randn(4, len(COUNTS), dtype=torch.float64)
    w = torch.as_tensor(reference(COUNTS, 'rel'))
    add = IIF(variant='rel', class_counts=COUNTS)(logits)
    torch.testing.assert_close(add, logits + w)
    mul = IIF(variant='raw', mode='mul', class_counts=COUNTS)(logits.float())
    assert mul.dtype == torch.float32
    torch.testing.assert_close(mul, (logits * torch.as_tensor(reference(COUNTS, 'raw'))).float())


def test_module_weights_are_not_in_state_dict_and_lazy(tmp_path):
    ann = tmp_path / 'train.txt'
    ann.write_text(''.join(f'img_{c}_{i}.jpg {c}\n' for c, n in enumerate([3, 1])
                           for i in range(n)))
    iif = IIF(variant='raw', train_ann_file=str(ann), num_classes=3)
    assert iif.state_dict() == {}  # a checkpoint can never override the configured variant
    with pytest.raises(ValueError, match=r'class\(es\) \[2\] have 0 training images'):
        iif(torch.zeros(1, 3))  # class 2 has no training image (padded by num_classes)
    smooth = IIF(variant='smooth', train_ann_file=str(ann), num_classes=3)
    out = smooth(torch.zeros(1, 3))
    np.testing.assert_allclose(out[0].numpy(), [math.log(5 / 4) + 1, math.log(5 / 2) + 1,
                                                math.log(5) + 1], rtol=1e-6)


def test_counts_from_dataset_object_and_errors(tmp_path):
    class DS:
        class_counts = np.array([5, 2])

    assert class_counts_from(train_dataset=DS()).tolist() == [5, 2]
    with pytest.raises(ValueError, match='exactly one of'):
        class_counts_from(class_counts=[1], train_dataset=DS())
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        class_counts_from(train_ann_file=str(tmp_path / 'missing.txt'))
    with pytest.raises(ValueError, match="unknown variant 'log'"):
        IIF(variant='log', class_counts=[1, 2])
    with pytest.raises(ValueError, match="mode must be 'add'"):
        IIF(variant='raw', mode='sub', class_counts=[1, 2])
    with pytest.raises(ValueError, match='logits of shape \\(2, 3\\) but 2 class counts'):
        IIF(variant='raw', class_counts=[1, 2])(torch.zeros(2, 3))
    assert torch.isfinite(iif_weights([4, 0], 'smooth')).all()  # smooth allows n_c = 0
    with pytest.raises(ValueError, match='one class holds every'):
        iif_weights([4], 'rel')
