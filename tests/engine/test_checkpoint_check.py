"""check_checkpoint_matches: a checkpoint must fill every model tensor with its shape."""
import pytest
import torch
from torch import nn

from gated_mm.engine import CheckpointMismatchError, check_checkpoint_matches


def _model():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))


def test_own_checkpoint_passes_in_every_container(tmp_path):
    m = _model()
    sd = m.state_dict()
    assert check_checkpoint_matches(m, {'state_dict': sd}) == []
    assert check_checkpoint_matches(m, {'model': sd}) == []
    assert check_checkpoint_matches(m, {f'module.{k}': v for k, v in sd.items()}) == []
    torch.save({'state_dict': dict(sd, extra=torch.ones(1))}, tmp_path / 'c.pth')
    assert check_checkpoint_matches(m, str(tmp_path / 'c.pth')) == ['extra']
    # the BatchNorm step counter is not required (absent from converted checkpoints)
    del sd['1.num_batches_tracked']
    assert check_checkpoint_matches(m, sd) == []


def test_missing_and_mis_shaped_tensors_are_refused_in_one_line():
    m = _model()
    sd = m.state_dict()
    del sd['0.bias']
    with pytest.raises(CheckpointMismatchError, match=r'^ck does not match the model: 1 of 9 '
                       r'model tensors not in it \(first: 0\.bias\)\. .*'
                       r'--allow-partial-checkpoint'):
        check_checkpoint_matches(m, sd, name='ck')
    sd = _model().state_dict()
    sd['2.weight'] = torch.zeros(3, 4)
    with pytest.raises(CheckpointMismatchError) as err:
        check_checkpoint_matches(m, sd)
    assert '1 of different shape (first: 2.weight: checkpoint (3, 4), model (2, 4))' in str(
        err.value) and '\n' not in str(err.value)


# ---------------------------------------------------------------- a file that cannot be read
def test_damaged_checkpoint_files_are_refused_in_one_line(tmp_path):
    """Empty, truncated (a copy or save cut short) and non-checkpoint files: one line naming
    the option, the file, the reason and the size; a good file passes without being loaded."""
    from gated_mm.engine import (CheckpointReadError, check_checkpoint_file,
                                 load_checkpoint_file)
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': _model().state_dict(), 'meta': {}}, good)
    check_checkpoint_file(str(good), 'load_from')
    check_checkpoint_file(str(tmp_path / 'absent.pth'))  # left to the caller
    check_checkpoint_file('https://example.com/x.pth')  # URLs: left to mmengine
    data = good.read_bytes()
    cases = {'empty.pth': (b'', 'the file is empty'),
             'cut.pth': (data[:len(data) // 2], 'PytorchStreamReader failed'),
             'text.pth': (b'not a checkpoint\n', 'UnpicklingError')}
    for name, (content, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        for check in (check_checkpoint_file, load_checkpoint_file):
            with pytest.raises(CheckpointReadError) as err:
                check(str(path), '--resume')
            msg = str(err.value)
            assert '\n' not in msg, msg
            assert msg.startswith(f'--resume {path}: not a readable checkpoint (') and reason in msg
            assert f'; {len(content)} bytes): the file is truncated or not a checkpoint' in msg
    # a zip that torch.save did not write
    import zipfile
    with zipfile.ZipFile(tmp_path / 'other.zip', 'w') as z:
        z.writestr('readme.txt', 'hello')
    with pytest.raises(CheckpointReadError, match='without data.pkl'):
        check_checkpoint_file(str(tmp_path / 'other.zip'))
    # check_checkpoint_matches reads paths through the same loader
    with pytest.raises(CheckpointReadError, match='^ck .*cut.pth: not a readable checkpoint'):
        check_checkpoint_matches(_model(), str(tmp_path / 'cut.pth'), name='ck')
