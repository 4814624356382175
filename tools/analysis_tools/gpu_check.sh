#!/usr/bin/env bash
# gated_mm's GPU check in one call (docs/gpu_check.md): the CUDA cases of the
# device-parametrised tests (fused Triton kernels: values and gradients against float64, fp16
# and bf16 autocast, GradScaler), the op benchmark (AGLU / APA vs SiLU / Sigmoid, forward +
# backward, time and saved-memory ratios), the SE-ResNet-50 training step (APA + AGLU vs
# plain), and a short quick-start training on the GPU; then the CPU part (the same tests' CPU
# cases, the op benchmark's saved bytes; without a GPU also a 10-iteration CPU training). One
# summary table at the end, also in RESULTS_DIR/summary.md, each step's log beside it.
#
#   bash tools/analysis_tools/gpu_check.sh [options] [RESULTS_DIR]   (default work_dirs/gpu_check)
#
#   --bundle DIR    offline: install the wheels of DIR (make_gpu_bundle.sh) that this Python
#                   lacks with pip --no-index --no-deps --target, use DIR's Fashion-MNIST, and
#                   run with no network; without it the environment is tools/setup_env.sh's
#   --python PY     the Python to use (default: $PYTHON, else python3 with --bundle, else
#                   tools/setup_env.sh's)
#   --scratch DIR   where the trainings' work dirs (checkpoints) and, with --bundle, the
#                   installed wheels and the decompressed data go (site/, cache/, work/ in
#                   it are emptied first; default ${TMPDIR:-/tmp}/gated_mm_gpu_check)
#   --budget-s N    stop starting steps after N seconds (default 450: the whole check within
#                   8 minutes); a step's time limit is cut to what is left
#   --cpu-only      the CPU part only, even with a GPU
# Exit status: 0 if every step that ran passed, 1 if one failed, 2 for bad arguments.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUNDLE="" PY=${PYTHON:-} SCRATCH=${TMPDIR:-/tmp}/gated_mm_gpu_check BUDGET=450 CPU_ONLY=0
RESULTS=""
die() { echo "gpu_check.sh: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --bundle) BUNDLE=${2:-}; [ -n "$BUNDLE" ] || die "--bundle needs a folder"; shift 2 ;;
    --python) PY=${2:-}; [ -n "$PY" ] || die "--python needs an interpreter"; shift 2 ;;
    --scratch) SCRATCH=${2:-}; [ -n "$SCRATCH" ] || die "--scratch needs a folder"; shift 2 ;;
    --budget-s) BUDGET=${2:-}; shift 2 ;;
    --cpu-only) CPU_ONLY=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$RESULTS" ] || die "one RESULTS_DIR only (got $RESULTS and $1)"; RESULTS=$1; shift ;;
  esac
done
[[ $BUDGET =~ ^[0-9]+$ ]] || die "--budget-s ${BUDGET:-(empty)}: expected whole seconds"
if [ -n "$BUNDLE" ]; then
  [ -d "$BUNDLE/wheels" ] || die "--bundle $BUNDLE: no wheels/ folder (build it with tools/analysis_tools/make_gpu_bundle.sh)"
  BUNDLE=$(cd "$BUNDLE" && pwd)
fi
RESULTS=$(realpath -m "${RESULTS:-$ROOT/work_dirs/gpu_check}")
SCRATCH=$(realpath -m "$SCRATCH")
WORK=$SCRATCH/work  # the trainings' work dirs (checkpoints); their logs go to RESULTS_DIR
rm -rf "$WORK"
export RESULTS
mkdir -p "$RESULTS" || die "cannot create RESULTS_DIR $RESULTS"
: >"$RESULTS/steps.tsv"
START=$(date +%s)
FAILED=0
cd "$ROOT"

