"""What a ``fit`` or ``partial_fit`` call starts from: a new :class:`~skfold.fit_state.FitState`
or the fitted one, with the estimator's parameters as they are set now, and its data as tensors.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from . import folding, linear_seed
from .fit_state import FitState
from .folding import GrowthSettings
from .network import GrowableMLP, snapshot
from .schedule import GrowthSchedule
from .sparse_rows import SparseRows, is_sparse
from .training import Trainer, auto_batch_size

#: Training precision. Mini-batch solvers train in float32 (half the memory traffic on large
#: data). L-BFGS trains in float64, as scikit-learn's MLP does: its line search needs a loss
#: accurate beyond float32's 1e-7 (in float32 it stalls right after a growth). Predictions
#: are always computed in float64 from float64 input (see the estimators' ``_forward``).
SOLVER_DTYPES = {"lbfgs": torch.float64, "adam": torch.float32, "sgd": torch.float32}
#: ``solver="auto"`` uses full-batch L-BFGS up to this many training rows, Adam above
#: (``benchmarks/results/mid_size.md``).
AUTO_LBFGS_MAX_SAMPLES = 100_000
#: ``alpha="auto"``: ``MLPClassifier``'s penalty, where the linear seed's is not used.
MLP_ALPHA = 1e-4
#: ``learning_rate_init="auto"``: ``MLPClassifier``'s step in ``fit``...
MLP_LEARNING_RATE = 1e-3
#: ...and ten times it in ``partial_fit``, where every call is one epoch
#: (``benchmarks/results/streams.md``).
STREAM_LEARNING_RATE = 1e-2
#: ``margin_fraction="auto"`` under ``growth_schedule="fixed"``: a scheduled growth with nothing
#: mis-predicted folds on this share of smallest-margin rows instead of being skipped
#: (``benchmarks/results/real_data_findings.md``); under the other schedules, 0.
FIXED_SCHEDULE_MARGIN_FRACTION = 0.1


def effective_alpha(alpha, solver, n_samples, validation_fraction):
    """``alpha`` with ``"auto"`` resolved: :data:`~skfold.linear_seed.LINEAR_ALPHA` (the
    penalty of ``LogisticRegression``'s ``C=1``, the linear seed's) for full-batch L-BFGS on
    data too small to hold rows out (``early_stopping="auto"``'s bound): there nothing but
    the penalty stands between L-BFGS and the training rows. Else ``MLPClassifier``'s 1e-4:
    held-out rows judge the fit, and a stronger penalty starved the sharp folds clean data
    needs (``benchmarks/results/real_data_findings.md``)."""
    if alpha != "auto":
        return alpha
    if solver == "lbfgs" and too_few_to_hold_out(n_samples, validation_fraction):
        return linear_seed.LINEAR_ALPHA
    return MLP_ALPHA


def effective_learning_rate(learning_rate_init, incremental):
    """``learning_rate_init`` with ``"auto"`` resolved: :data:`MLP_LEARNING_RATE` in ``fit``,
    :data:`STREAM_LEARNING_RATE` in ``partial_fit``."""
    if learning_rate_init != "auto":
        return learning_rate_init
    return STREAM_LEARNING_RATE if incremental else MLP_LEARNING_RATE


def effective_margin_fraction(margin_fraction, growth_schedule, requested=False):
    """``margin_fraction`` with ``"auto"`` resolved: :data:`FIXED_SCHEDULE_MARGIN_FRACTION`
    under the ``"fixed"`` schedule (which grows whatever the loss does, so a growth with
    nothing mis-predicted would otherwise leave the network short of its scheduled width)
    and in a growth the user ``requested`` (``grow``: it asked for a unit), 0 under the
    others (growth stops once every row is right, as the slides have it)."""
    if margin_fraction != "auto":
        return margin_fraction
    return FIXED_SCHEDULE_MARGIN_FRACTION if growth_schedule == "fixed" or requested else 0.0


def effective_solver(solver, n_samples, incremental):
    """``solver`` with ``"auto"`` resolved."""
    if solver != "auto":
        return solver
    if incremental or n_samples > AUTO_LBFGS_MAX_SAMPLES:
        return "adam"
    return "lbfgs"


def seed_width(est, n_outputs, incremental=False, wide=False):
    """``hidden_units``; ``"auto"``: as many units as outputs, at least 2, at most
    ``max_hidden_units``. Fewer hidden units than classes make the hidden layer a rank
    bottleneck of the output logits, which growth must first undo one plateau at a time.

    ``"auto"`` is half of ``max_hidden_units`` (if wider) in ``partial_fit`` (``incremental``),
    where a growth comes at most every other call, so a narrow seed spends the stream
    growing (``benchmarks/results/streams.md``), and where ``wide`` (see
    :func:`nothing_to_fold_on`)."""
    if est.hidden_units != "auto":
        return est.hidden_units
    width = min(max(2, n_outputs), est.max_hidden_units)
    if incremental or wide:
        width = max(width, est.max_hidden_units // 2)
    return width


def schedule_settings(est):
    """The estimator's parameters that the growth schedule keeps."""
    return dict(kind=est.growth_schedule, grow_every=est.grow_every,
                n_iter_no_change=est.n_iter_no_change, tol=est.tol,
                growth_patience=est.growth_patience, min_growth_gain=est.min_growth_gain,
                max_hidden_units=est.max_hidden_units, max_depth=est.max_depth)


def growth_settings(est, requested=False):
    """The estimator's parameters that every growth step shares (``requested``: of a growth
    the user asked for, see :func:`effective_margin_fraction`)."""
    return GrowthSettings(task=est._task, init=est.init,
                          instance_selection=est.instance_selection,
                          n_clusters=est.n_clusters, search_subsample=est.search_subsample,
                          fold_point=est.fold_point,
                          margin_fraction=effective_margin_fraction(
                              est.margin_fraction, est.growth_schedule, requested),
                          outgoing_weights=est.outgoing_weights)


def new_trainer(est, network, solver, generator, n_samples, incremental):
    """A trainer (and optimizer) for ``network`` with the estimator's current settings, for
    a fit (``partial_fit`` if ``incremental``) on ``n_samples`` rows."""
    return Trainer(network, solver=solver,
                   learning_rate=effective_learning_rate(est.learning_rate_init, incremental),
                   momentum=est.momentum,
                   alpha=effective_alpha(est.alpha, solver, n_samples, est.validation_fraction),
                   batch_size=1, task=est._task, generator=generator)


#: ``early_stopping="auto"`` holds rows out when at least this many would be held out...
MIN_AUTO_VALIDATION_ROWS = 20
#: ...and the fit has fewer rows than this: on more, held-out growth decisions ended growth
#: early where there was little to over-fit (``benchmarks/results/real_data_findings.md``).
MAX_AUTO_VALIDATION_SAMPLES = 10_000


def too_few_to_hold_out(n_samples, validation_fraction):
    """Whether ``validation_fraction`` of ``n_samples`` rows is fewer held-out rows than
    ``early_stopping="auto"`` holds out (:data:`MIN_AUTO_VALIDATION_ROWS`)."""
    return n_samples * validation_fraction < MIN_AUTO_VALIDATION_ROWS


def validates(est, n_samples, incremental=False):
    """Whether a ``fit`` on ``n_samples`` rows holds out a validation set (``early_stopping``);
    ``"auto"`` does from 20 held-out rows up to 10,000 rows in all, and never in
    ``partial_fit``, whose chunks are not the whole data, nor under
    the ``"fixed"`` schedule, whose width is the user's (a held-out set would keep the best
    network, maybe a narrower one)."""
    if est.early_stopping == "auto":
        if incremental or est.growth_schedule == "fixed":
            return False
        return (not too_few_to_hold_out(n_samples, est.validation_fraction)
                and n_samples < MAX_AUTO_VALIDATION_SAMPLES)
    return bool(est.early_stopping)


def new_state(est, n_features, n_outputs, n_samples, incremental, device, wide_seed=False):
    """A freshly initialised network and everything that trains it (``wide_seed``: see
    :func:`nothing_to_fold_on`)."""
    rng = check_random_state(est.random_state)
    generator = torch.Generator()
    generator.manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
    solver = effective_solver(est.solver, n_samples, incremental)
    width = seed_width(est, n_outputs, incremental, wide=wide_seed)
    network = GrowableMLP.initialize(n_features, [width], n_outputs, generator=generator,
                                     dtype=SOLVER_DTYPES[solver], device=device)
    trainer = new_trainer(est, network, solver, generator, n_samples, incremental)
    if wide_seed:
        trainer.alpha = linear_seed.LINEAR_ALPHA
    return FitState(network=network, trainer=trainer,
                    schedule=GrowthSchedule(**schedule_settings(est)), rng=rng, solver=solver,
                    hidden_units=width, early_stopping=validates(est, n_samples, incremental))


def uses_linear_seed(est, call):
    """Whether ``call``'s new network starts as the linear model: ``linear_seed=True``, or
    ``"auto"`` where held-out rows judge the fit (they alone can tell whether the hidden
    units beat it); not in ``partial_fit``, whose held-out rows (``early_stopping=True``)
    come a chunk at a time and choose no network at the end."""
    if est.linear_seed == "auto":
        return call.val is not None and not call.incremental
    return bool(est.linear_seed)


def seed_linear(est, call, X, y_enc, sw, val=None):
    """Start ``call``'s new network as the linear model fitted on its training rows
    (``linear_seed``); that network is the call's roll-back target and a candidate for the
    network the fit keeps. With held-out rows ``val``, the linear model is refitted on every
    row should the fit keep it."""
    linear_seed.set_linear(call.state.network, X, y_enc, sw, est._task)
    if est.outgoing_weights == "line_search":
        _line_search_seed_units(est, call, X, y_enc, sw)
    if val is not None:
        call.linear_refit = linear_seed.all_rows((X, y_enc, sw), val)
    call.start = snapshot(call.state.network)
    call.start_is_candidate = not call.incremental


def nothing_to_fold_on(est, call, X, y_enc, sw, val):
    """Whether the linear seed just fitted on the training rows ``X`` mis-predicts a smaller
    share of them than one held-out row of ``val`` is, with every setting involved left at
    ``"auto"``. Growth then has (almost) nothing to fold on, and the held-out rows cannot
    resolve what one more unit adds: the call starts again with half of ``max_hidden_units``
    as its seed and the linear seed's penalty (:data:`~skfold.linear_seed.LINEAR_ALPHA`),
    the held-out rows judging that network against the linear model as before
    (``benchmarks/results/real_data_findings.md``)."""
    if val is None or any(getattr(est, name) != "auto" for name in (
            "early_stopping", "alpha", "hidden_units", "linear_seed")):
        return False
    error = linear_seed.training_error(call.state.network, X, y_enc, sw, est._task)
    return error is not None and error < 1 / len(val[1])


def _line_search_seed_units(est, call, X, y_enc, sw):
    """The seed units' outgoing weights by the line search of ``outgoing_weights``."""
    network = call.state.network
    rows = folding.search_subsample(X.shape[0], est.search_subsample, call.state.rng)
    dtype, device = network.weights[0].dtype, network.weights[0].device
    Xs = features(X[rows], dtype, device, whole=True)
    ys = to_tensor(np.asarray(y_enc)[rows], est._task.target_dtype(dtype), device)
    ws = to_tensor(np.asarray(sw)[rows], dtype, device)
    signals = folding.search_signals(network, 0, Xs, ys, ws, est._task)
    folding.line_search_outgoing(network, 0, slice(0, network.hidden_sizes[0]), Xs, ys, ws,
                                 est._task, signals.delta)


def check_room_for_the_network(est, state):
    total = sum(state.network.hidden_sizes)
    if total > est.max_hidden_units:
        raise ValueError(
            f"The fitted network has {total} hidden units, more than max_hidden_units="
            f"{est.max_hidden_units}, and a grown network does not shrink: raise "
            "max_hidden_units, or set warm_start=False to fit a new network.")


def continue_state(est, state, n_samples, incremental, device):
    """Prepare the fitted ``state`` to train on with the parameters set now (``set_params``
    between calls), as ``MLPClassifier`` does: the schedule's settings and ``alpha`` on every
    call; on a warm-started ``fit``, also a fresh start of the monitored loss and a new
    optimizer with the current solver, step size and momentum (Adam's moments start afresh,
    as in ``MLPClassifier``)."""
    check_room_for_the_network(est, state)
    if not incremental:
        # warm start: a stale best loss (other data) would make every epoch of this call
        # look worse, and the end of the fit would restore the old network
        state.schedule.restart()
        state.forget_progress()
    for name, value in schedule_settings(est).items():
        setattr(state.schedule, name, value)
    if incremental and state.solver == "lbfgs":
        # a fit under "auto" (or one set to "lbfgs" before) trained with full-batch L-BFGS,
        # which has no step to take on a chunk: partial_fit goes on with Adam, as documented
        switch_solver(est, state, effective_solver(est.solver, n_samples, incremental=True),
                      n_samples, incremental=True)
    elif incremental:
        # the optimizer and its step size go on
        state.trainer.alpha = effective_alpha(est.alpha, state.solver, n_samples,
                                              est.validation_fraction)
    else:
        early_stopping = validates(est, n_samples)
        if early_stopping and state.validation_scores is None:  # switched on now
            state.validation_scores, state.best_validation_score = [], None
            state.best_loss = None  # as in a fit that stops early from the start
        if not early_stopping and state.best_loss is None:  # switched off now
            state.best_loss = np.inf
        switch_solver(est, state, effective_solver(est.solver, n_samples, incremental=False),
                      n_samples, incremental=False)
    if state.network.weights[0].device != device:
        state.move_to(device)


def switch_solver(est, state, solver, n_samples, incremental):
    """Train ``state`` on with a new optimizer of ``solver`` (Adam's moments start afresh),
    the network cast to its training precision."""
    state.solver = solver
    state.network.to(SOLVER_DTYPES[solver])
    state.trainer = new_trainer(est, state.network, solver, state.trainer.generator, n_samples,
                                incremental=incremental)


def to_tensor(array, dtype, device):
    """``array`` as a tensor of ``dtype`` on ``device``, sharing its memory where it can."""
    np_dtype = {torch.float32: np.float32, torch.float64: np.float64,
                torch.int64: np.int64}[dtype]
    # Copy only when needed: read-only memmaps (joblib workers) must not be shared.
    array = np.require(array, dtype=np_dtype, requirements=["C", "W"])
    return torch.from_numpy(array).to(device)


def features(X, dtype, device, whole=False):
    """``X`` as the fit reads it: a tensor, or rows of a sparse matrix densified on demand."""
    if not is_sparse(X):
        return to_tensor(X, dtype, device)
    rows = SparseRows(X, dtype, device)
    return rows.dense() if whole else rows


def split_validation(est, state, X, y_enc, sw, rows):
    """Hold out ``validation_fraction`` of the rows, stratified where the task allows and the
    classes are large enough; returns the training part and the held-out part."""
    stratify = est._task.stratify(y_enc)
    try:
        X, X_val, y_enc, y_val, sw, sw_val, rows, _ = train_test_split(
            X, y_enc, sw, rows, test_size=est.validation_fraction, stratify=stratify,
            random_state=state.rng.randint(np.iinfo(np.int32).max))
    except ValueError:
        X, X_val, y_enc, y_val, sw, sw_val, rows, _ = train_test_split(
            X, y_enc, sw, rows, test_size=est.validation_fraction,
            random_state=state.rng.randint(np.iinfo(np.int32).max))
    if X_val.shape[0] < 2:  # as MLPClassifier: a score on one row says nothing
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or "
                         "the size of your dataset.")
    return (X, y_enc, sw, rows), (X_val, y_val, sw_val)


def data_tensors(est, state, X, y_enc, sw, device, search_only=False):
    """``(X, y, sample_weight)`` as the training tensors of ``state``'s solver. Sparse ``X``
    becomes a :class:`~skfold.sparse_rows.SparseRows`, densified a batch at a time (full-batch
    L-BFGS takes it densified, unless the rows are ``search_only``: ``grow`` densifies its
    search subsample alone)."""
    dtype = SOLVER_DTYPES[state.solver]
    return (features(X, dtype, device, whole=state.solver == "lbfgs" and not search_only),
            to_tensor(y_enc, est._task.target_dtype(dtype), device), to_tensor(sw, dtype, device))


def batch_size(est, n_samples):
    if est.batch_size == "auto":
        return auto_batch_size(n_samples)
    return int(np.clip(est.batch_size, 1, n_samples))
