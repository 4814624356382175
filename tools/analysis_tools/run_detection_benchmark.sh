#!/usr/bin/env bash
# Multi-seed Omniglot-LVIS comparison (docs/detection_benchmark.md): for each seed and each
# quick config, train from scratch and test with tools/test.py, one run at a time.
#   tools/analysis_tools/run_detection_benchmark.sh [WORK_ROOT] [SEEDS...]
# Defaults: work_dirs/omniglot_lvis_bench, seeds 0 1 2. Needs data/omniglot-lvis
# (tools/dataset_converters/omniglot_to_lvis.py data/omniglot-lvis). Summarise with
#   python tools/analysis_tools/summarize_detection_benchmark.py WORK_ROOT
# ONLY="name ..." runs those configs only (names below; default: all). norcal is test-only:
# it calibrates the same seed's softmax_ce checkpoint (run softmax_ce first).
# FIXED_AP=1 also tests each checkpoint with tools/test.py --fixed-ap into <run>/test_fixed
# (AP-fixed / AP-pool, docs/detection_benchmark.md); FIXED_AP_OPTS="k=v ..." are passed as
# --cfg-options to that test (e.g. a per-image cap to bound the CPU time).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=${1:-work_dirs/omniglot_lvis_bench}
shift || true
SEEDS=${*:-0 1 2}
PY=${PYTHON:-python}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
# GATED_MM_BENCH_CFGS: other "name:config" entries (space- or newline-separated) to run instead
CFGS=${GATED_MM_BENCH_CFGS:-"gol:configs/lvis_synth/mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_gol_1xb4-400i_omniglot-lvis.py
gol_apa_aglu:configs/lvis_synth/mask-rcnn_gated-se-r26-w16-apa-aglu_fpn_gol_1xb4-400i_omniglot-lvis.py
softmax_ce:configs/lvis_synth/mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_softmax-ce_1xb4-400i_omniglot-lvis.py
norcal:configs/lvis_synth/mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_softmax-ce-norcal_1xb4-400i_omniglot-lvis.py
federated:configs/lvis_synth/mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_federated-loss_1xb4-400i_omniglot-lvis.py
ecm:configs/lvis_synth/mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_ecm-loss_1xb4-400i_omniglot-lvis.py
iif:configs/lvis_synth/mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_iif-loss_1xb4-400i_omniglot-lvis.py
seesaw:configs/lvis_synth/mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_seesaw-loss_1xb4-400i_omniglot-lvis.py
eqlv2:configs/lvis_synth/mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_eqlv2-loss_1xb4-400i_omniglot-lvis.py"}
for seed in $SEEDS; do
  for entry in $CFGS; do
    name=${entry%%:*}; cfg=${entry#*:}
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
    wd=$ROOT/${name}_seed$seed
    mkdir -p "$wd"
    t0=$(date +%s)
    if [ "$name" = norcal ]; then  # post-hoc: the same seed's softmax-CE checkpoint
      ckpt=$(ls "$ROOT/softmax_ce_seed$seed"/iter_*.pth 2>/dev/null | sort -V | tail -1 || true)
      if [ -z "$ckpt" ]; then echo "norcal seed $seed: no softmax_ce checkpoint, skipped"; continue; fi
    elif [ ! -f "$wd/test/test_metrics.json" ]; then
      $PY tools/train.py "$cfg" --work-dir "$wd" --cfg-options randomness.seed=$seed \
        > "$wd/train.out" 2>&1 || { echo "$name seed $seed: training failed ($wd/train.out)"; continue; }
    fi
    t1=$(date +%s)
    [ "$name" = norcal ] || ckpt=$(ls "$wd"/iter_*.pth 2>/dev/null | sort -V | tail -1 || true)
    if [ ! -f "$wd/test/test_metrics.json" ]; then
      $PY tools/test.py "$cfg" "$ckpt" --work-dir "$wd/test" > "$wd/test.out" 2>&1 \
        || { echo "$name seed $seed: test failed ($wd/test.out)"; continue; }
      t2=$(date +%s)
      echo "{\"train_s\": $((t1 - t0)), \"test_s\": $((t2 - t1))}" > "$wd/wall_time.json"
      echo "$name seed $seed: train $((t1 - t0)) s, test $((t2 - t1)) s"
    fi
    if [ "${FIXED_AP:-0}" = 1 ] && [ ! -f "$wd/test_fixed/test_metrics.json" ]; then
      # shellcheck disable=SC2086
      $PY tools/test.py "$cfg" "$ckpt" --work-dir "$wd/test_fixed" --fixed-ap \
        ${FIXED_AP_OPTS:+--cfg-options $FIXED_AP_OPTS} \
        > "$wd/test_fixed.out" 2>&1 || echo "$name seed $seed: --fixed-ap test failed"
    fi
  done
done
