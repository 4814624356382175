#!/usr/bin/env bash
# Gather what an offline GPU node lacks for gated_mm's GPU check into one folder to carry onto
# it (docs/gpu_check.md). Run it in a clone, on a machine that reaches the package registry:
#
#   bash tools/analysis_tools/make_gpu_bundle.sh [options] [OUT_DIR]      (default gpu_bundle)
#
#   --python X.Y        the node's Python: the tags of the compiled wheels (default 3.12)
#   --torch T=V[,T=V]   the node's torch T and the torchvision V built for it; one
#                       torchvision wheel each, the check picks the one for the node's torch
#                       (default 2.11.0=0.26.0,2.14.1=0.29.2: the target node's, and this
#                       project's tested torch)
#   --fashion-mnist DIR a folder with the four Fashion-MNIST IDX files (.gz or extracted);
#                       default: the Debian package dataset-fashion-mnist, installed
#                       (/usr/share/datasets/fashion-mnist) or fetched with apt-get download
#   --no-data           no data (the check's training step then fails: no Fashion-MNIST)
#   --max-mib N         refuse a bundle larger than N MiB (default 64)
#
# OUT_DIR then holds (replaced, if it exists):
#   wheels/                 requirements/gpu_bundle.txt (pure Python except PyYAML; manylinux
#                           x86_64 CPython wheels; a package with no wheel is built from its
#                           sdist), and the torchvision wheels
#   data/fashion-mnist/     train-images-idx3-ubyte.gz ... t10k-labels-idx1-ubyte.gz (30 MB)
#   gated_mm-src.tar.gz     this clone's files (tracked and untracked, not ignored): the
#                           package, configs, tools and tests
#   check.sh                the one call on the node: bash OUT_DIR/check.sh RESULTS_DIR
#   MANIFEST.txt            what was built from what, every file's size and sha256
# Not in it, and not needed by the check: mmcv with compiled ops, mmdet, lvis, pycocotools
# (detection; docs/gpu_check.md says what that path needs).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYV=3.12
TORCH_PAIRS=2.11.0=0.26.0,2.14.1=0.29.2
FMNIST=""
DATA=1
MAX_MIB=64
OUT=""
die() { echo "make_gpu_bundle.sh: error: $*" >&2; exit 2; }
log() { echo "[make_gpu_bundle] $*" >&2; }
while [ $# -gt 0 ]; do
  case $1 in
    --python) PYV=${2:?--python needs X.Y}; shift 2 ;;
    --torch) TORCH_PAIRS=${2:?--torch needs T=V[,T=V]}; shift 2 ;;
    --fashion-mnist) FMNIST=${2:?--fashion-mnist needs a folder}; shift 2 ;;
    --no-data) DATA=0; shift ;;
    --max-mib) MAX_MIB=${2:?--max-mib needs a number}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$OUT" ] || die "one OUT_DIR only (got $OUT and $1)"; OUT=$1; shift ;;
  esac
done
[[ $PYV =~ ^3\.[0-9]+$ ]] || die "--python $PYV: expected X.Y, e.g. 3.12"
[[ $MAX_MIB =~ ^[0-9]+$ ]] || die "--max-mib $MAX_MIB: expected a whole number of MiB"
[[ $TORCH_PAIRS =~ ^[0-9][0-9.a-z]*=[0-9][0-9.a-z]*(,[0-9][0-9.a-z]*=[0-9][0-9.a-z]*)*$ ]] ||
  die "--torch $TORCH_PAIRS: expected T=V[,T=V], e.g. 2.11.0=0.26.0"
[ -z "$FMNIST" ] || [ -d "$FMNIST" ] || die "--fashion-mnist $FMNIST: no such folder"
OUT=$(realpath -m "${OUT:-gpu_bundle}")
case "$OUT/" in "$ROOT/"|/) die "OUT_DIR $OUT would replace the clone" ;; esac
if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/.gpu_bundle" ]; then
  die "OUT_DIR $OUT exists and is not a bundle (no .gpu_bundle): give a new or empty folder"
fi

