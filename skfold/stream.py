"""What a ``partial_fit`` call keeps of its chunk for the calls after it.

A stream's growth decisions work at one epoch per call (:mod:`skfold.schedule`); this module
gives them rows that outlive their chunk, in a :class:`Stream` carried in the fit state:

- a **search reservoir**: a uniform sample of the training rows of the earlier calls, at most
  ``search_subsample`` of them (:class:`~skfold.reservoir.Reservoir`). A growth searches this
  call's chunk together with it for its typical instance.
- with ``early_stopping=True``, a **validation reservoir**: ``validation_fraction`` of each
  chunk's rows, never trained on, kept the same way (at most ``search_subsample`` rows). The
  monitored loss, ``validation_scores_`` and the test of whether a growth paid use it.

Each row is known by its place in the stream (rows of earlier calls counted first), which is
what ``growth_history_["instance_index"]`` says in ``partial_fit``. Sparse chunks keep their
rows sparse (CSR).
"""

from __future__ import annotations

import numpy as np
import torch

from . import fit_setup
from .reservoir import Reservoir, stacked
from .sparse_rows import is_sparse

_SEED_HIGH = np.iinfo(np.int32).max


class Stream:
    """The rows a stream keeps across ``partial_fit`` calls (see the module's docstring).

    Attributes
    ----------
    search : Reservoir
        Columns ``(X, y, sample_weight, stream position)`` of earlier training rows.
    validation : Reservoir
        Columns ``(X, y, sample_weight)`` of held-out rows (empty without ``early_stopping``).
    rows_seen : int
        Rows the stream's calls were given (zero-weight rows included).
    rng : RandomState
        Draws which rows of a chunk are held out.
    """

    def __init__(self, capacity, rng):
        self.search = Reservoir(capacity, rng.randint(_SEED_HIGH))
        self.validation = Reservoir(capacity, rng.randint(_SEED_HIGH))
        self.rng = np.random.RandomState(rng.randint(_SEED_HIGH))
        self.rows_seen = 0

    def held_out(self, n, fraction):
        """A mask of the ``n`` rows of a chunk to hold out: ``fraction`` of them, rounded up
        or down at random (so that small chunks hold out their share on average), at least
        one while none is held out yet, and never all of them, but for a chunk of one row
        (a stream of single rows holds each out with probability ``fraction``; the call
        then trains on nothing)."""
        count = int(np.floor(fraction * n + self.rng.random_sample()))
        count = min(max(count, int(len(self.validation) == 0)), max(n - 1, 1))
        mask = np.zeros(n, dtype=bool)
        mask[self.rng.choice(n, max(count, 0), replace=False)] = True
        return mask


def start_call(est, call, X, y_enc, sw, n_rows):
    """Prepare the ``partial_fit`` call ``call`` on its (non-zero-weight) rows ``X``: hold out
    its validation rows, set ``call.val`` and ``call.search`` (a function giving the growth
    search's rows: the search reservoir's and this chunk's training rows) and add the chunk to
    the reservoirs.
    ``n_rows``: the rows the caller gave. Returns the training rows ``(X, y_enc, sw)``."""
    state = call.state
    if state.stream is None:
        state.stream = Stream(est.search_subsample, state.rng)
    stream = state.stream
    stream.search.shrink(est.search_subsample)
    stream.validation.shrink(est.search_subsample)
    positions = stream.rows_seen + call.rows
    stream.rows_seen += n_rows
    dtype = np.float64 if state.solver == "lbfgs" else np.float32  # as the solver trains
    X = X.astype(dtype) if is_sparse(X) else np.asarray(X, dtype=dtype)
    if fit_setup.validates(est, X.shape[0], incremental=True):
        held = stream.held_out(X.shape[0], est.validation_fraction)
        stream.validation.add(X[held], y_enc[held], sw[held])
        X, y_enc, sw, positions = X[~held], y_enc[~held], sw[~held], positions[~held]
        if len(stream.validation):  # not on a first chunk of one row: nothing to hold out
            call.val = _tensors(est, call, *stream.validation.columns)
        if state.validation_scores is None:  # held-out rows from now on
            state.validation_scores, state.best_validation_score = [], None
    if len(stream.search):
        Xr, yr, swr, pr = stream.search.columns
        # built when a growth searches: a call that does not grow copies nothing
        call.search = lambda: _tensors(est, call, stacked(Xr, X), np.concatenate([yr, y_enc]),
                                       np.concatenate([swr, sw]))[:3]
        call.rows = np.concatenate([pr, positions])
    else:
        call.rows = positions
    stream.search.add(X, y_enc, sw, positions)
    return X, y_enc, sw


def _tensors(est, call, X, y_enc, sw):
    """``(X, y, sample_weight, sample_weight as NumPy)`` as the call's solver trains on them."""
    tensors = fit_setup.data_tensors(est, call.state, X, y_enc, sw, torch.device(call.device))
    return (*tensors, sw)
