# gated_mm's runtime base for every classification config (and any config of your own that
# lists it in _base_ instead of mmpretrain::_base_/default_runtime.py): mmpretrain's runtime
# (default_scope 'mmpretrain', its hooks and UniversalVisualizer) plus
#   - TensorBoard: scalars go to work_dirs/<cfg>/<time>/vis_data/ as JSON (LocalVisBackend)
#     and as TensorBoard events (TensorboardVisBackend; `tensorboard --logdir work_dirs`);
#   - log processor: 50-iteration smoothing window, epoch-based (the same as mmdet's);
#   - progress: LoggerHook every 50 iterations ("Epoch(train) [e][i/N] ... eta: h:mm:ss"),
#     and a progress bar over the validation / test batches (gated_mm ProgressBarHook);
#   - checkpoint policy: every epoch, the last 3 kept, plus the best by the first metric.
# Detection configs keep mmdet's runtime (mmengine does not allow two bases to define the same
# key, and every mmdet config already inherits mmdet::_base_/default_runtime.py); they set the
# same policy in their root file, see configs/coco/, configs/lvis/, configs/v3det/ and
# tests/test_configs.py::test_runtime_policy_everywhere.
_base_ = ['mmpretrain::_base_/default_runtime.py']

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'),
    progress=dict(type='ProgressBarHook'))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