PY=${PYTHON:-python3}
TAG=cp${PYV/./}
PIP_DL=("$PY" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all:
        --python-version "$PYV" --implementation cp --platform manylinux_2_28_x86_64
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
start=$(date +%s)
rm -rf "$OUT"
mkdir -p "$OUT/wheels"
touch "$OUT/.gpu_bundle"  # marks the folder as one this script may replace
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# 1. the wheels of requirements/gpu_bundle.txt, one at a time (a failure names its package)
while read -r spec; do
  if "${PIP_DL[@]}" -d "$OUT/wheels" "$spec" 2>"$TMP/err"; then
    continue
  fi
  log "$spec: no $TAG manylinux wheel; building one from its sdist"
  mkdir -p "$TMP/sdist" "$TMP/built"
  "$PY" -m pip download --disable-pip-version-check -q --no-deps --no-binary=:all: \
    -d "$TMP/sdist" "$spec" >&2 || die "$spec: neither a wheel nor an sdist ($(tail -n 1 "$TMP/err"))"
  "$PY" -m pip wheel --disable-pip-version-check -q --no-deps -w "$TMP/built" "$TMP"/sdist/* >&2 ||
    die "$spec: its sdist does not build into a wheel here"
  for w in "$TMP"/built/*.whl; do
    case $(basename "$w") in
      *-none-any.whl) ;;
      *-"$TAG"-*linux_x86_64.whl) ;;
      *) die "$spec: the sdist built $(basename "$w"), not a pure-Python or $TAG x86_64 wheel: run this script with Python $PYV on x86_64 Linux" ;;
    esac
    mv "$w" "$OUT/wheels/"
  done
  rm -rf "$TMP/sdist" "$TMP/built"
done < <(grep -vE '^[[:space:]]*(#|$)' "$ROOT/requirements/gpu_bundle.txt" | sed 's/[[:space:]]*#.*//')

# 2. one torchvision per node torch: its metadata must admit that torch
IFS=, read -ra pairs <<<"$TORCH_PAIRS"
for pair in "${pairs[@]}"; do
  t=${pair%%=*} v=${pair#*=}
  mkdir -p "$TMP/tv"
  "${PIP_DL[@]}" -d "$TMP/tv" "torchvision==$v" >&2 || die "torchvision==$v: no $TAG manylinux wheel"
  w=$(ls "$TMP"/tv/torchvision-*.whl)
  "$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import gpu_bundle as g
req = g.torch_requirement(sys.argv[2])
sys.exit(0 if g.satisfies(sys.argv[3], req) else f"torchvision {sys.argv[4]} needs torch "
         f"{g.describe(req)}, not {sys.argv[3]} (--torch {sys.argv[3]}={sys.argv[4]})")' \
    "$ROOT/tools/analysis_tools" "$w" "$t" "$v" || exit 2
  mv "$w" "$OUT/wheels/"
  rm -rf "$TMP/tv"
done

# 3. Fashion-MNIST, the four IDX files gzipped
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
has_all() { local f; for f in "${FILES[@]}"; do [ -f "$1/$f.gz" ] || [ -f "$1/$f" ] || return 1; done; }
if [ "$DATA" = 1 ]; then
  src=""
  for dir in "$FMNIST" /usr/share/datasets/fashion-mnist; do
    if [ -n "$dir" ] && has_all "$dir"; then src=$dir; break; fi
  done
  if [ -z "$src" ] && command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    log "fetching the Debian package dataset-fashion-mnist (31 MB; not installed)"
    if (cd "$TMP" && apt-get download dataset-fashion-mnist >/dev/null 2>&1) &&
       dpkg-deb -x "$TMP"/dataset-fashion-mnist_*.deb "$TMP/deb" &&
       has_all "$TMP/deb/usr/share/datasets/fashion-mnist"; then
      src=$TMP/deb/usr/share/datasets/fashion-mnist
    fi
  fi
  [ -n "$src" ] || die "no Fashion-MNIST: give --fashion-mnist DIR (the four IDX files), run 'apt-get update' first, or --no-data"
  mkdir -p "$OUT/data/fashion-mnist"
  for f in "${FILES[@]}"; do
    if [ -f "$src/$f.gz" ]; then
      gzip -t "$src/$f.gz" || die "$src/$f.gz is not a whole gzip file"
      cp "$src/$f.gz" "$OUT/data/fashion-mnist/"
    else
      gzip -9 -c "$src/$f" >"$OUT/data/fashion-mnist/$f.gz"
    fi
  done
  DATA_FROM=$src
  case $src in "$TMP"/*) DATA_FROM="Debian package dataset-fashion-mnist (apt-get download)" ;; esac
fi

# 4. this clone (the working tree: tracked and untracked files that git does not ignore)
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) |
  while IFS= read -r -d '' f; do
    case "$ROOT/$f" in "$OUT"/*) continue ;; esac
    [ -f "$ROOT/$f" ] && printf '%s\0' "$f"
  done >"$TMP/files"
tar -C "$ROOT" --null -T "$TMP/files" -czf "$OUT/gated_mm-src.tar.gz"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)
[ -z "$(git -C "$ROOT" status --porcelain)" ] || COMMIT="$COMMIT + uncommitted changes"

# 5. the one call on the node
cat >"$OUT/check.sh" <<'EOF'
#!/usr/bin/env bash
# gated_mm's offline GPU check: unpack the clone carried here, install the wheels carried here
# (pip --no-index --no-deps --target), run the checks, write RESULTS_DIR/summary.md.
#   bash check.sh RESULTS_DIR [tools/analysis_tools/gpu_check.sh options; --help lists them]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${GATED_MM_CHECK_SRC:-${TMPDIR:-/tmp}/gated_mm_gpu_check/src}
rm -rf "$SRC" && mkdir -p "$SRC" && tar -xzf "$HERE/gated_mm-src.tar.gz" -C "$SRC"
exec bash "$SRC/tools/analysis_tools/gpu_check.sh" --bundle "$HERE" "$@"
EOF

# 6. the manifest, and the size limit
total=$(find "$OUT" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
{
  echo "gated_mm GPU bundle: built $(date -u +%FT%TZ) from $COMMIT with $("$PY" -m pip --version | cut -d' ' -f1,2)"
  echo "for: CPython $PYV, manylinux x86_64; torch=torchvision pairs $TORCH_PAIRS"
  echo "data: ${DATA_FROM:-none (--no-data)}"
  echo "total: $(awk -v b="$total" 'BEGIN {printf "%.1f MiB (%d bytes)", b / 1048576, b}') in $(find "$OUT" -type f | wc -l) files (this manifest not counted)"
  echo
  (cd "$OUT" && find . -type f ! -name MANIFEST.txt -printf '%P\n' | sort | while read -r f; do
    printf '%10d  %s  %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)" "$f"; done)
} >"$OUT/MANIFEST.txt"
log "$(sed -n 4p "$OUT/MANIFEST.txt"); built in $(( $(date +%s) - start )) s: $OUT"
if [ "$total" -gt $(( MAX_MIB * 1048576 )) ]; then
  die "the bundle is $(( total / 1048576 )) MiB, over --max-mib $MAX_MIB (drop a --torch pair, or --no-data)"
fi
echo "$OUT"
