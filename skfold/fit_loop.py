"""The fit loop: train until the schedule says grow, grow, repeat; keep the best.

One :class:`FitCall` is one ``fit`` or ``partial_fit`` call: the data as tensors, the
:class:`~skfold.fit_state.FitState` it trains, and its own book-keeping (the network it started
from, the validation rows, divergence, the progress bar). :func:`run` trains it.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import torch

from . import divergence, growth, history, linear_seed, selection
from ._threads import thread_limits
from .fit_setup import growth_settings
from .fit_warnings import end_of_fit, note_monitored, warn_once
from .network import snapshot
from .objective import evaluate_loss, outputs, weighted_mean_loss

#: L-BFGS-B's own gradient tolerance: far below any loss tolerance, so that a freshly grown
#: unit's small outgoing gradient does not end the run at once.
LBFGS_GTOL = 1e-8


class FitCall:
    """One call's data and book-keeping around the :class:`~skfold.fit_state.FitState` it trains.

    Parameters
    ----------
    est : FoldGrow estimator
        Its parameters, as set now.
    state : FitState
    data : tuple of tensors
        ``(X, y, sample_weight)`` of the training rows.
    val : tuple or None
        ``(X, y, sample_weight, sample_weight as NumPy)`` of the validation rows.
    rows : ndarray or None
        The caller's row of each training row (for ``growth_history_``), or None.
    incremental : bool
        A ``partial_fit`` call: one epoch, no plateau ends it, no best network is restored.
    device : torch.device or str, default=None
        Where the call trains (``device_``).
    """

    def __init__(self, est, state, data, val=None, rows=None, incremental=False, device=None):
        self.est, self.state, self.data, self.val, self.rows = est, state, data, val, rows
        self.device = None if device is None else str(device)
        self.search = None  # a function giving the growth search's rows, when not ``data``
        self.incremental = incremental
        self.settings = growth_settings(est)
        self.name = type(est).__name__
        self.start = snapshot(state.network)  # the roll-back target until an epoch does better
        self.start_iter = state.n_iter
        self.fresh = state.n_iter == 0  # a new network, not a warm start or a later call
        self.initial_loss = np.inf
        # for the call's warning (skfold.fit_warnings)
        self.lowest_monitored, self.improved_at = np.inf, state.n_iter
        self.divergence_note = None
        self.diverged_stop = False
        self.divergence_threshold = None
        self.progress = None
        self.start_is_candidate = False  # the start may be kept (the linear seed)
        self.linear_refit = None  # (X, y_enc, sw) of every row: a kept seed is refitted on them

    def say(self, message):
        """Print a verbose line (through the progress bar, when there is one)."""
        if self.progress is not None:
            self.progress.write(message)
        else:
            print(message)

    def can_grow(self):
        return self.state.schedule.can_grow(self.state.network.hidden_sizes)

    def phases_end_at_plateaus(self):
        return self.state.schedule.phases_end_at_plateaus(self.state.network.hidden_sizes)


def run(call, y_enc, sw):
    """Train ``call`` under its thread limit; end with at most one ConvergenceWarning
    (:mod:`skfold.fit_warnings`). ``y_enc`` and ``sw`` (NumPy) set the divergence threshold."""
    est, state = call.est, call.state
    budget = 1 if call.incremental else est.max_iter
    converged = False
    X = call.data[0]
    rows_per_step = X.shape[0] if state.solver == "lbfgs" else state.trainer.batch_size
    sizes = [X.shape[1], est.max_hidden_units, state.network.weights[-1].shape[0]]
    call.progress = None if call.incremental else _progress_bar(budget, est.verbose)
    try:
        # all of the fit's torch work under its thread limit: a multi-threaded forward pass
        # of a small network spin-waits when a core is busy
        with thread_limits(rows_per_step, sizes):
            call.divergence_threshold = divergence.threshold(call, y_enc, sw)
            call.initial_loss = divergence.full_objective(call)
            if call.start_is_candidate:
                observe_start(call)
            converged = train_loop(call, budget)
    except KeyboardInterrupt:
        if state.n_iter == call.start_iter or state.best is None:
            raise  # no epoch of this call ended: it leaves nothing to keep
        warnings.warn("Training interrupted by the user: the estimator keeps the best "
                      "network seen so far.", UserWarning, stacklevel=4)
        state.keep_best_after_interruption()
        warn_once(call, [])
    else:
        _close_progress(call)  # the bar ends before any warning prints on its line
        ending = []
        if not call.incremental:
            state.restore_best(est.tol)
            with thread_limits(rows_per_step, sizes):
                keep_linear_unless_beaten(call)
            ending = end_of_fit(call, converged, trained(call))
        warn_once(call, ending)
    history.close_history(state, final=not call.incremental)
    history.mark_units_in_model(state)
    _close_progress(call)


def keep_linear_unless_beaten(call):
    """With the linear seed and held-out rows: return to the linear model, refitted on every
    row, unless the network kept beats it on the held-out rows (:mod:`~skfold.selection`)."""
    state = call.state
    if call.linear_refit is None or selection.beats_start(state.network, call.start, call.val,
                                                          call.settings.task):
        return
    state.load_weights(*call.start)
    linear_seed.set_linear(state.network, *call.linear_refit, call.settings.task)


def _close_progress(call):
    """Close the bar at its final position: the epochs run (an early stop ends it short of
    ``max_iter``, so its total becomes the epochs run)."""
    if call.progress is not None:
        call.progress.total = call.progress.n
        call.progress.refresh()
        call.progress.close()
        call.progress = None


def train_loop(call, max_epochs):
    """Alternate training phases and growth; returns whether training converged."""
    state, schedule = call.state, call.state.schedule
    epochs_left = max_epochs
    grew = True  # whether the last growth step changed the network
    while epochs_left > 0 and not call.diverged_stop:
        budget = epochs_left
        if call.can_grow() and schedule.kind == "fixed":
            budget = int(min(budget, max(1, schedule.epochs_until_growth())))
        t0 = time.perf_counter()
        ran, phase_converged = train_phase(call, budget, stop_on_plateau=not call.incremental)
        state.fit_time["training"] += time.perf_counter() - t0
        epochs_left -= ran
        if ran == 0 and not grew:
            break  # nothing trains and the growth before found nothing to do: it is over
        # asked again: the phase may have made the pending growth pay, which un-stalls growth
        if (epochs_left > 0 or call.incremental) and call.can_grow() and (
                schedule.wants_growth(stream=call.incremental) or phase_converged):
            grew = growth.grow_step(call, *(call.search() if call.search else call.data),
                                    n_units=call.est.units_per_growth)
            continue
        if not call.incremental and call.phases_end_at_plateaus() and (
                schedule.converged or phase_converged):
            return True
        if ran == 0:
            break
    return schedule.converged


def train_phase(call, budget, stop_on_plateau):
    """Train up to ``budget`` epochs; stop early at a plateau or a due growth. Returns
    ``(epochs run, whether the phase converged)``."""
    if call.state.solver == "lbfgs":
        return _lbfgs_phase(call, budget)
    state = call.state
    X, y, sw = call.data
    for ran in range(1, budget + 1):
        loss = state.trainer.epoch(X, y, sw)
        state.t += X.shape[0]
        if divergence.diverged(call, loss):
            divergence.handle(call)
            if call.diverged_stop:
                return ran, False
            continue
        end_epoch(call, loss)
        if state.schedule.wants_growth() and call.can_grow():
            return ran, False
        if stop_on_plateau and call.phases_end_at_plateaus() and state.schedule.converged:
            return ran, True
    return budget, False


def _lbfgs_phase(call, budget):
    """:func:`train_phase` with full-batch L-BFGS: one epoch is one iteration."""
    state, est = call.state, call.est
    schedule, trainer = state.schedule, state.trainer
    start = state.n_iter
    polish = schedule.exact_fit_phase(validating=call.val is not None)

    def end_iteration(loss, weights):
        end_epoch(call, loss, weights=weights)
        if state.n_iter - start < polish:
            return False
        # scikit-learn's L-BFGS convergence (max gradient below tol), but only once the phase
        # has run n_iter_no_change iterations: a freshly grown unit's gradient starts below
        # tol and must get the chance to grow.
        if (state.n_iter - start >= est.n_iter_no_change
                and trainer.last_gradient_max < est.tol):
            schedule.mark_converged()
        return (call.phases_end_at_plateaus() and schedule.converged) or (
            schedule.wants_growth() and call.can_grow())

    nonfinite = trainer.n_nonfinite_losses
    _, converged = trainer.lbfgs(*call.data, max_iter=budget, gtol=LBFGS_GTOL,
                                 callback=end_iteration, stuck_gradient=est.tol,
                                 load_each_iteration=call.val is not None)
    ran = state.n_iter - start
    if trainer.n_nonfinite_losses > nonfinite:
        # L-BFGS-B ends its run at a non-finite line-search trial: not a convergence.
        divergence.handle(call, give_up=ran == 0)
        return ran, False
    if converged:
        schedule.mark_converged()
    return ran, converged or schedule.converged


def _better_score(best, score):
    """Whether ``score`` becomes ``best_validation_score_`` (None before any): the higher; an
    undefined score (NaN: R² on one held-out row of a stream's first chunk) replaces none but
    another undefined one."""
    return best is None or (not np.isnan(score) and (np.isnan(best) or score > best))


def observe_start(call):
    """Count the network the call starts from as a candidate for the one kept, as an epoch
    would be (without counting an epoch): a network that never beats it on the monitored loss
    leaves it as the fit's result."""
    state = call.state
    monitored = call.initial_loss
    if call.val is not None:
        Xv, yv, swv, _ = call.val
        monitored = evaluate_loss(state.network, Xv, yv, swv, call.settings.task)
    state.phase_best = state.last_monitored = monitored
    note_monitored(call, monitored)
    if state.schedule.observe(monitored):
        state.best = snapshot(state.network)


def end_epoch(call, loss, weights=None):
    """Book-keeping after an epoch; ``weights()`` (default: a :func:`~skfold.fit_state.snapshot`
    of the network) gives the epoch's weights should they be the best so far. It is kept
    uncalled until the best weights are needed (see
    :meth:`~skfold.fit_state.FitState.best_weights`)."""
    state = call.state
    state.n_iter += 1
    state.loss_curve.append(loss)
    monitored = loss
    if call.val is not None:
        Xv, yv, swv, swv_np = call.val
        out = outputs(state.network, Xv)
        monitored = weighted_mean_loss(out, yv, swv, call.settings.task)
        # a diverging iterate's non-finite outputs have no score (r2_score refuses them)
        score = (call.settings.task.validation_score(out, yv, swv_np)
                 if torch.isfinite(out).all() else float("nan"))
        state.validation_scores.append(score)
        if _better_score(state.best_validation_score, score):
            state.best_validation_score = score
    else:
        # partial_fit after an early-stopping fit has no validation set: track the loss.
        state.best_loss = min(np.inf if state.best_loss is None else state.best_loss, loss)
    state.phase_best = min(state.phase_best, monitored)
    state.last_monitored = monitored
    note_monitored(call, monitored)
    if state.schedule.observe(monitored):
        state.best = weights or snapshot(state.network)
    if call.est.verbose >= 2:
        score = (f", validation score = {state.validation_scores[-1]:.6f}"
                 if call.val is not None else "")
        call.say(f"Iteration {state.n_iter}, loss = {loss:.8f}{score}, "
                 f"hidden units = {state.network.hidden_sizes}")
    if call.progress is not None:
        call.progress.set_postfix(loss=f"{loss:.6f}", units=sum(state.network.hidden_sizes),
                                  refresh=False)
        call.progress.update(1)


def trained(call):
    """Whether the call trained: it ran an epoch and, from a new network, lowered the loss by
    more than ``tol``, or started as the fitted linear model (the linear seed). An optimizer
    that gave up at once (L-BFGS whose every line search failed) converged to nothing."""
    state = call.state
    curve = state.loss_curve[call.start_iter:]
    if not curve:
        return False
    return (not call.fresh or call.start_is_candidate
            or min(curve) < call.initial_loss - call.est.tol)


def _progress_bar(total, verbose):
    """A tqdm bar over epochs for ``fit`` with ``verbose >= 1``, or None.

    Only when tqdm is installed and stderr is a terminal, so that logs, captured output and
    joblib workers never fill up with bar redraws.
    """
    isatty = getattr(sys.stderr, "isatty", None)
    if verbose < 1 or isatty is None or not isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="epoch", leave=False, file=sys.stderr)
