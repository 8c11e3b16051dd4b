"""Build and runtime report (``nnkern info``)."""
import os

from . import _core

# The folder a shared library sits in -> whose copy it is (numpy and torch bring their own
# OpenBLAS / OpenMP; nnkern's OpenBLAS is the scipy-openblas32 package's).
_OWNERS = (("scipy_openblas32", "nnkern"), ("nnkern.libs", "nnkern"), ("numpy.libs", "numpy"),
           ("numpy", "numpy"), ("torch", "torch"), ("scipy.libs", "scipy"), ("scipy", "scipy"))


def pool_owner(filepath):
    """Whose copy of a library a thread pool is: 'nnkern', 'numpy', 'torch', 'scipy', or
    'system' (a library of the system, such as the libgomp a source build of nnkern links)."""
    parts = os.path.normpath(filepath or "").split(os.sep)[:-1]
    for folder, owner in _OWNERS:
        if folder in parts:
            return owner
    return "system"


def blas_pools():
    """Thread pools threadpoolctl sees in this process (OpenMP and OpenBLAS), each with its
    ``owner`` (:func:`pool_owner`)."""
    from threadpoolctl import threadpool_info
    return [
        {**{k: p.get(k) for k in ("user_api", "internal_api", "prefix", "num_threads", "version",
                                  "threading_layer", "architecture", "filepath")},
         "owner": pool_owner(p.get("filepath"))}
        for p in threadpool_info()
    ]


def wait_policy():
    from ._threads import describe
    return describe()


def output_cache_line() -> str:
    c = _core._output_cache_state()
    if not c["max_bytes"]:
        return "off (NNKERN_OUTPUT_CACHE=0 or nnkern.set_output_cache(0))"
    return (f"freed outputs >= {c['min_bytes'] >> 20} MiB reused, up to {c['max_bytes'] >> 20} MiB kept "
            f"(nnkern.set_output_cache / NNKERN_OUTPUT_CACHE); {c['bytes'] >> 20} MiB held now")


def busy_threads_line():
    """Whether nnkern halves its thread team while other processes keep the cores busy."""
    configured, now, reduced, on = _core._threads_state()
    if not on:
        return "fixed: regions use the configured count (NNKERN_ADAPTIVE_THREADS=1: half of it on a busy machine)"
    state = f"now reduced to {now} of {configured}" if reduced else f"now {now} of {configured}"
    return f"adaptive (NNKERN_ADAPTIVE_THREADS=1): half the team while other processes keep the cores busy ({state})"


def gemm_kernels():
    """The ISA path of nnkern's own GEMM micro-kernels (implicit-GEMM convolution), and why
    NNKERN_ISA was not honoured if it was not."""
    note = _core.gemm_isa_note()
    return f"nnkern GEMM micro-kernels: {_core.gemm_isa()}" + (f" ({note})" if note else "") + "; OpenBLAS elsewhere"


def conv_algorithms_line():
    """The convolution algorithms of this build and what each needs."""
    return "; ".join(f"{a['name']} ({'float32+float64' if a['float64'] else 'float32'}; needs {a['needs']})"
                     for a in _core.conv2d_algorithms())


def conv_select_line():
    from .conv_algo import ENV, get_conv_algo
    mode = get_conv_algo()
    how = {"heuristic": "heuristic (shape, dtype and CPU rules; reproducible)",
           "benchmark": "benchmark (measured once per shape, pass, dtype and thread count; cached)"}
    return f"{how.get(mode, f'forced {mode!r} where it applies')}; set by nnkern.set_conv_algo or {ENV}"


def pool_line():
    """nnkern's fork-join pool (src/thread_pool.h), in words."""
    p = _core._pool_state()
    wait = "idle workers sleep at once" if p["spin_us"] == 0 else f"idle workers spin {p['spin_us']} us, then sleep"
    return (f"nnkern's fork-join pool (the kernels' regions; the join waits only for workers that took work), "
            f"{p['workers']} workers started, {wait}")


def format_info():
    import numpy as np
    b = _core.build_info()
    lines = [
        f"nnkern {b['version']}",
        f"compiler       {b['compiler']}",
        f"flags          {b['cxx_flags']}",
        f"SIMD path      {b['simd_path']}",
        f"threads        {b['num_threads']}: {pool_line()}",
        f"OpenMP         {b['openmp']} (the data loops; omp_max_threads {b['omp_max_threads']})",
        f"OpenMP wait    {wait_policy()}",
        f"busy machine   {busy_threads_line()}",
        f"output cache   {output_cache_line()}",
        f"BLAS           {b['blas']} core={b['blas_corename']} threads={b['blas_num_threads']}",
        f"BLAS config    {b['blas_config']}",
        f"GEMM kernels   {gemm_kernels()}",
        f"conv2d algos   {conv_algorithms_line()}",
        f"conv2d select  {conv_select_line()}",
        f"numpy          {np.__version__}",
        "env            " + " ".join(f"{k}={os.environ[k]}" for k in
                                      ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
                                       "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                                      if k in os.environ),
        "thread pools (threadpoolctl): whose copy, API, library, threads, core, layer, file",
    ]
    for p in blas_pools():
        lines.append(f"  {p['owner']:7} {p['user_api']:6} {p['internal_api']:9} {p['prefix']:22} "
                     f"threads={p['num_threads']} {p.get('architecture') or ''} {p.get('threading_layer') or ''}"
                     f" {p['filepath']}")
    return "\n".join(lines)
