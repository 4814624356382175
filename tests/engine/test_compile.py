"""``compile=True`` with κ / λ kept out of weight decay (``paramwise_cfg``).

Before: ``--cfg-options compile=True`` failed on every shipped classification config with
``InternalTorchDynamoError: 'UserDefinedDictVariable' object has no attribute 'items'`` in the
optimizer step: with ``paramwise_cfg`` mmengine's constructor leaves the param groups as
``ConfigDict`` s."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, MODELS
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import gated_mm  # noqa: F401
from gated_mm.models.activations import AGLU, APA

OPTIM = dict(type='OptimWrapper', constructor='GatedOptimWrapperConstructor',
             optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True),
             paramwise_cfg=dict(custom_keys={'.kappa': dict(decay_mult=0.0),
                                             '.lambda_': dict(decay_mult=0.0)}))


@MODELS.register_module(force=True)
class _CompileNet(BaseModel):
    """Linear -> AGLU -> Linear -> APA -> Linear, cross-entropy; inputs (N, 6), labels (N,)."""

    def __init__(self):
        super().__init__()
        self.fc1, self.act1 = nn.Linear(6, 8), AGLU()
        self.fc2, self.act2 = nn.Linear(8, 8), APA()
        self.fc3 = nn.Linear(8, 3)

    def forward(self, inputs, labels=None, mode='loss'):
        logits = self.fc3(self.act2(self.fc2(self.act1(self.fc1(inputs)))))
        return {'loss': F.cross_entropy(logits, labels)} if mode == 'loss' else logits


@DATASETS.register_module(force=True)
class _CompileData(Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(24, 6, generator=g), torch.randint(0, 3, (24, ), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], labels=self.y[i])


def _cfg(work_dir, compile_cfg):
    return Config(dict(
        model=dict(type='_CompileNet'), work_dir=str(work_dir), experiment_name=str(work_dir),
        train_dataloader=dict(dataset=dict(type='_CompileData'), batch_size=8, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=copy.deepcopy(OPTIM), train_cfg=dict(by_epoch=False, max_iters=4),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1), checkpoint=None),
        randomness=dict(seed=0), compile=compile_cfg, default_scope=None))


def test_param_groups_are_plain_dicts():
    """The cause: torch.compile's optimizer support wants dict param groups."""
    from mmengine.optim import build_optim_wrapper
    wrapper = build_optim_wrapper(_CompileNet(), Config(dict(o=OPTIM)).o)
    groups = wrapper.optimizer.param_groups
    assert len(groups) > 1 and all(type(g) is dict for g in groups)
    decays = {g['weight_decay'] for g in groups if any(p.numel() == 1 for p in g['params'])}
    assert decays == {0.0}  # κ, λ (scalars) still without weight decay


def _train(tmp_path, name, compile_cfg):
    runner = Runner.from_cfg(_cfg(tmp_path / name, compile_cfg))
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    params = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}
    return losses, params


@pytest.mark.parametrize('compile_cfg', [
    # dynamo + AOTAutograd (where the error was), no code generation: fast
    pytest.param(dict(backend='aot_eager'), id='aot_eager'),
    pytest.param(True, marks=pytest.mark.slow, id='inductor'),  # what compile=True runs
])
def test_compiled_run_matches_eager(tmp_path, compile_cfg):
    """4 iterations through mmengine's Runner with ``compile`` vs eager (the inductor case
    generates and builds C++ kernels: about 1-2 min on 2 free cores)."""
    torch._dynamo.reset()
    losses_e, params_e = _train(tmp_path, 'eager', False)
    losses_c, params_c = _train(tmp_path, 'compiled', compile_cfg)
    assert len(losses_e) == len(losses_c) == 4
    assert losses_c == pytest.approx(losses_e, rel=1e-5, abs=1e-6)
    assert params_e.keys() == params_c.keys()
    for k in params_e:
        assert torch.allclose(params_c[k], params_e[k], rtol=0, atol=1e-4), k
    assert losses_e[-1] != losses_e[0]  # it trained (the comparison can fail)
