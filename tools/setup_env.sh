#!/usr/bin/env bash
# Build (or reuse) the Python environment gated_mm runs in, then print its python path
# on the last line of stdout.
#
#   bash tools/setup_env.sh       # idempotent; 17-35 min the first time on 2 cores, seconds after
#   PY=$(bash tools/setup_env.sh | tail -n 1)
#
# Two layers:
#   A. a shared virtual environment with the dependencies only (no gated_mm in it), under
#      $GATED_MM_CACHE (default ~/.cache/gated_mm), keyed by a hash of requirements/*.txt
#      and the pinned torch/mmcv, so every clone on the machine reuses it:
#      1. if the base python already has torch (a GPU cluster), the venv sees it
#         (--system-site-packages) and torch is not reinstalled;
#      2. torch + torchvision as a matching pair (the CPU-only torch wheel has no
#         torchvision; the registry's default CUDA pair runs on CPU);
#      3. mmcv 2.1.0 with its compiled ops, built once from the sdist (--no-build-isolation,
#         MMCV_WITH_OPS=1, setuptools<82 because its setup.py imports pkg_resources,
#         -std=c++20 because torch >= 2.14 headers need C++20) and cached as a wheel under
#         $GATED_MM_CACHE/wheels, keyed by torch version, python version and CUDA;
#      4. mmengine / mmdet / mmpretrain / lvis with --no-deps and their real dependencies
#         from requirements/runtime.txt (headless OpenCV < 5; mmdet 3.3.0 needs mmcv < 2.2);
#   B. this clone's own environment, $GATED_MM_CLONE_VENV (default <clone>/.venv): a small
#      venv whose site-packages put this clone first on sys.path, then layer A's
#      site-packages. `import gated_mm` in it always loads this clone, whichever clone ran
#      the set-up last (a notebook or an inferencer script included: use <clone>/.venv as
#      its interpreter). Nothing of the clone is installed into layer A.
#   Then: the Fashion-MNIST Debian package when we are root, and a check that mmcv.ops.nms
#   runs, every gated_mm module registers, and gated_mm is imported from this clone.
#
# Environment: GATED_MM_CACHE, GATED_MM_VENV (use this venv as layer A), GATED_MM_CLONE_VENV,
# GATED_MM_BASE_PYTHON (python used to create the venvs, default python3),
# GATED_MM_EXTRAS=deploy,lvis_fast,analysis (comma-separated; also install
# requirements/deploy.txt: onnx, onnxruntime; requirements/lvis_fast.txt: faster-coco-eval for
# FasterLVISMetric; requirements/analysis.txt: seaborn for mmdet's analyze_logs.py).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${GATED_MM_CACHE:-$HOME/.cache/gated_mm}
BASE_PY=${GATED_MM_BASE_PYTHON:-python3}
TORCH_PAIR=(torch==2.14.1 torchvision==0.29.2)
MMCV_VERSION=2.1.0
log() { echo "[setup_env] $*" >&2; }

mkdir -p "$CACHE/wheels"
exec 9>"$CACHE/setup.lock"
flock 9   # two setups on one machine (quickstart + tests) wait for each other

if "$BASE_PY" -c 'import torch' >/dev/null 2>&1; then
    SYSTEM_TORCH=$("$BASE_PY" -c 'import torch; print(torch.__version__)')
    log "base python has torch $SYSTEM_TORCH: using it"
else
    SYSTEM_TORCH=""
fi
# The environment is keyed by what goes into it (not by this script's text, not by comments
# in the requirement files; the optional requirements/deploy.txt and lvis_fast.txt are
# installed on top).
STAMP=$({ cat "$ROOT"/requirements/{openmmlab,runtime,tests}.txt | grep -v -E '^[[:space:]]*(#|$)'
          echo "${TORCH_PAIR[*]} mmcv==$MMCV_VERSION $SYSTEM_TORCH"; } | sha1sum | cut -c1-12)
VENV=${GATED_MM_VENV:-$CACHE/venv-$STAMP}
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

if [ -f "$VENV/.gated_mm_ready" ]; then
    log "reusing environment $VENV"
