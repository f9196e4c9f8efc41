"""``growth_history_``: one plain-dict record per growth event (DESIGN section 6)."""

from __future__ import annotations

import numpy as np


def empty_event(layer, unit, init, kind="widen"):
    """A ``growth_history_`` record with every DESIGN section 6 field present (None until
    known)."""
    return {"kind": kind, "layer": layer, "unit": unit, "init": init,
            "instance_index": None, "x_t": None, "x_f": None, "h_t": None, "h_f": None,
            "fold_distance": None, "predicted": None, "true": None, "instance_loss": None,
            "cluster_size": None, "cluster_mean_loss": None, "cluster_rank": None,
            "n_clusters_used": None, "fallback": None, "skipped": None, "paid": None}


def events_of_last_growth(history):
    last = history[-1]["growth"]
    return [e for e in history if e["growth"] == last]


def settle_last_growth(state):
    """Record, on the last growth's records still pending, whether that growth paid (the
    schedule's decision: see :meth:`~skfold.schedule.GrowthSchedule.last_growth_paid`)."""
    if not state.history or state.schedule.n_growths == 0:
        return
    for event in events_of_last_growth(state.history):
        if event.get("paid") is None:
            event["paid"] = state.schedule.last_growth_paid()


def close_history(state, final=True):
    """Record the loss after the last growth's training phase: its best monitored loss.

    ``final=False`` (the end of a ``partial_fit`` call) records the best so far: the phase
    goes on in the next calls, which update the record until the next growth closes it.
    """
    if not state.growth_open:
        return
    phase_best = state.phase_best
    for event in events_of_last_growth(state.history):
        event["loss_after"] = float(phase_best) if np.isfinite(phase_best) else None
    if final:
        settle_last_growth(state)
    state.growth_open = not final


def mark_units_in_model(state):
    """Set every record's ``in_final_model``: whether its unit is in the network now; None for
    a record without a unit.

    A return to an earlier, narrower network drops the units grown after it, and a later
    growth (``grow``, a warm start) may add a unit at a dropped one's place: a unit is added
    at the end of its layer, and a layer is deepened in after the last, so a later record of
    the same ``(layer, unit)``, or a later deepening of its layer or one above, means the
    record's unit was dropped.
    """
    sizes = state.network.hidden_sizes
    grown_again, deepened_from = set(), len(sizes)
    for event in reversed(state.history):  # the latest first
        unit, layer = event.get("unit"), event.get("layer")
        if unit is None:
            event["in_final_model"] = None
            if event.get("kind") == "deepen":
                deepened_from = min(deepened_from, layer)
            continue
        event["in_final_model"] = ((layer, unit) not in grown_again and layer < deepened_from
                                   and unit < sizes[layer])
        grown_again.add((layer, unit))
