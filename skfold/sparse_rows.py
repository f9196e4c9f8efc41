"""Sparse training data that the fit reads a few rows at a time, densified as it goes.

A :class:`SparseRows` stands in for the ``(n_samples, n_features)`` tensor ``X`` of a fit: it
keeps a SciPy CSR matrix and hands out dense tensors of the rows asked for (a mini-batch, an
evaluation chunk, the growth search's subsample), so that a fit holds the sparse matrix plus
one batch, never the whole matrix densified. The dense rows equal those of the densified
matrix exactly, so a fit on sparse input computes what the same fit on dense input does.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
#: Values (rows times features) a chunk of sparse rows densifies at most when a computation runs
#: over all the rows (a loss, predictions): a few MiB, the size of a mini-batch on wide data.
CHUNK_VALUES = 2 ** 20


def chunk_rows(n_features, dense_chunk):
    """Rows per chunk of sparse rows: ``dense_chunk`` (dense input's), fewer on wide data."""
    return int(max(1, min(dense_chunk, CHUNK_VALUES // max(1, n_features))))


def is_sparse(X):
    return sp.issparse(X)


def rows_format(X):
    """Sparse ``X`` in CSR (cheap row slices); dense ``X`` as it is."""
    return X.tocsr() if sp.issparse(X) else X


def chunk_for(X, dense_chunk):
    """Rows per chunk of a pass over ``X``: ``dense_chunk``, or :func:`chunk_rows` if sparse
    (a SciPy matrix or :class:`SparseRows`)."""
    if sp.issparse(X) or isinstance(X, SparseRows):
        return chunk_rows(X.shape[1], dense_chunk)
    return dense_chunk


def densified(rows, dtype):
    """A block of rows as a dense, writable array of ``dtype``: read-only input (pandas
    copy-on-write, memmaps) is copied, since torch warns on a tensor made from it."""
    return np.require(rows.toarray() if sp.issparse(rows) else rows, dtype=dtype,
                      requirements=["W"])


class SparseRows:
    """Row access to a CSR matrix as dense tensors of ``dtype`` on ``device``.

    Supports what the fit does with its ``X``: ``shape``, ``dtype``, ``device``,
    ``index_select(0, rows)`` and indexing by a slice or by an array or tensor of rows.
    """

    def __init__(self, X, dtype, device):
        self.matrix = sp.csr_matrix(X).astype(_NUMPY_DTYPES[dtype], copy=False)
        self.matrix.sort_indices()
        self.dtype = dtype
        self.device = torch.device(device)

    @property
    def shape(self):
        return torch.Size(self.matrix.shape)

    def __len__(self):
        return self.matrix.shape[0]

    def _dense(self, block):
        return torch.from_numpy(np.ascontiguousarray(block.toarray())).to(self.device)

    def index_select(self, dim, rows):
        if dim != 0:
            raise ValueError("SparseRows selects rows only (dim=0).")
        return self[rows]

    def __getitem__(self, key):
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        if isinstance(key, slice):
            return self._dense(self.matrix[key])
        key = np.asarray(key)
        if key.ndim == 0:
            return self._dense(self.matrix[[int(key)]])[0]
        return self._dense(self.matrix[key])

    def dense(self):
        """The whole matrix as one dense tensor (for full-batch L-BFGS)."""
        return self[:]
