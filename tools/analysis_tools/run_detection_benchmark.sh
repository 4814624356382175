#!/usr/bin/env bash
# Multi-seed Omniglot-LVIS comparison (docs/detection_benchmark.md): for each seed and each
# quick config, train from scratch and test with tools/test.py, one run at a time.
#   tools/analysis_tools/run_detection_benchmark.sh [WORK_ROOT] [SEEDS...]
# Defaults: work_dirs/omniglot_lvis_bench, seeds 0 1 2. Needs data/omniglot-lvis
# (tools/dataset_converters/omniglot_to_lvis.py data/omniglot-lvis). Summarise with
#   python tools/analysis_tools/summarize_detection_benchmark.py WORK_ROOT
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
softmax_ce:configs/lvis_synth/mask-rcnn_gated-se-r26-w16-sigmoid-relu_fpn_softmax-ce_1xb4-400i_omniglot-lvis.py"}
for seed in $SEEDS; do
  for entry in $CFGS; do
    name=${entry%%:*}; cfg=${entry#*:}
    wd=$ROOT/${name}_seed$seed
    if [ -f "$wd/test/test_metrics.json" ]; then continue; fi
    mkdir -p "$wd"
    t0=$(date +%s)
    $PY tools/train.py "$cfg" --work-dir "$wd" --cfg-options randomness.seed=$seed \
      > "$wd/train.out" 2>&1
    t1=$(date +%s)
    ckpt=$(ls "$wd"/iter_*.pth | sort -V | tail -1)
    $PY tools/test.py "$cfg" "$ckpt" --work-dir "$wd/test" > "$wd/test.out" 2>&1
    t2=$(date +%s)
    echo "{\"train_s\": $((t1 - t0)), \"test_s\": $((t2 - t1))}" > "$wd/wall_time.json"
    echo "$name seed $seed: train $((t1 - t0)) s, test $((t2 - t1)) s"
  done
done
