#!/usr/bin/env bash
# README command 2: set up the environment if needed (tools/setup_env.sh), then run the tests.
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# the deployment tests need onnx + onnxruntime (requirements/deploy.txt), the FasterLVISMetric
# parity tests faster-coco-eval (requirements/lvis_fast.txt), the test of mmdet's analyze_logs.py
# seaborn (requirements/analysis.txt): the test environment has them
PY=$(GATED_MM_EXTRAS=${GATED_MM_EXTRAS:-deploy,lvis_fast,analysis} bash "$ROOT/tools/setup_env.sh" | tail -n 1)
cd "$ROOT"
export PATH="$(dirname "$PY"):$PATH"   # tools/*.sh find the environment's python
exec "$PY" -m pytest tests -q -ra "$@"
