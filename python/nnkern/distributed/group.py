"""The process group: which rank this process is, how many there are, and a no-op fallback.

``init()`` reads the MPI environment once. Under ``mpiexec`` (or ``srun``, or any launcher
that sets the PMI/PMIx variables) it imports mpi4py and uses ``MPI.COMM_WORLD``; otherwise it
is a single process of rank 0 in a world of size 1, and every collective in
:mod:`nnkern.distributed` returns at once, so the same training script runs unchanged with
or without MPI (and without mpi4py installed). mpi4py is imported only here, lazily.

When the world has more than one rank, ``init()`` also installs an exception hook that
prints the traceback and calls ``MPI_Abort``: a rank that raises ends the whole job at once
instead of leaving the other ranks waiting in a collective forever. (``python -m mpi4py``
does the same; the hook covers scripts run without it.)
"""
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

#: Variables that launchers set in every rank: MPICH/Hydra, Intel MPI and Slurm's PMI-1/2
#: (PMI_SIZE), PMIx (Open MPI 5, Slurm), Open MPI's own and MVAPICH2's.
_LAUNCH_VARS = ("PMI_SIZE", "PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")

_INSTALL_HINT = "install the MPI extra: pip install 'nnkern[mpi]' (mpi4py and the mpich wheel)"


@dataclass(frozen=True)
class World:
    """This process's place in the job. ``comm`` is the mpi4py communicator (None when single)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    comm: Any | None = None

    @property
    def is_main(self):
        return self.rank == 0


_world = None


def launched():
    """True when a launcher (mpiexec, srun, ...) started this process, or mpi4py.MPI is loaded."""
    return "mpi4py.MPI" in sys.modules or any(v in os.environ for v in _LAUNCH_VARS)


def _launch_size():
    for v in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        if os.environ.get(v, "").isdigit():
            return int(os.environ[v])
    return None


def mpi():
    """The ``mpi4py.MPI`` module, imported on first use; ImportError says what to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"nnkern.distributed needs mpi4py and an MPI library ({e}); {_INSTALL_HINT}") from e
    return MPI


def init(comm=None):
    """Set up the process group once and return the :class:`World` (later calls return it again).

    comm: an mpi4py intracommunicator to train over (default ``MPI.COMM_WORLD`` when launched
    by MPI; a single-process world otherwise). Raises RuntimeError when a launcher started
    several ranks but mpi4py is missing (each would otherwise train alone, silently).
    """
    global _world
    if _world is not None:
        if comm is not None and comm is not _world.comm:
            raise RuntimeError("nnkern.distributed.init: already initialised with another communicator")
        return _world
    if comm is None and launched():
        try:
            comm = mpi().COMM_WORLD
        except ImportError as e:
            n = _launch_size()
            if n is not None and n > 1:
                raise RuntimeError(f"this process is one of {n} ranks started by an MPI launcher, but {e}") from e
    if comm is None:
        _world = World()
        return _world
    local = comm.Split_type(mpi().COMM_TYPE_SHARED, key=comm.Get_rank())
    try:
        _world = World(comm.Get_rank(), comm.Get_size(), local.Get_rank(), local.Get_size(), comm)
    finally:
        local.Free()
    if _world.size > 1:
        _install_abort_hook(comm)
    return _world


def world():
    """The :class:`World`, initialising it on first use."""
    return _world if _world is not None else init()


def rank():
    """This process's rank (0 when not distributed)."""
    return world().rank


def world_size():
    """Number of ranks (1 when not distributed)."""
    return world().size


def local_rank():
    """Rank among the processes on this machine."""
    return world().local_rank


def local_size():
    """Number of ranks on this machine (for threads per rank: cores / local_size)."""
    return world().local_size


def is_main():
    """True on rank 0, the rank that prints progress and writes files."""
    return world().rank == 0


def is_distributed():
    """True when there is more than one rank."""
    return world().size > 1


def barrier():
    """Wait until every rank gets here (no-op when single)."""
    w = world()
    if w.comm is not None:
        w.comm.Barrier()


def abort(code=1):
    """End the whole job with exit status ``code`` (every rank, at once); plain exit when single."""
    w = world()
    sys.stdout.flush()
    sys.stderr.flush()
    if w.comm is not None and w.size > 1:
        time.sleep(_ABORT_FLUSH_SECONDS)  # let mpiexec forward this rank's last words
        w.comm.Abort(int(code))
    raise SystemExit(int(code))


def abort_if_distributed(code):
    """End the whole job with ``code`` if this process is one of several initialised ranks
    (called where a rank gives up, so the others are not left waiting); otherwise return."""
    if _world is not None and _world.size > 1:
        abort(code)


def default_threads():
    """Threads per rank that do not oversubscribe: usable cores // ranks on this machine, at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // local_size())


# Time for mpiexec to forward a failing rank's last output before MPI_Abort ends the job.
_ABORT_FLUSH_SECONDS = 0.5


def _install_abort_hook(comm):
    previous = sys.excepthook

    def hook(kind, value, tb):
        # One write of the whole report straight to fd 2, then a short pause before Abort:
        # MPI_Abort tears the job down at once, and output still in a pipe to mpiexec's
        # forwarder is lost (seen in CI: the header line arrived, the traceback did not).
        head = f"nnkern.distributed: rank {comm.Get_rank()} of {comm.Get_size()} raised; aborting the job\n"
        try:
            if previous is sys.__excepthook__ or previous is hook:
                text = head + "".join(traceback.format_exception(kind, value, tb))
                sys.stdout.flush()
                os.write(2, text.encode("utf-8", "replace"))
            else:  # someone else's hook (IPython, a logger): let it report its own way
                sys.stderr.write(head)
                previous(kind, value, tb)
                sys.stdout.flush()
                sys.stderr.flush()
        except Exception:
            traceback.print_exception(kind, value, tb)
        time.sleep(_ABORT_FLUSH_SECONDS)
        comm.Abort(1)

    sys.excepthook = hook
