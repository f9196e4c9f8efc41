"""Thread limits for small computations, scoped and restored on exit."""

from __future__ import annotations

import contextlib
import functools

import torch
from threadpoolctl import ThreadpoolController

# Below this many multiply-adds per training step, thread start-up and the spin-waits of
# OpenBLAS (SciPy's L-BFGS) and OpenMP (torch) threads cost more than they save
# (benchmarks/results/speed.md).
SINGLE_THREAD_WORK = 32_000_000


@functools.lru_cache(maxsize=1)
def _thread_controller():
    # Scanning the loaded libraries costs milliseconds per ``threadpool_limits`` call: once.
    return ThreadpoolController()


def thread_limits(rows_per_step, layer_sizes):
    """One thread for small steps (scoped, restored on exit, as scikit-learn's KMeans does)."""
    work = rows_per_step * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    if work < SINGLE_THREAD_WORK:
        return _one_thread()
    return contextlib.nullcontext()


@contextlib.contextmanager
def _one_thread():
    # torch's count is set too: once anyone has called ``torch.set_num_threads``, torch's MKL
    # no longer follows the OpenMP limit.
    previous = torch.get_num_threads()
    with _thread_controller().limit(limits=1):
        if previous > 1:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if previous > 1:
                torch.set_num_threads(previous)
