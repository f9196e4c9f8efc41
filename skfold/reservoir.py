"""A bounded uniform sample of the rows a stream has shown: reservoir sampling (Algorithm R).

``partial_fit`` sees each chunk once. The growth search of a later call still needs rows of the
earlier ones (a chunk may be small, or unlike the rest), and held-out rows must outlive their
chunk; a :class:`Reservoir` keeps at most ``capacity`` of them, each row of the stream equally
likely to be among them, whatever the number of calls.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .sparse_rows import is_sparse


class Reservoir:
    """A uniform sample without replacement of at most ``capacity`` rows of a stream.

    Vitter's Algorithm R, a chunk at a time: the first ``capacity`` rows fill it; row ``i`` of
    the stream (0-based) after that replaces a uniformly drawn slot with probability
    ``capacity / (i + 1)``. After ``n`` rows, every ``capacity``-subset of them is equally
    likely to be the content.

    Parameters
    ----------
    capacity : int
        The most rows it holds.
    seed : int
        Seeds its own ``RandomState`` (drawn from the fit's generator, never the global one).

    Attributes
    ----------
    columns : tuple of ndarray or None
        The rows held, one array per column (as many as :meth:`add` was given), or None before
        the first rows.
    n_seen : int
        Rows offered so far.
    """

    def __init__(self, capacity, seed):
        self.capacity = int(capacity)
        self.rng = np.random.RandomState(seed)
        self.n_seen = 0
        self.columns = None

    def __len__(self):
        return 0 if self.columns is None else self.columns[0].shape[0]

    def add(self, *columns):
        """Offer rows (one array per column, all of the same length; NumPy arrays or, for
        the inputs, a SciPy sparse matrix) to the sample."""
        n = columns[0].shape[0]
        take = max(min(self.capacity - len(self), n), 0)
        if self.columns is None:
            self.columns = tuple(c[:take].copy() for c in columns)  # not a view of the chunk
        elif take:
            self.columns = tuple(stacked(held, c[:take])
                                 for held, c in zip(self.columns, columns))
        rest = np.arange(take, n)
        if rest.size:
            position = self.n_seen + rest  # each row's 0-based place in the stream
            slots = np.floor(self.rng.random_sample(rest.size) * (position + 1)).astype(np.int64)
            kept = slots < self.capacity
            slots, rest = slots[kept], rest[kept]
            # a slot drawn twice in this chunk holds the later row, as one row at a time would
            _, last_first = np.unique(slots[::-1], return_index=True)
            last = len(slots) - 1 - last_first
            order = np.arange(len(self))
            order[slots[last]] = len(self) + np.arange(len(last))
            self.columns = tuple(stacked(held, c[rest[last]])[order]
                                 for held, c in zip(self.columns, columns))
        self.n_seen += n

    def shrink(self, capacity):
        """Lower the bound to ``capacity`` (``search_subsample`` lowered between calls): a
        uniform subset of a uniform sample is one."""
        capacity = int(capacity)
        if capacity < len(self):
            keep = np.sort(self.rng.choice(len(self), capacity, replace=False))
            self.columns = tuple(c[keep] for c in self.columns)
        self.capacity = min(self.capacity, capacity)


def stacked(top, bottom):
    """Rows of ``top`` then of ``bottom`` (dense arrays, or CSR matrices): CSR when either is
    sparse (a stream's chunks may change format from one call to the next)."""
    if is_sparse(top) or is_sparse(bottom):
        return sp.vstack([top, bottom], format="csr")
    return np.concatenate([top, bottom])
