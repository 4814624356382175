#!/usr/bin/env bash
# One-shot GPU check (<= 4 min on one GPU): the CUDA cases of the device-parametrised numerical
# tests (kernels, activations, attention, losses) and the fp16 autocast + GradScaler tests, the
# op and model benchmarks at reduced repetitions, and 50 training iterations of the quick-start
# config on the GPU; then one summary table (also written to $WORK_DIR/summary.md).
# Without a GPU it runs the CPU part (the same tests' CPU cases, a small CPU op benchmark) and
# prints SKIP lines for the GPU steps; exit status 1 if any step that ran failed.
#   bash tools/analysis_tools/gpu_check.sh            (WORK_DIR default work_dirs/gpu_check)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
PY=${PYTHON:-$(bash tools/setup_env.sh | tail -n 1)}
WORK_DIR=${WORK_DIR:-work_dirs/gpu_check}
mkdir -p "$WORK_DIR"
export MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483647  # see benchmark.py
QUICK=configs/fashion_mnist_lt/gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py
TESTS="tests/models/activations/test_apa_aglu.py tests/models/activations/test_norm_act.py tests/models/activations/test_iieu.py
 tests/models/activations/test_adashift.py tests/models/attention/test_cbam.py tests/models/attention/test_ge.py tests/models/attention/test_fidelity_cbam.py
 tests/models/losses/test_gol.py tests/models/losses/test_gol_presets.py tests/models/losses/test_rebalancing.py
 tests/models/heads/test_decoupled.py tests/models/test_cuda_amp.py"
CUDA=$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
GPU=$("$PY" -c 'import torch; print(torch.cuda.get_device_name(0))' 2>/dev/null || echo none)
ROWS=()
FAILED=0

# step NAME TIMEOUT_S SUMMARY_CMD -- CMD...: run CMD (log in $WORK_DIR/NAME.log), then
# SUMMARY_CMD on the log gives the detail column.
step() {
  local name=$1 limit=$2 summary=$3; shift 4
  local log="$WORK_DIR/$name.log" t0 rc status detail
  t0=$(date +%s)
  timeout "$limit" "$@" >"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then status=PASS; elif [ $rc -eq 124 ]; then status="FAIL (timeout ${limit}s)"; else status="FAIL (exit $rc)"; fi
  [ $rc -ne 0 ] && FAILED=1
  detail=$(eval "$summary" <"$log" 2>/dev/null | tr '|' '/' | tr '\n' ' ' | cut -c1-110)
  ROWS+=("| $name | $status | $(( $(date +%s) - t0 )) | $detail |")
  echo "[gpu_check] $name: $status ($log)"
}
skip() {
  ROWS+=("| $1 | SKIP | 0 | $2 |")
  echo "SKIP $1: $2"
}
BENCH_SUMMARY="grep -cE '^\| [A-Za-z]' | sed 's|\$| table rows (benchmark_*.md in the work dir)|'"
PYTEST_SUMMARY="grep -E '^[0-9]+ (passed|failed)|(passed|failed|skipped).* in [0-9.]+s' | tail -n 1"

if [ "$CUDA" = 1 ]; then
  # the CUDA cases: [cuda] parameters and the fp16 autocast / GradScaler tests
  step tests-cuda 110 "$PYTEST_SUMMARY" -- "$PY" -m pytest $TESTS -q -k cuda -p no:cacheprovider
  step bench-op 35 "$BENCH_SUMMARY" -- \
    "$PY" tools/analysis_tools/benchmark.py op --device cuda --repeats 5 --warmup 2 --work-dir "$WORK_DIR/bench"
  step bench-model 35 "$BENCH_SUMMARY" -- \
    "$PY" tools/analysis_tools/benchmark.py model --device cuda --depth 50 --batch 32 --size 112 --repeats 3 --warmup 1 --work-dir "$WORK_DIR/bench"
  step train-50-iters 60 "grep -E 'Epoch\(train\)' | tail -n 1 | grep -oE '\[50/50\]|time: [0-9.]+|loss: [0-9.a-z]+' | tr '\n' ' '" -- \
    "$PY" tools/train.py "$QUICK" --work-dir "$WORK_DIR/train" --cfg-options \
    train_cfg.max_epochs=1 train_dataloader.num_batch_per_epoch=50 \
    default_hooks.logger.interval=10 val_dataloader.dataset.max_per_class=50
else
  skip tests-cuda "no CUDA device (torch.cuda.is_available() is False)"
  skip bench-op-cuda "no CUDA device"
  skip bench-model-cuda "no CUDA device"
  skip train-50-iters-cuda "no CUDA device"
fi
# CPU part (always): the same tests' CPU cases and the op benchmark's saved-tensor bytes
# (deterministic, no timing), both with the eager kernels (no torch.compile: minutes on a
# small CPU), so it runs on any machine.
step tests-cpu 240 "$PYTEST_SUMMARY" -- "$PY" -m pytest $TESTS -q -k "cpu and not compiled" -m "not slow" -p no:cacheprovider
step bench-op-cpu 120 "$BENCH_SUMMARY" -- \
  env GATED_MM_COMPILE=0 "$PY" tools/analysis_tools/benchmark.py op --device cpu --shape 4 32 28 28 --memory-only --work-dir "$WORK_DIR/bench_cpu"

{
  echo "gpu_check: $(date -u +%FT%TZ), GPU: $GPU, torch $("$PY" -c 'import torch; print(torch.__version__)')"
  echo
  echo "| step | status | seconds | detail |"
  echo "|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$WORK_DIR/summary.md"
exit $FAILED
