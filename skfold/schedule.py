"""When to grow: the ``"plateau"``, ``"fixed"`` and ``"none"`` growth schedules."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: A ``"plateau"`` training phase lasts at most this many times ``n_iter_no_change`` epochs.
#: A network far too small for its data creeps down by a little more than ``tol`` per
#: ``n_iter_no_change`` epochs for a very long time (2 units on digits: 960 L-BFGS iterations
#: without a plateau, 0.70 test accuracy); it is on a plateau in all but name, and growing
#: preserves its function, so growing then costs nothing.
PHASE_CAP_FACTOR = 10


@dataclass
class GrowthSchedule:
    """Tracks the monitored loss epoch by epoch and says when the network should grow.

    An "epoch" is one pass over the data for Adam/SGD and one iteration for L-BFGS. The state
    lives across ``partial_fit`` calls, so a streaming user's network grows too.
    """

    kind: str
    grow_every: int
    n_iter_no_change: int
    tol: float
    growth_patience: int
    best_loss: float = math.inf
    reference_loss: float = math.inf
    epochs_without_improvement: int = 0
    epochs_since_growth: int = 0
    best_at_last_growth: float = math.inf
    fruitless_growths: int = 0
    n_growths: int = 0
    #: Improvement the pending growth must bring besides ``tol`` (see :meth:`on_growth`).
    required_gain: float = 0.0

    def observe(self, loss: float) -> bool:
        """Record one epoch's monitored loss; return whether it is the best so far.

        Progress is measured against the loss at the last epoch that counted as progress, so
        that many small steps adding up to ``tol`` count too (L-BFGS after a growth often
        improves by less than ``tol`` per iteration but by much more over ten).
        """
        self.epochs_since_growth += 1
        if loss < self.reference_loss - self.tol:
            self.reference_loss = loss
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        improved = loss < self.best_loss
        if improved:
            self.best_loss = loss
        return improved

    def mark_converged(self) -> None:
        """The optimizer itself declared convergence (L-BFGS): treat it as a plateau."""
        self.epochs_without_improvement = max(self.epochs_without_improvement,
                                              self.n_iter_no_change)

    @property
    def converged(self) -> bool:
        return self.epochs_without_improvement >= self.n_iter_no_change

    def epochs_until_growth(self) -> float:
        """Epochs the ``"fixed"`` schedule still trains before it grows (inf for the others)."""
        if self.kind == "fixed":
            return max(self.grow_every - self.epochs_since_growth, 0)
        return math.inf

    def wants_growth(self) -> bool:
        if self.kind == "plateau":
            return self.converged or (
                self.epochs_since_growth >= PHASE_CAP_FACTOR * self.n_iter_no_change)
        if self.kind == "fixed":
            return self.epochs_since_growth >= self.grow_every
        return False

    def _last_growth_paid(self) -> bool:
        return self.best_loss < self.best_at_last_growth - max(self.tol, self.required_gain)

    def on_growth(self, required_gain: float = 0.0) -> None:
        """Book-keeping at a growth: settle whether the previous growth paid off.

        The growth made now pays if the best monitored loss falls by more than ``tol`` and
        by more than ``required_gain`` before the next one.
        """
        if self.n_growths:
            self.fruitless_growths = 0 if self._last_growth_paid() else self.fruitless_growths + 1
        self.required_gain = required_gain
        self.n_growths += 1
        self.best_at_last_growth = self.best_loss
        self.epochs_since_growth = 0
        self.epochs_without_improvement = 0
        self.reference_loss = self.best_loss

    def restart(self) -> None:
        """A new ``fit`` call on a warm-started network: its losses (maybe on other data) are
        not comparable with the earlier ones, so progress and patience are measured afresh."""
        self.best_loss = self.reference_loss = self.best_at_last_growth = math.inf
        self.epochs_without_improvement = self.epochs_since_growth = 0
        self.fruitless_growths = 0
        self.required_gain = 0.0

    def reset_patience(self) -> None:
        """A new layer was inserted: widening it gets a fresh ``growth_patience``."""
        self.fruitless_growths = 0
        self.best_at_last_growth = math.inf

    @property
    def growth_stalled(self) -> bool:
        """``growth_patience`` growths in a row did not pay (see :meth:`on_growth`)."""
        pending = self.n_growths > 0 and not self._last_growth_paid()
        return self.fruitless_growths + int(pending) >= self.growth_patience


def growth_paid(record: dict):
    """Whether the growth of a ``growth_history_`` record paid: the monitored loss fell by
    more than its ``gain_needed`` over the training phase that followed (None while that
    phase runs, or for a record without those fields)."""
    before, after = record.get("loss_before"), record.get("loss_after")
    needed = record.get("gain_needed")
    if before is None or after is None or needed is None:
        return None
    return bool(before - after > needed)
