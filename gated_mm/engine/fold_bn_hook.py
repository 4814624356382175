"""Fold the gated backbones' BatchNorms into their convs before testing
(``tools/test.py --fuse-conv-bn``).

:class:`FoldBatchNormHook` runs :func:`gated_mm.models.backbones.fold_batch_norm` on the
model (unwrapped from DDP) at ``before_test_epoch``: after the runner has loaded the
checkpoint, before the first test batch. It acts in the test loop only (validation during
training never folds: the folded model cannot train). The log gets one line: how many
BatchNorms were folded and which units were kept and why (IIEU-B units read their conv's
weights and keep their BatchNorm). Outputs equal the unfolded model's up to float rounding;
the speed-up is measured by ``tools/analysis_tools/benchmark.py inference``.
"""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['FoldBatchNormHook']


@HOOKS.register_module()
class FoldBatchNormHook(Hook):
    """Fold eval-mode BatchNorm into the preceding conv of every gated backbone unit before
    the test epoch (see the module docstring). No arguments."""
    priority = 'LOW'

    def before_test_epoch(self, runner) -> None:
        from gated_mm.models.backbones import fold_batch_norm
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.eval()
        report = fold_batch_norm(model)
        runner.logger.info(f'FoldBatchNormHook: {report.summary()}')
