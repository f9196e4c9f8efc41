"""What a ``fit`` or ``partial_fit`` call warns about when it ends: one ConvergenceWarning at most.

The conditions a call can end in (its loss diverged, it did not train, ``max_iter`` cut it off
while the monitored loss was still falling) are merged into one message. Its text names no
number of the fit (no width, epoch or loss): the same condition reads the same in every fit,
so a search's many fits show one distinct message per condition. (scikit-learn's input checks
reset Python's once-per-message memory inside every fit, so each such fit still shows it; the
README says how to silence skfold's alone.) ``benchmarks/results/max_iter_advice.md`` measured
when raising ``max_iter`` helps.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .history import events_of_last_growth
from .schedule import ENDS_GROWTH

UNTRAINED = ("the fit did not train: no epoch (L-BFGS: iteration) lowered the training loss "
             "by more than tol below that of the network it started from. Scale the data "
             "(e.g. sklearn.preprocessing.StandardScaler), or try another solver or "
             "learning_rate_init.")
#: ``max_iter`` ended the fit while growth still paid and the monitored loss still fell.
STILL_GROWING = ("max_iter ended the fit while the {loss} was still falling (by more than tol "
                 "within the last n_iter_no_change epochs) and growth still paid: the budget, "
                 "not the data, set the network's width (hidden_layer_sizes_). Raise max_iter "
                 "to let it grow further.")
#: Held-out rows from which the advice to raise ``max_iter`` is given (about as many as
#: ``early_stopping="auto"`` holds out at its largest): see :func:`growth_advice_helps` and
#: ``benchmarks/results/max_iter_advice.md``, which measured fits on either side of it.
ADVISED_HELD_OUT_ROWS = 1_000
#: ``MLPClassifier``'s warning, for a fit that could not have grown anyway.
NOT_CONVERGED = ("maximum iterations (max_iter) reached and the optimization hasn't converged "
                 "yet: the {loss} was still falling (by more than tol within the last "
                 "n_iter_no_change epochs). Raise max_iter to train it further.")


def note_monitored(call, monitored):
    """Record an epoch's monitored loss: when it last fell by more than ``tol`` below every
    earlier one of the call."""
    if monitored < call.lowest_monitored - call.est.tol:
        call.improved_at = call.state.n_iter
    call.lowest_monitored = min(call.lowest_monitored, monitored)


def still_improving(call):
    """Whether the monitored loss fell by more than ``tol`` within the call's last
    ``n_iter_no_change`` epochs: by ``MLPClassifier``'s test, the fit had not converged. A fit
    whose monitored loss had stopped falling keeps the best network seen, and a larger
    ``max_iter`` seldom changes it."""
    return call.state.n_iter - call.improved_at < call.est.n_iter_no_change


def end_of_fit(call, converged, trained):
    """The sentences of a ``fit`` call that ran to its end (not interrupted), ``trained`` or
    not (:func:`skfold.fit_loop.trained`); a divergence that stopped training has its own
    (:func:`skfold.divergence.handle`)."""
    if call.diverged_stop:
        return []
    if not trained:
        return [UNTRAINED]
    if converged or not still_improving(call):
        return []
    loss = "held-out loss" if call.val is not None else "training loss"
    if not call.can_grow():
        return [NOT_CONVERGED.format(loss=loss)]
    return [STILL_GROWING.format(loss=loss)] if growth_advice_helps(call) else []


def growth_advice_helps(call):
    """Whether to advise a larger ``max_iter`` to a fit cut short while growth still paid:
    where its loss is the training loss, or at least :data:`ADVISED_HELD_OUT_ROWS` rows are
    held out. With fewer held-out rows the network kept is the one they chose, and a larger
    budget lowered the test score as often as it raised it."""
    return call.val is None or call.val[0].shape[0] >= ADVISED_HELD_OUT_ROWS


def warn_once(call, sentences):
    """One ConvergenceWarning for the call: its divergence note (if any) and ``sentences``."""
    sentences = [s for s in [call.divergence_note, *sentences] if s]
    if sentences:
        warnings.warn(f"{call.name}: " + " ".join(sentences), ConvergenceWarning)


def warn_grew_nothing(est, history):
    """``grow`` added no unit because it found nothing to fold on: say so as it returns (a
    growth that failed has said so already, with a ``RuntimeWarning``)."""
    reasons = sorted({e["skipped"] for e in events_of_last_growth(history)
                      if e.get("skipped") in ENDS_GROWTH})
    if reasons:
        warnings.warn(f"{type(est).__name__}.grow added no unit: {'; '.join(reasons)}.",
                      UserWarning, stacklevel=3)
