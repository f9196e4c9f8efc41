"""Thread limits for small computations, scoped and restored on exit."""

from __future__ import annotations

import contextlib
import functools
import threading

import torch
from threadpoolctl import ThreadpoolController

# Below this many multiply-adds per training step, thread start-up and the spin-waits of
# OpenBLAS (SciPy's L-BFGS) and OpenMP (torch) threads cost more than they save
# (benchmarks/results/speed.md).
SINGLE_THREAD_WORK = 32_000_000


@functools.lru_cache(maxsize=1)
def _thread_pools():
    """``(per-thread pools, process-wide pools)`` of the loaded libraries, as threadpoolctl
    controllers. OpenMP's thread count belongs to each thread (``omp_set_num_threads`` sets the
    calling thread's); a pthreads OpenBLAS's or MKL's to the whole process. Scanning the loaded
    libraries costs milliseconds: once."""
    controller = ThreadpoolController()
    per_thread = [lib.filepath for lib in controller.lib_controllers
                  if lib.user_api == "openmp" or getattr(lib, "threading_layer", "") == "openmp"]
    shared = [lib.filepath for lib in controller.lib_controllers
              if lib.filepath not in per_thread]
    return controller.select(filepath=per_thread), controller.select(filepath=shared)


def thread_limits(rows_per_step, layer_sizes):
    """One thread for small steps (scoped, restored on exit, as scikit-learn's KMeans does)."""
    work = rows_per_step * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    if work < SINGLE_THREAD_WORK:
        return _one_thread()
    return contextlib.nullcontext()


_LOCK = threading.Lock()
#: How many blocks, in any thread, hold the process-wide one-thread limit, and its limiter.
_holders = 0
_shared_limiter = None


@contextlib.contextmanager
def _one_thread():
    """One thread for the block: this thread's OpenMP pools (and torch's count) are limited
    and restored here; the process-wide pools by the first block to enter and the last to
    leave, whatever the thread (each block restoring what it found would restore out of order
    under concurrent fits, leaving the process at one thread). torch's count is set too: once
    anyone has called ``torch.set_num_threads``, torch's MKL no longer follows the OpenMP
    limit."""
    per_thread, shared = _thread_pools()
    local, held, previous = None, [], 1
    # everything that changes a limit is undone in ``finally``, so that an interruption
    # (KeyboardInterrupt) at any line leaves the process's threads as they were found
    try:
        _hold_shared(shared, held)
        local = per_thread.limit(limits=1)
        previous = torch.get_num_threads()
        if previous > 1:
            torch.set_num_threads(1)
        yield
    finally:
        _restore(previous, local, held)


def _restore(previous, local, held):
    """Undo what :func:`_one_thread` set: torch's count, this thread's pools, and its hold on
    the process-wide ones (an interruption within these lines can leave a limit behind)."""
    if previous > 1:
        torch.set_num_threads(previous)
    if local is not None:
        local.restore_original_limits()
    if held:
        _release_shared()


def _hold_shared(shared, held):
    """Count one more block holding the process-wide limit (``held`` gets an entry in the
    same statement), limiting the pools for the first."""
    global _holders, _shared_limiter
    with _LOCK:
        _holders, held[:] = _holders + 1, [True]
        if _holders == 1 and _shared_limiter is None:
            _shared_limiter = shared.limit(limits=1)


def _release_shared():
    """Count one block less; the last to leave restores the process-wide pools."""
    global _holders, _shared_limiter
    with _LOCK:
        _holders -= 1
        if _holders == 0 and _shared_limiter is not None:
            _shared_limiter.restore_original_limits()
            _shared_limiter = None
