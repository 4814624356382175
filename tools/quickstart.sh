#!/usr/bin/env bash
# README command 1: set up the environment if needed, then train an APA + AGLU gated
# SE-ResNet on Fashion-MNIST-LT on the CPU, test it and print overall and many/medium/few
# accuracy. Checkpoints, logs and the config land in $WORK_DIR
# (default work_dirs/quickstart).
#   bash tools/quickstart.sh [extra tools/train.py args]
#   e.g. bash tools/quickstart.sh --cfg-options train_cfg.max_epochs=2   (stops after 2 of the
#   10 epochs; the learning-rate schedule stays the 10-epoch one)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG=${CONFIG:-configs/fashion_mnist_lt/gated-se-resnet26-w16_apa-aglu_1xb128-10e_fashion-mnist-lt.py}
WORK_DIR=${WORK_DIR:-work_dirs/quickstart}
PY=$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)
cd "$ROOT"
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
ckpt=$(cat "$WORK_DIR/last_checkpoint")
"$PY" tools/test.py "$CONFIG" "$ckpt" --work-dir "$WORK_DIR"
"$PY" tools/analysis_tools/print_metrics.py "$WORK_DIR/test_metrics.json"
echo "quickstart: trained and tested in $(( $(date +%s) - start )) s; work dir: $WORK_DIR"