# step NAME KIND LIMIT_S CMD...: run CMD with its output in RESULTS/NAME.log and a time limit
# of LIMIT_S, cut to what is left of the budget; KIND tells gpu_bundle.py summary what the
# detail column reads (pytest, bench-op, bench-model, train, plain).
step() {
  local name=$1 kind=$2 limit=$3 log="$RESULTS/$1.log" t0 rc status left
  shift 3
  left=$(( START + BUDGET - $(date +%s) ))
  if [ "$left" -lt 10 ]; then
    skip "$name" "out of the time budget (--budget-s $BUDGET)"
    return
  fi
  [ "$limit" -le "$left" ] || limit=$left
  t0=$(date +%s)
  if declare -F "$1" >/dev/null; then  # a function of this script: run it in a child bash
    timeout "$limit" bash -c "$(declare -f "$1"); \"\$@\"" "$1" "$@" >"$log" 2>&1
  else
    timeout "$limit" "$@" >"$log" 2>&1
  fi
  rc=$?
  case $rc in
    0) status=PASS ;;
    124) status="FAIL (time limit ${limit} s)"; FAILED=1 ;;
    *) status="FAIL (exit $rc)"; FAILED=1 ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$(( $(date +%s) - t0 ))" "$kind" "$log" >>"$RESULTS/steps.tsv"
  echo "[gpu_check] $name: $status ($log)"
}
skip() {
  printf '%s\tSKIP\t0\tplain\t%s\n' "$1" "$2" >>"$RESULTS/steps.tsv"
  echo "[gpu_check] $1: SKIP ($2)"
}

