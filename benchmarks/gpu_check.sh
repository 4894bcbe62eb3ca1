#!/usr/bin/env bash
# One prepared GPU check of cld_mm (about 5-8 minutes on one GPU):
#   1. detect python / torch / CUDA; install the missing parts of the stack
#      from a wheelhouse made by benchmarks/prepare_gpu_wheels.sh (no network,
#      no package replaced: the machine's own CUDA torch stays);
#   2. benchmarks/gpu_check.py: one training step per algorithm on CUDA
#      against CPU, the fast path's step rate against synthetic in-memory
#      batches, NPID+CLD CIFAR-10 epochs at batch 256.
#
#   bash benchmarks/gpu_check.sh [--dry-run] [--wheelhouse DIR] [--out DIR]
#        [-- ARGS FOR gpu_check.py]
#
# --dry-run: device cpu and tiny sizes; runs every step that needs no GPU.
# Environment: PYTHON (default python3), GPU_CHECK_TIMEOUT (seconds, 450).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dry=0
wheels=$repo/.whl
out=${OUT:-$repo/work_dirs/gpu_check}
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry=1 ;;
    --wheelhouse) wheels=$2; shift ;;
    --out) out=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "gpu_check.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
py=${PYTHON:-python3}
command -v "$py" >/dev/null || py=python
echo "[gpu_check] python: $(command -v "$py") ($("$py" -V 2>&1))"
# one interpreter start: torch's version, CUDA build and device (exit 4: no
# torch, 5: no GPU)
probe='import sys
try:
    import torch
except ImportError:
    sys.exit(4)
gpu = torch.cuda.is_available()
print("[gpu_check] torch", torch.__version__, "CUDA", torch.version.cuda,
      "available:", gpu, torch.cuda.get_device_name(0) if gpu else "")
sys.exit(0 if gpu else 5)'
"$py" -c "$probe"; probe_rc=$?
if [ $probe_rc -eq 4 ]; then
  echo "[gpu_check] this Python has no torch: install a CUDA build of torch first" >&2
  exit 2
elif [ $probe_rc -ne 0 ] && [ $probe_rc -ne 5 ]; then
  echo "[gpu_check] torch failed to load (exit $probe_rc)" >&2
  exit 2
elif [ $probe_rc -eq 5 ] && [ $dry -eq 0 ]; then
  echo "[gpu_check] torch sees no GPU (use --dry-run on a CPU machine)" >&2
  exit 2
fi

# 1. what the stack still needs, from the wheelhouse
site=$out/site
need=$("$py" "$repo/benchmarks/wheel_plan.py" "$wheels" 2>/dev/null || true)
if [ -n "$need" ]; then
  echo "[gpu_check] installing into $site:"; echo "$need" | sed 's/^/    /'
  # shellcheck disable=SC2086
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$site" $need || { echo "[gpu_check] install failed" >&2; exit 3; }
else
  echo "[gpu_check] nothing to install (wheelhouse: $wheels)"
fi
export PYTHONPATH=$repo:$site${PYTHONPATH:+:$PYTHONPATH}
# (only the marked line counts: an import may print on its own)
missing=$("$py" - <<'PY' | sed -n 's/^\[missing\] //p'
import importlib
bad = []
for m in ('mmengine', 'mmcv', 'mmpretrain', 'kornia', 'cld_mm'):
    try:
        importlib.import_module(m)
    except Exception as e:
        bad.append(f'{m} ({e!r})')
print('[missing] ' + '; '.join(bad))
PY
)
if [ -n "$missing" ]; then
  echo "[gpu_check] cannot import: $missing" >&2
  exit 3
fi

# 2. the checks
args=(--json "$out/gpu_check.json")
[ $dry -eq 1 ] && args+=(--dry-run)
export PYTHONUNBUFFERED=1
timeout "${GPU_CHECK_TIMEOUT:-450}" "$py" "$repo/benchmarks/gpu_check.py" \
  "${args[@]}" "${extra[@]}" 2>&1 | tee "$out/gpu_check.log"
rc=${PIPESTATUS[0]}
echo "[gpu_check] rc=$rc; results: $out/gpu_check.json, log: $out/gpu_check.log"
exit "$rc"
