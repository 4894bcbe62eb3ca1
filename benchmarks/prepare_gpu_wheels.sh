#!/usr/bin/env bash
# Build, on a machine with network access, the wheelhouse that
# benchmarks/gpu_check.sh installs from on a GPU machine without one.
#
#   bash benchmarks/prepare_gpu_wheels.sh [WHEELHOUSE] [PYTHON_VERSION ...]
#
# WHEELHOUSE defaults to .whl in the repository (git-ignored, about 10 MB);
# PYTHON_VERSION (default 3.12) is the GPU machine's Python, for the few
# compiled wheels (kornia-rs). torch, numpy, opencv, matplotlib, rich and
# pyyaml are NOT included: the GPU machine's own builds are kept (a CUDA
# torch in particular). mmcv comes as mmcv-lite 2.1.0 (the same package
# without compiled ops, pure Python, any torch): cld_mm's pre-training does
# not use mmcv.ops.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/.whl}
shift || true
versions=("$@")
[ ${#versions[@]} -eq 0 ] && versions=(3.12)
py=${PYTHON:-python3}
mkdir -p "$out"
# pure-Python parts of the stack (versions: requirements/constraints.txt)
pure=(mmengine==0.10.7 mmcv-lite==2.1.0 mmpretrain==1.2.0 kornia addict yapf
      termcolor model-index ordered-set mat4py platformdirs "importlib-metadata<9")
"$py" -m pip download -q --no-deps --only-binary=:all: -d "$out" \
  -c "$here/requirements/constraints.txt" "${pure[@]}"
# compiled wheels, one per GPU Python version
for v in "${versions[@]}"; do
  "$py" -m pip download -q --no-deps --only-binary=:all: -d "$out" \
    --python-version "$v" --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_28_x86_64 kornia-rs
done
ls -la "$out"
du -sh "$out"