# ------------------------------------------------------------------ the environment
if [ -n "$BUNDLE" ]; then
  PY=${PY:-python3}
  SITE=$SCRATCH/site
  export PY BUNDLE RESULTS SCRATCH SITE GATED_MM_CACHE=$SCRATCH/cache PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  rm -rf "$SITE" "$GATED_MM_CACHE" && mkdir -p "$SITE" "$GATED_MM_CACHE/data/fashion-mnist"
  install_bundle() {
    local wheels
    "$PY" tools/analysis_tools/gpu_bundle.py select "$BUNDLE" --report "$RESULTS/install_plan.txt" \
      >"$SCRATCH/wheels.txt" || return 2
    cat "$RESULTS/install_plan.txt"
    mapfile -t wheels <"$SCRATCH/wheels.txt"
    [ ${#wheels[@]} -eq 0 ] ||
      "$PY" -m pip install --no-index --no-deps --no-compile --target "$SITE" "${wheels[@]}" || return 1
    local n=0
    for f in "$BUNDLE"/data/fashion-mnist/*.gz; do
      [ -f "$f" ] || continue
      gzip -dc "$f" >"$GATED_MM_CACHE/data/fashion-mnist/$(basename "$f" .gz)" || return 1
      n=$((n + 1))
    done
    echo "$(grep -c '^add' "$RESULTS/install_plan.txt") wheels installed into $SITE," \
      "$(grep -c '^use' "$RESULTS/install_plan.txt") already there; Fashion-MNIST: $n of 4 files"
  }
  step install plain 120 install_bundle
  export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
elif [ -z "$PY" ]; then
  PY=$(bash tools/setup_env.sh | tail -n 1)
fi
export PY
export MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483647  # see benchmark.py
step imports plain 60 "$PY" -c "
import sys, torch, mmengine, mmcv, mmpretrain, gated_mm
try:
    import mmcv.ops  # noqa: F401
    ops = 'with ops'
except ImportError:
    ops = 'no ops (mmcv-lite)'
print(f'python {sys.version.split()[0]}, torch {torch.__version__} (CUDA {torch.version.cuda}), '
      f'mmengine {mmengine.__version__}, mmcv {mmcv.__version__} {ops}, '
      f'mmpretrain {mmpretrain.__version__}, gated_mm {gated_mm.__version__}')"
CUDA=$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
GPU=$("$PY" -c 'import torch; print(torch.cuda.get_device_name(0))' 2>/dev/null || echo none)
[ "$CPU_ONLY" = 0 ] || CUDA=0

# the device-parametrised test modules (every one using the `device` fixture, a cuda
# parameter or @pytest.mark.cuda; tests/tools/test_gpu_bundle.py checks the list)
TESTS=(tests/models/activations/test_apa_aglu.py tests/models/activations/test_norm_act.py
       tests/models/activations/test_iieu.py tests/models/activations/test_adashift.py
       tests/models/activations/test_residual_act.py tests/models/attention/test_cbam.py
       tests/models/attention/test_ge.py tests/models/attention/test_fidelity_cbam.py
       tests/models/backbones/test_fold_bn.py tests/models/losses/test_gol.py
       tests/models/losses/test_gol_presets.py tests/models/losses/test_rebalancing.py
       tests/models/heads/test_decoupled.py tests/models/heads/test_carafe.py
       tests/models/losses/test_lt_detection_losses.py tests/models/test_cuda_amp.py)
PYTEST=("$PY" -m pytest "${TESTS[@]}" -q -p no:cacheprovider -rs)

# the quick-start config, logging locally only when TensorBoard is missing (offline nodes)
QUICK=$ROOT/configs/fashion_mnist_lt/gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py
TRAIN_CFG=$RESULTS/quickstart_check.py
TRAIN=("$PY" tools/train.py "$TRAIN_CFG")
train_checked() {  # train_checked MIN_TOP1 WORK_DIR CMD...: CMD, then its last val top-1 >= MIN
  local floor=$1 work=$2
  shift 2
  "$@" && "$PY" tools/analysis_tools/gpu_bundle.py val-top1 "$work" --min "$floor"
}
{
  echo "# gpu_check.sh: the quick-start config$("$PY" -c 'import tensorboard' 2>/dev/null || echo ', local logging only (no tensorboard)')"
  echo "_base_ = ['$QUICK']"
  "$PY" -c 'import tensorboard' 2>/dev/null || echo "visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])"
} >"$TRAIN_CFG"

# ------------------------------------------------------------------ GPU part
if [ "$CUDA" = 1 ]; then
  step tests-cuda pytest 180 "${PYTEST[@]}" -k cuda
  step bench-op bench-op 60 "$PY" tools/analysis_tools/benchmark.py op --device cuda \
    --repeats 10 --warmup 3 --work-dir "$RESULTS/bench-op"
  step bench-model bench-model 120 "$PY" tools/analysis_tools/benchmark.py model --device cuda \
    --depth 50 --batch 32 --size 112 --repeats 5 --warmup 2 --work-dir "$RESULTS/bench-model"
  # 2 of the 10 epochs (233 iterations of 128 images), validated on the 10,000 test images;
  # a floor of 30 % top-1 (chance: 10 %) tells it learns
  step train-cuda train 150 train_checked 30 "$WORK/train-cuda" "${TRAIN[@]}" \
    --work-dir "$WORK/train-cuda" --cfg-options train_cfg.max_epochs=2 \
    default_hooks.logger.interval=10
else
  why="no CUDA device (torch.cuda.is_available() is False)"
  [ "$CPU_ONLY" = 0 ] || why="--cpu-only"
  for s in tests-cuda bench-op bench-model train-cuda; do skip "$s" "$why"; done
fi

# ------------------------------------------------------------------ CPU part
# the same tests' CPU cases and the op benchmark's saved bytes (deterministic, no timing), with
# the eager kernels (torch.compile takes minutes on a small CPU)
step tests-cpu pytest 240 "${PYTEST[@]}" -k "cpu and not compiled" -m "not slow"
step bench-op-cpu bench-op 120 env GATED_MM_COMPILE=0 "$PY" tools/analysis_tools/benchmark.py \
  op --device cpu --shape 4 32 28 28 --memory-only --work-dir "$RESULTS/bench-op-cpu"
if [ "$CUDA" = 0 ]; then
  # the training path without a GPU (a smoke test, too short to learn): 10 iterations of 16
  # images, validation on 10 images a class
  step train-cpu train 240 env GATED_MM_COMPILE=0 "${TRAIN[@]}" --work-dir "$WORK/train-cpu" \
    --cfg-options train_cfg.max_epochs=1 train_dataloader.num_batch_per_epoch=10 \
    train_dataloader.batch_size=16 train_dataloader.num_workers=0 \
    train_dataloader.persistent_workers=False val_dataloader.num_workers=0 \
    val_dataloader.persistent_workers=False val_dataloader.dataset.max_per_class=10 \
    default_hooks.logger.interval=5
fi

"$PY" tools/analysis_tools/gpu_bundle.py summary "$RESULTS" \
  --header "gpu_check: $(date -u +%FT%TZ), GPU: $GPU, $(tail -n 1 "$RESULTS/imports.log" 2>/dev/null)" \
  --header "bundle: ${BUNDLE:-(none: tools/setup_env.sh environment)}$([ -n "$BUNDLE" ] && head -n 1 "$BUNDLE/MANIFEST.txt" 2>/dev/null | sed 's/^gated_mm GPU bundle:/,/')" \
  --header "total: $(( $(date +%s) - START )) s; command: tools/analysis_tools/gpu_check.sh ${BUNDLE:+--bundle $BUNDLE }$RESULTS"
exit $FAILED
