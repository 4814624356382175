"""Test-wide settings.

The APA/AGLU kernels are checked against the float64 references in their eager form
(``GATED_MM_COMPILE=0``), which compiles nothing; ``tests/models/activations/test_apa_aglu.py`` compares the
compiled kernels with the eager ones separately. Subprocesses (tools/*.py) inherit this.

Devices: the one mechanism for CPU + CUDA cases is the ``device`` fixture: it runs a test once
per entry of ``DEVICE_PARAMS`` (the CUDA case is skipped with the reason on a machine without a
GPU, so a CPU-only run shows what it left out); ``@pytest.mark.cuda`` marks a CUDA-only test.
``@pytest.mark.slow``: tests over ~20 s on 2 CPU cores; they run by default (CI included);
``-m "not slow"`` (the fast local loop) skips them. Marked here, in one place: every test that
uses the ``compiled_kernels`` fixture or calls the compiled kernels (``torch.compile`` on a
CPU: tens of seconds per kernel set), and the real training/benchmark runs in ``SLOW``;
tests may also carry the marker themselves.
"""
import os

import pytest
import torch

os.environ.setdefault('GATED_MM_COMPILE', '0')

CUDA = torch.cuda.is_available()
_NO_CUDA = 'no CUDA device (torch.cuda.is_available() is False): GPU case not run'
DEVICE_PARAMS = ['cpu', pytest.param('cuda', marks=pytest.mark.skipif(not CUDA, reason=_NO_CUDA))]


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes a minute or more on 2 CPU cores (runs in '
                            'CI; deselect with -m "not slow")')
    config.addinivalue_line('markers', 'cuda: needs a CUDA device (skipped without one)')


@pytest.fixture(params=DEVICE_PARAMS)
def device(request):
    """'cpu', then 'cuda' (skipped without a GPU)."""
    return torch.device(request.param)


# node ids (or their prefixes, relative to the repository root) of the slow tests that do not
# use the compiled_kernels fixture: training runs through the tools (subprocesses), the
# compiled-kernel comparisons, benchmark smoke runs
SLOW = (
    'tests/test_end_to_end.py::',
    'tests/engine/test_exact_resume.py::test_killed_and_resumed_quickstart_run_is_bit_identical',
    'tests/test_lvis_end_to_end.py::test_train_and_test_on_mini_lvis',
    'tests/test_omniglot_lvis.py::test_short_training_learns_omniglot_lvis',
    'tests/test_omniglot_lvis.py::test_shuffled_labels_stay_below_the_threshold',
    'tests/test_deployment.py::test_pytorch2onnx_quickstart_model',
    'tests/tools/test_tools.py::test_train_writes_checkpoints_and_validates',
    'tests/tools/test_tools.py::test_default_work_dir_is_work_dirs_config_name',
    'tests/tools/test_tools.py::test_test_py_',
    'tests/tools/test_tools.py::test_nan_loss_stops_training_in_one_line',
    'tests/tools/test_tools.py::test_resume_matches_uninterrupted_run',
    'tests/tools/test_tools.py::test_amp',
    'tests/tools/test_tools.py::test_dist_train_two_processes',
    'tests/tools/test_tools.py::test_slurm_test_script',
    'tests/tools/test_tools.py::test_mmdet_config_train_and_test',
    'tests/tools/test_benchmark.py::test_memory_only_op_and_model_tables',
    'tests/tools/test_benchmark.py::test_inference_table_folds_and_fuses',
    'tests/tools/test_benchmark_family.py::test_smoke_run',
    'tests/models/activations/test_apa_aglu.py::test_compiled_kernels_equal_eager_within_1e6',
    'tests/models/activations/test_iieu.py::test_compiled_kernels_equal_eager',
    'tests/models/activations/test_residual_act.py::test_compiled_fused_block_equals_eager',
    'tests/models/activations/test_norm_act.py::test_eval_mode_gradcheck_and_fp32_inference',
    # tools and converters run as subprocesses (8-31 s each in the full suite's durations);
    # the logic they reach keeps in-process tests in the fast loop
    'tests/engine/test_class_check.py::test_train_refuses_',
    'tests/engine/test_class_check.py::test_test_py_refuses_test_labels_outside_the_head',
    'tests/tools/test_setup_env.py::test_two_clones_each_import_their_own_code',
    'tests/test_omniglot_lvis.py::test_converter_',
    'tests/tools/test_analysis_tools.py::test_compare_gates_table_and_plots',
    'tests/tools/test_reliability_diagram.py::test_reliability_diagram',
)


def pytest_collection_modifyitems(config, items):
    """Marks the slow tests (module docstring); ``@pytest.mark.cuda`` tests are skipped (with
    the reason) without a GPU."""
    slow = pytest.mark.slow
    for item in items:
        if 'compiled_kernels' in getattr(item, 'fixturenames', ()) or \
                item.nodeid.startswith(SLOW):
            item.add_marker(slow)
    if CUDA:
        return
    skip = pytest.mark.skip(reason=_NO_CUDA)
    for item in items:
        if 'cuda' in item.keywords:
            item.add_marker(skip)
