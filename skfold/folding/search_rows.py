"""The growth search's rows, held once: float64, in the input space of the layer being grown.

On wide data the search subsample is the largest thing a growth holds: 2,000 rows of 10,000
features are 153 MiB in float64 (``benchmarks/results/sparse_memory.md``). Every step of the
search reads the same float64 array, :class:`ScratchRows`; the two steps that need an array of
its size as scratch space (the loss-weighted k-means, which centres its data, and the ``"fold"``
init's ascent over ``H - h_f``) overwrite it and refill it from where it came from, instead of
copying it. The refill is exact: its source is the rows as the network reads them (float32 or
float64), and float32 -> float64 is exact, so every step computes what it computed on a copy.

:class:`InPlaceKMeans` is scikit-learn's ``KMeans`` without its two copies of the data: the
input copy (``copy_x=False``) and the temporary of ``np.var`` in its data-dependent tolerance.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import KMeans

from ..sparse_rows import CHUNK_VALUES, chunk_rows


def row_chunks(n_rows, n_cols):
    """Slices of at most :data:`~skfold.sparse_rows.CHUNK_VALUES` values of an
    ``(n_rows, n_cols)`` array (one slice when it is that small)."""
    step = chunk_rows(n_cols, max(1, n_rows))
    return [slice(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


def as_numpy(block):
    """A tensor or array as a NumPy array (a CPU tensor's memory is shared)."""
    if isinstance(block, torch.Tensor):
        return block.detach().cpu().numpy()
    return np.asarray(block)


class ScratchRows:
    """An ``(n_rows, n_cols)`` float64 array filled from ``source`` a chunk of rows at a time.

    ``source(rows)`` gives the rows of the slice ``rows`` (an array or a tensor); it is read
    again by :meth:`restore`, which undoes whatever was written into :attr:`array`.
    """

    def __init__(self, source, shape):
        self._source = source
        self.array = np.empty(shape, dtype=np.float64)
        self.restore()

    def restore(self):
        """Refill :attr:`array` from the source: the values it was made with, exactly."""
        for rows in row_chunks(*self.array.shape):
            np.copyto(self.array[rows], as_numpy(self._source(rows)))


def tolerance_by_columns(X, tol):
    """scikit-learn's k-means tolerance ``mean(var(X, axis=0)) * tol``, the variances taken a
    block of columns at a time: ``np.var`` over ``X`` allocates a temporary the size of ``X``.

    The same bits as over the whole array: ``var`` sums each column over the rows, one row after
    another, in a block of columns as in the whole array (a block of one column would be summed
    pairwise, so the last block is never a single column).
    """
    if tol == 0:
        return 0
    n_rows, n_cols = X.shape
    width = max(2, CHUNK_VALUES // max(1, n_rows))
    if n_cols <= width:
        return np.mean(np.var(X, axis=0)) * tol
    starts = list(range(0, n_cols, width))
    if n_cols - starts[-1] < 2:
        starts.pop()
    ends = starts[1:] + [n_cols]
    variances = np.concatenate([np.var(X[:, a:b], axis=0) for a, b in zip(starts, ends)])
    return np.mean(variances) * tol


class InPlaceKMeans(KMeans):
    """``KMeans`` whose tolerance is computed by :func:`tolerance_by_columns`.

    With ``copy_x=False`` it clusters the array it is given without copying it, which leaves
    that array changed by rounding (scikit-learn subtracts the column means and adds them
    back): the caller refills it. Labels and centres are those of ``KMeans`` on a copy, bit
    for bit (``tests/test_folding.py``).

    It overrides scikit-learn's private ``_check_params_vs_input`` and sets ``_tol`` (as of
    scikit-learn 1.9). Should a later version move them, the override is not called, or it
    lets scikit-learn compute the tolerance itself: the same clusters, with the temporary.
    """

    def _check_params_vs_input(self, X):
        tol = self.tol
        self.tol = 0  # scikit-learn's tolerance is then 0, without np.var's temporary
        try:
            super()._check_params_vs_input(X)
        finally:
            self.tol = tol
        if getattr(self, "_tol", None) == 0:
            self._tol = tolerance_by_columns(X, tol)
        else:  # a scikit-learn that keeps its tolerance elsewhere: let it compute it
            super()._check_params_vs_input(X)
