"""Training that diverges: detect it, roll back to the last good weights, lower the step."""

from __future__ import annotations

import numpy as np
import torch

from .objective import evaluate_loss, objective

#: Divergences (non-finite or exploding loss) tolerated before training stops.
MAX_DIVERGENCES = 5
#: An epoch whose loss exceeds ``1 + DIVERGENCE_FACTOR`` times the larger of the starting
#: network's batch loss and a constant predictor's loss has diverged, finite or not (Adam at a
#: huge learning rate explodes the loss and kills every unit, never reaching NaN).
DIVERGENCE_FACTOR = 10.0


def threshold(call, y_enc, sw):
    """The loss above which an epoch of ``call`` has diverged (see :data:`DIVERGENCE_FACTOR`)."""
    task = call.settings.task
    return (1 + DIVERGENCE_FACTOR) * max(
        batch_objective(call), task.constant_prediction_loss(y_enc, sw / sw.sum()))


@torch.no_grad()
def batch_objective(call):
    """Training objective (penalty included) of the current network on the first batch."""
    state = call.state
    X, y, sw = (t[: state.trainer.batch_size] for t in call.data)
    return float(objective(state.network, X, y, sw, call.settings.task, state.trainer.alpha))


@torch.no_grad()
def full_objective(call):
    """Training objective (penalty included) of the current network on all the training rows,
    in chunks of bounded memory."""
    network, (X, y, sw) = call.state.network, call.data
    penalty = sum(float((w.double() ** 2).sum()) for w in network.weights)
    return (evaluate_loss(network, X, y, sw, call.settings.task)
            + 0.5 * call.state.trainer.alpha * penalty / float(sw.double().sum()))


def diverged(call, loss):
    """Whether an Adam/SGD epoch's loss is non-finite or exploded."""
    return not np.isfinite(loss) or loss > call.divergence_threshold


def handle(call, give_up=False):
    """Roll back to the last good weights, lower the step (Adam/SGD) and note it for the
    call's warning (:mod:`skfold.fit_warnings`).

    The best network seen is the roll-back target unless its loss has itself exploded
    (a mini-batch epoch's loss is measured while its weights move), then the network this
    call started from; such a best network is forgotten, so that the end of the fit cannot
    return to it, and the next epoch is the best so far. Training stops after
    :data:`MAX_DIVERGENCES` divergences.
    """
    state = call.state
    state.n_divergences += 1
    best = state.best_weights()
    if best is not None:
        state.load_weights(*best)
        if diverged(call, batch_objective(call)):
            state.best, state.schedule.best_loss = None, np.inf
            best = None
    if best is None:
        state.load_weights(*call.start)
    trainer = state.trainer
    recovery = "restarted L-BFGS"
    if trainer.optimizer is not None:
        trainer.set_learning_rate(trainer.learning_rate * 0.1)
        trainer.optimizer.reset_state()
        recovery = "lowered the learning rate tenfold"
    action = f"each time, the fit rolled back to the last good weights and {recovery}"
    call.diverged_stop = give_up or state.n_divergences >= MAX_DIVERGENCES
    if call.diverged_stop:
        action = ("the fit rolled back to the last good weights and stopped training (after "
                  f"{MAX_DIVERGENCES} divergences, or an L-BFGS run that diverged at once)")
    call.divergence_note = (
        f"the training loss diverged (non-finite or exploding): {action}. Lower "
        "learning_rate_init, or scale the data (e.g. sklearn.preprocessing.StandardScaler).")
