"""One growth step of a fit: deepen or widen the network, and the records the step leaves.

:func:`broaden_layer` glues the slides' algorithms together for the chosen ``init``;
:func:`grow_step` decides nothing (the schedule did) and does the rest: deepening first when the
schedule says so, the records, and a failed search left without effect.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

from . import folding
from .folding.broaden import add_unit
from .folding.search_rows import ScratchRows, as_numpy, row_chunks
from .history import close_history, empty_event, settle_last_growth
from .network import activated_segment, snapshot
from .schedule import CANNOT_PAY

#: Fallbacks after which the unit's hyperplane lies just behind ``x_t``, normal to the loss
#: gradient there, rather than through a fold point.
BEHIND_INSTANCE = (folding.FLAT_SEGMENT, folding.THROUGH_INSTANCE, folding.REDUNDANT_FOLD)


def lies_behind_instance(fallback) -> bool:
    """Whether a unit recorded with ``fallback`` has the hyperplane behind ``x_t``."""
    return bool(set((fallback or "").split("+")) & set(BEHIND_INSTANCE))


def _row_key(row) -> bytes:
    return np.ascontiguousarray(row, dtype=np.float64).tobytes()


def _as_row_scalars(rows):
    """One opaque scalar per float64 row (its bytes, as :func:`_row_key`), for ``np.isin``."""
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()


def _already_folded(X_np, folded_rows):
    """Rows of ``X_np`` in ``folded_rows``, in one vectorised test."""
    if not folded_rows:
        return np.zeros(X_np.shape[0], dtype=bool)
    folded = np.frombuffer(b"".join(folded_rows), dtype=np.float64).reshape(-1, X_np.shape[1])
    return np.isin(_as_row_scalars(X_np), _as_row_scalars(folded))


def broaden_layer(network, layer, X, y, sample_weight, *, settings, n_units, rng, generator,
                  folded_rows, max_instance_loss=np.inf):
    """Add ``n_units`` units to hidden layer ``layer`` of ``network``.

    Parameters
    ----------
    X, y, sample_weight : torch.Tensor
        Data the search may use (on the network's device); a subsample of at most
        ``settings.search_subsample`` rows is drawn from them with ``rng``.
    settings : GrowthSettings
    folded_rows : set of bytes
        Inputs already folded on (updated in place); not picked again while others remain.
    max_instance_loss : float
        When every candidate instance has at least this (weighted) loss, nothing is added and
        the record says :data:`~skfold.schedule.CANNOT_PAY` (no growth could pay).

    Returns
    -------
    events : list of dict
        One record per unit added (or one record saying why nothing was added).
    replaced : list
        ``(old_param, new_param, slices)`` for carrying optimizer state.
    """
    search = _search(network, layer, X, y, sample_weight, settings, rng)
    folded = search.already_folded(folded_rows)
    candidates = folding.candidate_rows(search.signals.mispredicted, folded)
    if (not candidates.any() and settings.margin_fraction > 0
            and search.signals.margins is not None):
        candidates = folding.margin_rows(search.signals.margins, settings.margin_fraction,
                                         folded)
    if candidates.any() and search.signals.losses[candidates].min() >= max_instance_loss:
        return [{**empty_event(layer, None, settings.init), "skipped": CANNOT_PAY}], []
    picks = folding.typical_instances(  # the rows already folded are out
        search.H, search.signals.losses, candidates, n_units,
        method=settings.instance_selection, n_clusters=settings.n_clusters, rng=rng,
        restore=search.restore)
    if picks[0][0] is None:
        return [{**empty_event(layer, None, settings.init), **picks[0][1]}], []
    # fewer candidates than units: go round them again (the repeated fold adds nothing, and
    # the unit takes the loss-gradient hyperplane instead)
    picks = (picks * n_units)[:n_units]
    for pos, _ in picks:
        folded_rows.add(_row_key(search.x_row(pos)))
    if settings.init == "gradmax":
        return _gradmax_units(network, layer, search, picks)
    first = network.hidden_sizes[layer]
    if settings.init == "random":
        events, replaced = _random_units(network, layer, search, picks, generator)
    else:
        events, replaced = _fold_units(network, layer, search, picks, settings, generator)
    if settings.outgoing_weights == "line_search":
        folding.line_search_outgoing(
            network, layer, slice(first, network.hidden_sizes[layer]),
            search.inputs(slice(None)), search.y, search.weights, settings.task,
            search.signals.delta)
    return events, replaced


class _Search(NamedTuple):
    """The search rows of a growth: their caller's indices, inputs, targets and signals."""

    rows: np.ndarray
    inputs: Callable  #: ``inputs(part)``: the inputs of the search rows in the slice ``part``
    n_inputs: int  #: the inputs' width (``X``'s features)
    y: torch.Tensor
    weights: torch.Tensor  #: the search rows' sample weights
    signals: folding.SearchSignals
    H: np.ndarray  #: the rows' ``h_layer`` in float64 (``signals.H`` is dropped for layer 0)
    restore: Callable  #: refills ``H`` exactly, after a step used it as scratch space
    task: object

    def x_row(self, pos):
        """The input of search row ``pos``, float64."""
        return np.asarray(as_numpy(self.inputs(slice(pos, pos + 1))), dtype=np.float64)[0]

    def already_folded(self, folded_rows):
        """:func:`_already_folded` on the rows' inputs, densified a chunk at a time."""
        if not folded_rows:
            return np.zeros(len(self.rows), dtype=bool)
        return np.concatenate([
            _already_folded(as_numpy(self.inputs(part)), folded_rows)
            for part in row_chunks(len(self.rows), self.n_inputs)])


def _search(network, layer, X, y, sample_weight, settings, rng):
    """The growth's search subsample and what the network says on it, in one forward pass (a
    unit joins with zero outgoing weights: the losses, H and delta stay as they are, so one
    search serves every unit of the growth).

    The search holds its rows once, as ``H`` in float64 (the input of layer 0 is ``x``): the
    rows densified for the forward pass (sparse ``X``) are let go before ``H`` is filled from
    ``X`` again a chunk at a time, and the inputs are densified again where a step needs them.
    """
    rows = folding.search_subsample(X.shape[0], settings.search_subsample, rng)
    rows_t = torch.as_tensor(rows, device=X.device)
    ys, ws = y[rows_t], sample_weight[rows_t]
    signals = folding.search_signals(network, layer, X[rows_t], ys, ws, settings.task)
    shape = (len(rows), signals.H.shape[1])

    def inputs(part):
        return X[rows_t[part]]

    if layer == 0:  # H is the rows' inputs
        signals, source = signals._replace(H=None), inputs
    else:
        source = signals.H.__getitem__
    H = ScratchRows(source, shape)
    return _Search(rows, inputs, X.shape[1], ys, ws, signals, H.array, H.restore,
                   settings.task)


def _instance_record(layer, unit, init, search, pos, info):
    """A growth record of a unit added for the typical instance at search row ``pos``."""
    h_t = search.H[pos]
    predicted, true = search.task.recorded(search.signals.predicted[pos],
                                           search.task.target_of_row(search.y, pos))
    return {**empty_event(layer, unit, init), "instance_index": int(search.rows[pos]),
            "x_t": search.x_row(pos).tolist(), "h_t": h_t.tolist() if layer > 0 else None,
            "predicted": predicted, "true": true,
            "instance_loss": float(search.signals.losses[pos]), **info}


def _gradmax_units(network, layer, search, picks):
    """GradMax's units: as many as the back-propagated gradient has directions (its rank:
    one for a binary classifier or a one-output regressor), the rest recorded as skipped."""
    delta = search.signals.delta
    outgoing = folding.gradmax_outgoing(network, layer,
                                        torch.from_numpy(search.H).to(delta.device), delta,
                                        len(picks))
    k = outgoing.shape[1]
    first, n_in = network.hidden_sizes[layer], network.weights[layer].shape[1]
    replaced = (network.widen(layer, torch.zeros(k, n_in), torch.zeros(k), outgoing)
                if k else [])
    events = [_instance_record(layer, first + i, "gradmax", search, pos, info)
              for i, (pos, info) in enumerate(picks[:k])]
    if k < len(picks):
        events.append({**empty_event(layer, None, "gradmax"), "skipped": (
            f"{folding.GRADMAX_RANK}: {k}, fewer than the {len(picks)} units asked for")})
    return events, replaced


def _random_units(network, layer, search, picks, generator):
    events, replaced = [], []
    for pos, info in picks:
        unit = network.hidden_sizes[layer]
        v, c = folding.random_incoming(network.weights[layer].shape[1], generator=generator)
        replaced += add_unit(network, layer, v, c)
        events.append(_instance_record(layer, unit, "random", search, pos, info))
    return events, replaced


def _fold_units(network, layer, search, picks, settings, generator):
    """The fold inits' units, each on its own typical instance."""
    events, replaced = [], []
    for pos, info in picks:
        unit = network.hidden_sizes[layer]
        target = search.task.target_of_row(search.y, pos)
        h_t = search.H[pos].copy()  # not a view: the ascent uses search.H as scratch space
        offsets = search.signals.offsets
        offset = None if offsets is None or layer == 0 else offsets[pos:pos + 1]
        segment = activated_segment(network, h_t, layer, offset)
        fold = folding.fold_point_search(segment, h_t, task=search.task, target=target,
                                         method=settings.fold_point, nonnegative=layer > 0)
        h_f, fallback, added = folding.hidden_layer_broaden(
            network, layer, h_t, fold, target, search.signals, search.H, settings=settings,
            generator=generator, offset=offset, restore=search.restore)
        replaced += added
        events.append({
            **_instance_record(layer, unit, settings.init, search, pos, info),
            "x_f": h_f.tolist() if layer == 0 else None,
            "h_f": h_f.tolist() if layer > 0 else None,
            "fold_distance": float(np.linalg.norm(h_t - h_f)), "fallback": fallback})
    return events, replaced


def grow_step(call, X, y, sw, n_units, requested=False):
    """Grow the network of ``call`` by up to ``n_units`` units (deepening first when the
    schedule says so), and record the growth; returns whether the network changed.

    ``requested``: the user called :meth:`~skfold.FoldGrowClassifier.grow`, so a growth that
    could not pay is made all the same.
    """
    t0 = time.perf_counter()
    state, schedule = call.state, call.state.schedule
    settle_last_growth(state)
    close_history(state)
    loss_before = float(state.last_monitored)
    total_weight = float(sw.sum())
    max_instance_loss = (np.inf if requested
                         else schedule.largest_payable_instance_loss(total_weight))
    events = _grow(call, X, y, sw, n_units, max_instance_loss)
    net = state.network
    # at most search_subsample rows, spread over the data: its first rows may all come
    # from one class or one end of a sorted feature
    dead = folding.dead_units(net, X[:: -(-X.shape[0] // call.settings.search_subsample)])
    growth_index = 1 + max((e["growth"] for e in state.history), default=-1)
    seconds = time.perf_counter() - t0
    instance_loss = sum(e["instance_loss"] for e in events
                        if e.get("instance_loss") is not None)
    gain_needed = max(call.est.tol, schedule.required_gain_for(instance_loss, total_weight))
    for event in events:
        if call.rows is not None and event.get("instance_index") is not None:
            event["instance_index"] = int(call.rows[event["instance_index"]])
        call.est._decode_event(event)
        event.update(growth=growth_index, epoch=state.n_iter, loss_before=loss_before,
                     loss_after=None, gain_needed=gain_needed, dead_units=dead,
                     search_seconds=seconds, hidden_layer_sizes=net.hidden_sizes)
    state.history.extend(events)
    state.growth_open = True
    # A classifier that gets every searched row right gives folding nothing to fold on,
    # and the next plateau would not either: growth stops for the rest of this call.
    schedule.on_growth(required_gain=gain_needed, skipped=[e.get("skipped") for e in events])
    state.phase_best = np.inf
    state.fit_time["growth"] += seconds
    if call.est.verbose >= 1:
        _say_growth(call, events, growth_index, loss_before)
    return any(e.get("unit") is not None or e["kind"] == "deepen" for e in events)


#: Failures a growth expects, which leave the network as it was and let training go on: a
#: numerical routine of the search broke down, or the grown network is not finite. Anything
#: else is a bug, and ends the fit.
GROWTH_FAILURES = (folding.SearchFailed, FloatingPointError)


def _grow(call, X, y, sw, n_units, max_instance_loss):
    """Deepen (when the schedule says so) and widen; returns the growth's records."""
    state, schedule = call.state, call.state.schedule
    net = state.network
    room = schedule.max_hidden_units - sum(net.hidden_sizes)
    events = []
    before = snapshot(net)
    try:
        if schedule.should_deepen(net.hidden_sizes):
            layer = folding.equivalent_network_deepening(net)
            state.trainer.after_growth()
            schedule.reset_patience()
            room -= net.hidden_sizes[layer]
            events.append({**empty_event(layer, None, None, kind="deepen"),
                           "width": net.hidden_sizes[layer]})
        layer = net.n_hidden_layers - 1
        n_units = min(n_units, room)
        if n_units > 0:
            widen_events, replaced = broaden_layer(
                net, layer, X, y, sw, settings=call.settings, n_units=n_units, rng=state.rng,
                generator=state.trainer.generator, folded_rows=state.folded_rows,
                max_instance_loss=max_instance_loss)
            state.trainer.after_growth(replaced)
            events.extend(widen_events)
        if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
            raise FloatingPointError("the grown network has non-finite weights")
    except GROWTH_FAILURES as exc:
        state.load_weights(*before)
        reason = f"growth failed: {type(exc).__name__}: {exc}"
        warnings.warn(f"{call.name}: {reason}; the network is left unchanged and training "
                      "continues.", RuntimeWarning)
        events = [{"kind": "widen", "layer": state.network.n_hidden_layers - 1, "unit": None,
                   "init": call.settings.init, "skipped": reason}]
    return events


def _say_growth(call, events, growth_index, loss_before):
    net = call.state.network
    for e in events:
        where = (f"unit {e['unit']} of layer {e['layer']}" if e["unit"] is not None
                 else e.get("skipped") or f"new layer {e['layer']}")
        dist = e.get("fold_distance")
        dist_txt = f", fold distance {dist:.4g}" if dist is not None else ""
        call.say(f"Growth {growth_index} at epoch {call.state.n_iter}: {e['kind']} {where}, "
                 f"loss {loss_before:.6f}, instance {e.get('instance_index')}"
                 f"{dist_txt}, hidden units {net.hidden_sizes}")
