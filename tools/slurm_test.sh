#!/usr/bin/env bash
# Testing on a Slurm cluster (OpenMMLab convention):
#   [GPUS=8] [GPUS_PER_NODE=8] bash tools/slurm_test.sh \
#       PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options...]
# Environment: GPUS (total tasks, 8), GPUS_PER_NODE (tasks per node, 8), CPUS_PER_TASK (5),
# SRUN_ARGS (extra srun arguments), GRES (default gpu:$GPUS_PER_NODE; GRES= for a CPU
# partition, where the tasks then use gloo), PYTHON (default: python on PATH).
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: bash $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options...]" >&2
    exit 2
fi
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
GRES=${GRES-gpu:${GPUS_PER_NODE}}
PYTHON=${PYTHON:-python}
TOOLS=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    ${GRES:+--gres="${GRES}"} \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$TOOLS/test.py" "${CONFIG}" "${CHECKPOINT}" --launcher="slurm" "${@:5}"