else
    start=$(date +%s)
    if [ ! -x "$PY" ]; then
        log "creating virtual environment $VENV"
        if [ -n "$SYSTEM_TORCH" ]; then
            "$BASE_PY" -m venv --system-site-packages "$VENV"
        else
            "$BASE_PY" -m venv "$VENV"
        fi
    fi
    "${PIP[@]}" --upgrade pip 'setuptools<82' wheel ninja
    if [ -z "$SYSTEM_TORCH" ]; then
        log "installing ${TORCH_PAIR[*]} (first time: a few GB)"
        "${PIP[@]}" "${TORCH_PAIR[@]}"
    elif ! "$PY" -c 'import torchvision' >/dev/null 2>&1; then
        log "torchvision missing beside torch $SYSTEM_TORCH: install the matching torchvision first"
        exit 1
    fi
    "${PIP[@]}" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"

    key=$("$PY" -c 'import sys, torch; print(f"torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}-cuda{torch.version.cuda if torch.cuda.is_available() else None}")')
    wheel_dir="$CACHE/wheels/mmcv-$MMCV_VERSION-$key"
    if ! ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
        log "building mmcv $MMCV_VERSION with ops for $key (11-25 min on 2 cores, once per machine)"
        build=$(mktemp -d)
        "$PY" -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: --no-build-isolation \
            "mmcv==$MMCV_VERSION" -d "$build"
        tar -xzf "$build"/mmcv-*.tar.gz -C "$build"
        src=$(find "$build" -maxdepth 1 -type d -name "mmcv-$MMCV_VERSION")
        # torch >= 2.14 headers need C++20; a C++20 build also works on older torch.
        sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
        (cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
            "$PY" -m pip wheel --disable-pip-version-check -q --no-deps --no-build-isolation \
            . -w "$build/dist") >&2
        mkdir -p "$wheel_dir"
        mv "$build"/dist/mmcv-*.whl "$wheel_dir/"
        rm -rf "$build"
    fi
    "${PIP[@]}" --no-deps "$wheel_dir"/mmcv-*.whl
    "${PIP[@]}" --no-deps -r "$ROOT/requirements/openmmlab.txt"
    touch "$VENV/.gated_mm_ready"
    log "environment built in $(( $(date +%s) - start )) s"
fi

# Optional extras (comma-separated), installed on top of layer A without changing its key.
extras=",${GATED_MM_EXTRAS:-},"
if [[ $extras == *,deploy,* ]] && ! "$PY" -c 'import onnx, onnxruntime' >/dev/null 2>&1; then
    log "installing requirements/deploy.txt (onnx, onnxruntime)"
    "${PIP[@]}" -r "$ROOT/requirements/deploy.txt"
fi
if [[ $extras == *,lvis_fast,* ]] && ! "$PY" -c 'import faster_coco_eval' >/dev/null 2>&1; then
    log "installing requirements/lvis_fast.txt (faster-coco-eval)"
    "${PIP[@]}" -r "$ROOT/requirements/lvis_fast.txt"
fi
if [[ $extras == *,analysis,* ]] && ! "$PY" -c 'import seaborn' >/dev/null 2>&1; then
    log "installing requirements/analysis.txt (seaborn)"
    "${PIP[@]}" -r "$ROOT/requirements/analysis.txt"
fi

# Layer B: this clone's environment (cheap; the .pth files are rewritten every run, so a
# moved clone is fixed by running this again).
CLONE_VENV=${GATED_MM_CLONE_VENV:-$ROOT/.venv}
if [ ! -x "$CLONE_VENV/bin/python" ]; then
    log "creating this clone's environment $CLONE_VENV (over $VENV)"
    venv_flags=(--without-pip)
    if grep -q '^include-system-site-packages = true' "$VENV/pyvenv.cfg"; then
        venv_flags+=(--system-site-packages)
    fi
    "$PY" -m venv "${venv_flags[@]}" "$CLONE_VENV"
fi
CLONE_PY="$CLONE_VENV/bin/python"
shared_site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
clone_site=$("$CLONE_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# .pth files run in name order: the clone's root first, then layer A (and its own .pth files).
printf '%s\n' "$ROOT" > "$clone_site/00-gated_mm-clone.pth"
printf 'import site; site.addsitedir(%s)\n' "'$shared_site'" > "$clone_site/01-gated_mm-shared.pth"

# Real Fashion-MNIST from Debian when we may install it (optional: the data lookup also
# accepts a given data root); never fatal.
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian package dataset-fashion-mnist"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; } \
        >/dev/null 2>&1 || log "could not install dataset-fashion-mnist (give --data-root instead)"
fi

GATED_MM_ROOT="$ROOT" "$CLONE_PY" - <<'EOF' >&2
import os, os.path as osp
import torch, mmcv, mmcv.ops, mmdet, mmpretrain, mmengine
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
dets, keep = mmcv.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
assert keep.tolist() == [0, 2], keep
import gated_mm  # registers every module
root = os.environ['GATED_MM_ROOT']
assert osp.realpath(gated_mm.__file__).startswith(osp.realpath(root) + os.sep), \
    f'gated_mm imported from {gated_mm.__file__}, not from this clone {root}'
print(f'[setup_env] ok: torch {torch.__version__}, mmcv {mmcv.__version__} (ops), '
      f'mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, gated_mm {gated_mm.__version__} '
      f'from {osp.dirname(gated_mm.__file__)}')
EOF
echo "$CLONE_PY"
