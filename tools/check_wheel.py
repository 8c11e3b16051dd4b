#!/usr/bin/env python3
"""Check a repaired nnkern wheel and its installation (CI, after ``auditwheel repair``).

    python tools/check_wheel.py WHEEL              # the wheel's contents (any Python)
    VENV/bin/python tools/check_wheel.py --installed   # the installation, run from outside the checkout

The wheel: a manylinux tag, libgomp bundled under ``nnkern.libs/`` and no copy of
``libscipy_openblas.so`` (nnkern uses the one of its ``scipy-openblas32`` dependency). The
installation: ``nnkern`` imports from site-packages (not from a source tree); the native module
finds OpenBLAS by its RPATH alone (loaded in a process that has not imported
``scipy_openblas32``) and, after ``import nnkern`` (which preloads it), the process has mapped
exactly one libscipy_openblas.so, the dependency's, and the bundled libgomp.
"""
import argparse
import os
import re
import subprocess
import sys
import sysconfig
import zipfile


def check_wheel(path):
    name = os.path.basename(path)
    if not re.search(r"-manylinux_\d+_\d+_x86_64\.whl$", name):
        sys.exit(f"{name}: not a manylinux wheel")
    files = zipfile.ZipFile(path).namelist()
    gomp = [f for f in files if re.fullmatch(r"nnkern\.libs/libgomp-[0-9a-f]+\.so[.0-9]*", f)]
    blas = [f for f in files if "libscipy_openblas" in f]
    if not gomp:
        sys.exit(f"{name}: libgomp is not bundled under nnkern.libs/")
    if blas:
        sys.exit(f"{name}: bundles {blas}; it must load the scipy-openblas32 dependency's copy")
    print(f"{name}: bundles {gomp[0]}, no libscipy_openblas.so")


RPATH_ONLY = """
import ctypes, glob, importlib.util, os, sys
pkg = importlib.util.find_spec("nnkern").submodule_search_locations[0]  # the folder, nnkern not imported
ctypes.CDLL(glob.glob(os.path.join(pkg, "_core.*.so"))[0])  # its DT_NEEDED libscipy_openblas.so by RPATH only
assert "scipy_openblas32" not in sys.modules
maps = open("/proc/self/maps").read()
print([p for p in set(l.split()[-1] for l in maps.splitlines()) if p.endswith("/libscipy_openblas.so")][0])
"""


def check_installed():
    # the import path of `python -m pytest` run from the checkout: the working directory and tests/ first
    sys.path[:0] = [os.getcwd(), os.path.join(os.getcwd(), "tests")]
    import nnkern
    site = os.path.realpath(sysconfig.get_paths()["platlib"])
    where = os.path.realpath(nnkern.__file__)
    if not where.startswith(site + os.sep):
        sys.exit(f"nnkern imports from {where}, not from this environment's site-packages {site}")
    print(f"nnkern {nnkern.__version__} imports from {where}")
    import scipy_openblas32
    want = os.path.realpath(os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas.so"))
    maps = {line.split()[-1] for line in open("/proc/self/maps") if "/" in line}
    blas = {os.path.realpath(p) for p in maps if os.path.basename(p) == "libscipy_openblas.so"}
    gomp = {p for p in maps if "libgomp" in p}
    if blas != {want}:
        sys.exit(f"mapped OpenBLAS {sorted(blas)}, expected only {want}")
    if not any(os.sep + "nnkern.libs" + os.sep in p for p in gomp):
        sys.exit(f"the bundled libgomp is not loaded: {sorted(gomp)}")
    print(f"preload: {want}; OpenMP: {sorted(gomp)}")
    out = subprocess.run([sys.executable, "-c", RPATH_ONLY], capture_output=True, text=True)
    if out.returncode or os.path.realpath(out.stdout.strip()) != want:
        sys.exit(f"the native module does not find OpenBLAS by its RPATH alone:\n{out.stdout}{out.stderr}")
    print(f"RPATH alone: {out.stdout.strip()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", nargs="?", help="the repaired wheel file")
    ap.add_argument("--installed", action="store_true", help="check the installed nnkern instead")
    args = ap.parse_args()
    if args.installed:
        check_installed()
    elif args.wheel:
        check_wheel(args.wheel)
    else:
        ap.error("give a wheel or --installed")


if __name__ == "__main__":
    main()
