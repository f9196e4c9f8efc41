"""The state a fit trains and keeps between calls, in one object.

A fitted estimator holds one :class:`FitState` (``_state``): the network and its optimizer, the
growth schedule, the random generators, the growth history and the training curves, and the
best network seen. ``fit`` and ``partial_fit`` train a copy of it and hand the estimator the
result when they end (:mod:`skfold.fit_loop`).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch

from .network import GrowableMLP
from .schedule import GrowthSchedule
from .training import Trainer


class FitState:
    """Everything training keeps across ``fit``/``partial_fit`` calls.

    Attributes
    ----------
    network : GrowableMLP
    trainer : Trainer
        The optimizer and its state; ``trainer.generator`` draws the batches and new units.
    schedule : GrowthSchedule
    rng : RandomState
        Draws the growth search's subsamples and clusterings, and the validation split.
    solver : str
        The solver in use (``"auto"`` resolved).
    hidden_units : int
        The seed width.
    folded_rows : set of bytes
        Inputs already folded on (not picked again while others remain).
    history : list of dict
        ``growth_history_``.
    best : tuple, callable or None
        The best network of the monitored loss so far, as :func:`snapshot` gives it, or a
        function giving it (L-BFGS's iterates, turned into tensors only when needed).
    phase_best, last_monitored : float
        Best monitored loss of the current training phase, and the last one measured.
    growth_open : bool
        Whether the last growth's training phase may still run (its record's ``loss_after``
        is not final).
    n_divergences : int
    stream : Stream or None
        The rows ``partial_fit`` keeps across calls (:mod:`skfold.stream`); None until then.
    """

    def __init__(self, *, network, trainer, schedule, rng, solver, hidden_units,
                 early_stopping):
        self.network = network
        self.trainer = trainer
        self.schedule = schedule
        self.rng = rng
        self.solver = solver
        self.hidden_units = hidden_units
        self.folded_rows = set()
        self.history = []
        self.growth_open = False
        self.n_divergences = 0
        self.loss_curve = []
        self.validation_scores = [] if early_stopping else None
        self.best_validation_score = None
        self.best_loss = None if early_stopping else np.inf
        self.n_iter = 0
        self.t = 0
        self.fit_time = {"training": 0.0, "growth": 0.0}
        self.stream = None
        self.forget_progress()

    def forget_progress(self):
        """No epoch measured yet: no best network, no monitored loss."""
        self.best = None
        self.last_monitored = self.phase_best = np.inf

    # ------------------------------------------------------------------ weights
    def best_weights(self):
        """``(weights, biases)`` of the best epoch so far, or None.

        L-BFGS improves on almost every iteration and hands its iterate over as a function;
        turning it into tensors each time is costly, so it is done here, once.
        """
        if callable(self.best):
            self.best = self.best()
        return self.best

    def load_weights(self, weights, biases):
        """Make the network hold ``weights`` and ``biases`` (a new network if they are of
        another architecture, with a new optimizer over it)."""
        net = self.network
        if tuple(w.shape for w in weights) == tuple(w.shape for w in net.weights):
            with torch.no_grad():
                for p, v in zip(list(net.weights) + list(net.biases), list(weights) + list(biases)):
                    p.copy_(v)
            return
        self.network = self.network.rebuilt([w.clone() for w in weights],
                                            [b.clone() for b in biases])
        self.trainer.network = self.network
        self.trainer.after_growth()

    def restore_best(self, tol):
        """Return to the best network seen, unless the final one is within ``tol`` of it.

        """
        if self.best is not None and (self.schedule.best_loss < self.last_monitored - tol
                                      or not np.isfinite(self.last_monitored)):
            self.load_weights(*self.best_weights())

    def keep_best_after_interruption(self):
        """The best network seen, in a new network with a fresh optimizer: an interruption may
        have stopped the last step half done, in the network, its optimizer or both."""
        weights, biases = self.best_weights()
        self.network = self.network.rebuilt([w.clone() for w in weights],
                                            [b.clone() for b in biases])
        old = self.trainer
        self.trainer = Trainer(self.network, solver=old.solver, learning_rate=old.learning_rate,
                               momentum=old.momentum, alpha=old.alpha,
                               batch_size=old.batch_size, task=old.task,
                               generator=old.generator)

    def move_to(self, device):
        self.network.to(device)
        self.trainer.after_growth()

    def copy(self):
        """An independent copy on the same device: training it leaves this state as it is."""
        new = FitState.__new__(FitState)
        new.__dict__.update(self.__dict__)
        new.network = self.network.rebuilt([w.detach().clone() for w in self.network.weights],
                                           [b.detach().clone() for b in self.network.biases])
        new.trainer = self.trainer.copy(new.network)
        new.schedule = dataclasses.replace(self.schedule)
        new.rng = copy.deepcopy(self.rng)
        new.folded_rows = set(self.folded_rows)
        new.history = copy.deepcopy(self.history)
        new.loss_curve = list(self.loss_curve)
        new.validation_scores = (None if self.validation_scores is None
                                 else list(self.validation_scores))
        new.fit_time = dict(self.fit_time)
        new.stream = copy.deepcopy(self.stream)
        best = self.best_weights()
        new.best = None if best is None else tuple([t.clone() for t in ts] for ts in best)
        return new

    # ------------------------------------------------------------------ saving
    def to_dict(self):
        """The state as plain data and CPU tensors (for pickling and :mod:`skfold.persistence`)."""
        best = self.best_weights()
        return {
            "network": {"weights": [w.detach().cpu() for w in self.network.weights],
                        "biases": [b.detach().cpu() for b in self.network.biases],
                        "linear": (None if self.network.linear is None
                                   else self.network.linear.detach().cpu())},
            "trainer": self.trainer.state_dict(),
            "schedule": self.schedule, "rng": self.rng, "solver": self.solver,
            "hidden_units": self.hidden_units, "folded_rows": self.folded_rows,
            "history": self.history, "growth_open": self.growth_open,
            "n_divergences": self.n_divergences, "loss_curve": self.loss_curve,
            "validation_scores": self.validation_scores,
            "best_validation_score": self.best_validation_score, "best_loss": self.best_loss,
            "n_iter": self.n_iter, "t": self.t, "fit_time": self.fit_time,
            "best": None if best is None else tuple([t.cpu() for t in ts] for ts in best),
            "phase_best": self.phase_best, "last_monitored": self.last_monitored,
            "stream": self.stream,
        }

    @classmethod
    def from_dict(cls, data):
        state = cls.__new__(cls)
        data = dict(data)
        network = GrowableMLP(data["network"]["weights"], data["network"]["biases"],
                              data["network"].get("linear"))
        state.network = network
        state.trainer = Trainer.from_state_dict(network, data.pop("trainer"))
        data.pop("network")
        data.setdefault("stream", None)  # saved before streams kept rows
        if not isinstance(data["schedule"], GrowthSchedule):
            raise TypeError("the growth schedule is not a GrowthSchedule")
        state.__dict__.update(data)
        return state
