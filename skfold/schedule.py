"""When to grow, where (widen or deepen), and when growth stops: the one place that decides.

The ``"plateau"``, ``"fixed"`` and ``"none"`` schedules of DESIGN section 5, the test of whether
a growth paid, and every reason growth stops, each named here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: A ``"plateau"`` training phase lasts at most this many times ``n_iter_no_change`` epochs.
#: A network far too small for its data creeps down by a little more than ``tol`` per
#: ``n_iter_no_change`` epochs for a very long time; it is on a plateau in all but name, and
#: growing preserves its function, so growing then costs nothing.
PHASE_CAP_FACTOR = 10
#: After growth finds no mis-predicted row in its search subsample (a classifier that fits its
#: training rows exactly), the final L-BFGS phase trains at least this many times
#: ``n_iter_no_change`` iterations before its stopping tests apply. The loss is then so small
#: that neither test (progress, largest gradient entry, both against ``tol``) can see the
#: weight decay still reshaping the weights (``benchmarks/results/issue5_findings.md``).
EXACT_FIT_PHASE_FACTOR = 3

#: When ``partial_fit`` grows under ``"plateau"``: a stream's data go by once, and one epoch
#: per call is far from a plateau. On ``benchmarks/streaming.py``'s stream (ten chunks of
#: 15,000 rows, three passes) a 2-unit network's loss still fell by 0.005 per call on average
#: over calls 10 to 30, far above ``tol``, and never went more than 2 calls without a ``tol``
#: improvement, so no plateau came and the network never grew. A call ends a
#: growth phase as soon as the phase's returns diminish (:meth:`GrowthSchedule.progress_slowed`:
#: the last call lowered the monitored loss by less than half the largest fall of a call since
#: the last growth), as well as at a plateau. Growing at every call instead grew faster on that
#: stream (0.942 against 0.912 test accuracy) but folded again and again on the mistake the
#: last unit, whose outgoing weights start at zero, had not yet begun to fix: on a stream of
#: two moons its 12 units were a few hyperplanes repeated (0.879 against 0.928, 4 seeds).
STREAM_GROWTH = "a phase's returns diminish"

#: ``growth_history_["skipped"]`` when the search subsample holds no mis-predicted row.
NOTHING_MISPREDICTED = "no mis-predicted instance in the search subsample"
#: ``growth_history_["skipped"]`` when no growth on any mis-predicted row could pay.
CANNOT_PAY = ("no mis-predicted instance whose growth could pay: each one's share of the loss, "
              "times min_growth_gain, exceeds the whole monitored loss")
#: Skip reasons that end growth for the rest of a ``fit`` or ``partial_fit`` call: the next
#: plateau would find nothing to fold on either.
ENDS_GROWTH = (NOTHING_MISPREDICTED, CANNOT_PAY)


@dataclass
class GrowthSchedule:
    """Tracks the monitored loss epoch by epoch and says when the network should grow.

    An "epoch" is one pass over the data for Adam/SGD and one iteration for L-BFGS. The state
    lives across ``partial_fit`` calls, so a streaming user's network grows too. The settings
    (the fields up to ``max_depth``) are the estimator's parameters of the same names.
    """

    kind: str
    grow_every: int
    n_iter_no_change: int
    tol: float
    growth_patience: int
    min_growth_gain: float = 0.0
    max_hidden_units: int = 2**31
    max_depth: int = 1
    best_loss: float = math.inf
    reference_loss: float = math.inf
    epochs_without_improvement: int = 0
    epochs_since_growth: int = 0
    best_at_last_growth: float = math.inf
    fruitless_growths: int = 0
    n_growths: int = 0
    #: Improvement the pending growth must bring besides ``tol`` (see :meth:`on_growth`).
    required_gain: float = 0.0
    #: Why growth found nothing to fold on in this call (one of :data:`ENDS_GROWTH`), or None.
    skip_reason: str | None = None
    #: The last monitored loss, its fall from the one before, and the largest such fall
    #: since the last growth (see :meth:`progress_slowed`).
    last_loss: float = math.inf
    last_gain: float = 0.0
    phase_gain: float = 0.0

    # ------------------------------------------------------------------ the monitored loss
    def observe(self, loss: float) -> bool:
        """Record one epoch's monitored loss; return whether it is the best so far.

        Progress is measured against the loss at the last epoch that counted as progress, so
        that many small steps adding up to ``tol`` count too (L-BFGS after a growth often
        improves by less than ``tol`` per iteration but by much more over ten).
        """
        self.epochs_since_growth += 1
        if math.isfinite(self.last_loss):
            self.last_gain = self.last_loss - loss
            self.phase_gain = max(self.phase_gain, self.last_gain)
        self.last_loss = loss
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

    # ------------------------------------------------------------------ when
    def epochs_until_growth(self) -> float:
        """Epochs the ``"fixed"`` schedule still trains before it grows (inf for the others)."""
        if self.kind == "fixed":
            return max(self.grow_every - self.epochs_since_growth, 0)
        return math.inf

    def wants_growth(self, stream: bool = False) -> bool:
        """Whether a growth is due now. ``stream``: a ``partial_fit`` call has ended its
        epoch; under ``"plateau"``, growth is then also due when the phase's progress slowed
        (see :data:`STREAM_GROWTH`)."""
        if self.kind == "plateau":
            return (stream and self.progress_slowed()) or self.converged or (
                self.epochs_since_growth >= PHASE_CAP_FACTOR * self.n_iter_no_change)
        if self.kind == "fixed":
            return self.epochs_since_growth >= self.grow_every
        return False

    def progress_slowed(self) -> bool:
        """Whether the last epoch's fall of the monitored loss was less than half the largest
        fall of an epoch since the last growth (after two epochs at least): the phase's
        returns diminish, and the last unit has begun to act by then, so the next growth does
        not fold on the mistake it was grown for (see :data:`STREAM_GROWTH`)."""
        return self.epochs_since_growth >= 2 and self.last_gain < self.phase_gain / 2

    def exact_fit_phase(self, validating: bool) -> int:
        """Iterations the next L-BFGS phase trains before its stopping tests apply (see
        :data:`EXACT_FIT_PHASE_FACTOR`); 0 unless growth found nothing mis-predicted and the
        loss is the training loss."""
        if self.skip_reason == NOTHING_MISPREDICTED and not validating and self.kind != "fixed":
            return EXACT_FIT_PHASE_FACTOR * self.n_iter_no_change
        return 0

    def phases_end_at_plateaus(self, hidden_sizes) -> bool:
        """Whether a plateau (or the optimizer's convergence) ends a training phase. Not while
        a ``"fixed"`` schedule still has growths to make: it grows every ``grow_every``
        epochs whatever the loss does."""
        return not (self.kind == "fixed" and self.can_grow(hidden_sizes))

    # ------------------------------------------------------------------ where, and whether
    def can_grow(self, hidden_sizes) -> bool:
        """Whether growth is still possible: the schedule grows and there is room; under
        ``"plateau"``, also growth found something to fold on in this call, and widening
        still pays or deepening is left. ``"fixed"`` grows until ``max_hidden_units`` (a
        growth with nothing mis-predicted is skipped, and the next one tried as scheduled)."""
        if self.kind == "none" or sum(hidden_sizes) >= self.max_hidden_units:
            return False
        if self.kind == "fixed":
            return True
        if self.skip_reason is not None:
            return False
        if self.growth_stalled:
            return self.can_deepen(hidden_sizes)
        return True

    def can_deepen(self, hidden_sizes) -> bool:
        """An identity layer fits: depth is left and its units fit in the room left."""
        room = self.max_hidden_units - sum(hidden_sizes)
        return len(hidden_sizes) < self.max_depth and room > hidden_sizes[-1]

    def should_deepen(self, hidden_sizes) -> bool:
        """Widening stopped paying and a new layer fits: deepen before widening again (never
        under ``"fixed"``, which has no notion of paying)."""
        return self.kind != "fixed" and self.growth_stalled and self.can_deepen(hidden_sizes)

    @property
    def growth_stalled(self) -> bool:
        """``growth_patience`` growths in a row did not pay (see :meth:`on_growth`)."""
        pending = self.n_growths > 0 and not self.last_growth_paid()
        return self.fruitless_growths + int(pending) >= self.growth_patience

    def required_gain_for(self, instance_loss: float, total_weight: float) -> float:
        """What a growth must lower the monitored loss by, besides ``tol``, to pay:
        ``min_growth_gain`` times the folded instances' share of the training loss.

        A unit that removes little more than the loss of the row it was folded on fitted that
        row, not a region: on noisy data growth otherwise goes on paying a little more than
        ``tol`` per unit, fitting noise. ``"fixed"`` has no gain test.
        """
        if self.kind == "fixed":
            return 0.0
        return self.min_growth_gain * instance_loss / total_weight

    def largest_payable_instance_loss(self, total_weight: float) -> float:
        """An instance with at least this loss cannot pay for its growth: the gain it needs
        (:meth:`required_gain_for`) would be the whole monitored loss, which cannot fall
        below 0."""
        if self.kind == "fixed" or self.min_growth_gain == 0 or not math.isfinite(self.best_loss):
            return math.inf
        return self.best_loss * total_weight / self.min_growth_gain

    # ------------------------------------------------------------------ book-keeping
    def last_growth_paid(self) -> bool:
        """Whether the last growth paid: since it, the best monitored loss fell by more than
        ``tol`` and its required gain."""
        return self.best_loss < self.best_at_last_growth - max(self.tol, self.required_gain)

    def on_growth(self, required_gain: float = 0.0, skipped=()) -> None:
        """Book-keeping at a growth: settle whether the previous growth paid off.

        The growth made now pays if the best monitored loss falls by more than ``tol`` and
        by more than ``required_gain`` before the next one. ``skipped``: the growth's skip
        reasons; one of :data:`ENDS_GROWTH` ends growth for the rest of the call.
        """
        self.skip_reason = next((r for r in ENDS_GROWTH if r in set(skipped)), None)
        if self.n_growths:
            self.fruitless_growths = 0 if self.last_growth_paid() else self.fruitless_growths + 1
        self.required_gain = required_gain
        self.n_growths += 1
        self.best_at_last_growth = self.best_loss
        self.epochs_since_growth = 0
        self.epochs_without_improvement = 0
        self.reference_loss = self.best_loss
        self.phase_gain = 0.0

    def start_call(self) -> None:
        """A new ``fit`` or ``partial_fit`` call: growth may find something to fold on again."""
        self.skip_reason = None

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


def growth_paid(record: dict):
    """Whether the growth of a ``growth_history_`` record paid: the schedule's decision, its
    ``paid`` field, once the next growth or the end of the fit settled it (the best monitored
    loss fell by more than ``tol`` and the required gain); None while its phase runs. A record
    without that field: whether the loss fell by more than ``gain_needed`` over the phase."""
    if "paid" in record:
        return record["paid"]
    before, after = record.get("loss_before"), record.get("loss_after")
    needed = record.get("gain_needed")
    if before is None or after is None or needed is None:
        return None
    return bool(before - after > needed)
