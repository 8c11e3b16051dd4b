"""``nnkern launch -n 4 train ...``: start a data-parallel job through mpiexec.

It runs, and returns the exit status of,

    <mpiexec> -n 4 <python> -m mpi4py -m nnkern train --distributed ...

with the ``mpiexec`` that sits beside this Python (the mpich wheel's, from the [mpi] extra),
else the first on PATH, or the one given with ``--mpiexec``. ``-m mpi4py`` makes a rank that
raises abort the whole job. A Python script can be launched the same way
(``nnkern launch -n 2 my_training.py --lr 0.1``). Extra mpiexec options (hosts, ...) go
through ``--mpiexec-args``, e.g. ``--mpiexec-args="-hosts a,b"``.
"""
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys

_HINT = "install the MPI extra: pip install 'nnkern[mpi]'"


def find_mpiexec(explicit=None):
    """The mpiexec to use (absolute path); FileNotFoundError names what to install."""
    if explicit:
        found = shutil.which(explicit)
        if not found:
            raise FileNotFoundError(f"--mpiexec {explicit!r} is not an executable")
        return found
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if not found:
        raise FileNotFoundError(f"no mpiexec beside {sys.executable} or on PATH; {_HINT}")
    return found


def command(n, args, mpiexec, mpiexec_args=()):
    """The argv that ``launch`` runs for ``args`` (``['train', ...]`` or ``['script.py', ...]``)."""
    if not args:
        raise ValueError("nnkern launch: say what to run: train [options] or a script.py")
    args = list(args)
    if args[0] == "train":
        if "--distributed" not in args:
            args.insert(1, "--distributed")
        target = ["-m", "nnkern"] + args
    elif args[0].endswith(".py"):
        target = args
    else:
        raise ValueError(f"nnkern launch runs 'train' or a Python script, not {args[0]!r}")
    return [mpiexec, *mpiexec_args, "-n", str(int(n)), sys.executable, "-m", "mpi4py", *target]


def launch(n, args, mpiexec=None, mpiexec_args=""):
    """Run the job and return mpiexec's exit status (non-zero if any rank failed)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"nnkern launch: -n must be a positive number of ranks, got {n!r}")
    if importlib.util.find_spec("mpi4py") is None:
        raise ValueError(f"nnkern launch needs mpi4py; {_HINT}")
    argv = command(n, args, find_mpiexec(mpiexec), shlex.split(mpiexec_args or ""))
    return subprocess.call(argv)


def add_arguments(ap):
    import argparse
    ap.add_argument("-n", "--np", dest="n", type=int, required=True, help="number of ranks (processes)")
    ap.add_argument("--mpiexec", default=None, help="mpiexec to use (default: beside python, then PATH)")
    ap.add_argument("--mpiexec-args", default="", help="extra mpiexec options, one string (e.g. '-hosts a,b')")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="train [train options] | script.py [args]")
