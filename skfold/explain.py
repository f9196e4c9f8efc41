"""Why a hidden unit exists: the mistake it was grown to fix, read off ``growth_history_``."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from .growth import lies_behind_instance
from .objective import EVAL_CHUNK
from .schedule import growth_paid
from .sparse_rows import chunk_for, densified
from .unit_table import (TOP_FEATURES, incoming_weights, input_names, rank, top_sentence,
                         unit_table)


def explain_unit(est, unit, layer=0, X=None, view=None):
    """:meth:`~skfold.FoldGrowClassifier.explain_unit` of the fitted estimator ``est``.

    ``view``: None, or a callable ``view(names, start, end, layer)`` that re-expresses the
    unit's input names and its two points in other units and returns ``(names, start, end,
    space, why)``, ``why`` saying why it could not (None when it did): see
    :mod:`skfold.explain_pipeline`.
    """
    check_is_fitted(est)
    sizes = est.network_.hidden_sizes
    if not isinstance(layer, Integral) or not 0 <= layer < len(sizes):
        raise ValueError(f"layer must be an integer in [0, {len(sizes) - 1}]; got {layer!r}.")
    if not isinstance(unit, Integral) or not 0 <= unit < sizes[layer]:
        raise ValueError(f"Layer {layer} has {sizes[layer]} units; unit must be an integer "
                         f"in [0, {sizes[layer] - 1}], got {unit!r}.")
    explanation = explain_origin(est.growth_history_, unit, layer)
    _add_inputs(explanation, est, unit, layer, view)
    if X is not None:
        n_active, n = active_rows(est, unit, layer, X)
        if n_active:
            said = f" It is active on {n_active} of the {n} rows of X ({n_active / n:.1%})."
        else:
            said = (f" It is active on none of the {n} rows of X: it outputs 0 on all of "
                    "them (a dead unit) and gets no gradient from them.")
        explanation.update(n_active=n_active, active_fraction=n_active / n,
                           summary=explanation["summary"] + said)
    return explanation


def _add_inputs(explanation, est, unit, layer, view):
    """The unit's inputs, named, as a table ranked by |incoming weight|, and the summary's
    sentence on the top ones."""
    keys = ("h_t", "h_f") if layer else ("x_t", "x_f")
    start, end = (None if explanation.get(k) is None else np.asarray(explanation[k], float)
                  for k in keys)
    names, weights = input_names(est, layer), incoming_weights(est, layer, unit)
    space, why = ("hidden", None) if layer else ("estimator", None)
    if view is not None:
        names, start, end, space, why = view(names, start, end, layer)
    order = rank(weights)
    explanation.update(feature_names=names, weights=weights, space=space,
                       top_features=[str(names[j]) for j in order[:TOP_FEATURES]],
                       table=unit_table(names, weights, start, end, keys))
    explanation["summary"] += top_sentence(names, weights, start, end, keys, layer)
    if view is not None:
        explanation["why_not_original"] = why
        if why is not None:
            explanation["summary"] += f" Its values are not in original units: {why}"


def _record_of(history, unit, layer):
    """The latest record that created unit ``unit`` of ``layer``, or None (a seed unit)."""
    record = None
    for event in history:
        if event.get("layer") != layer:
            continue
        if event.get("kind") == "deepen":
            record = event if unit < event.get("width", 0) else None
        elif event.get("unit") == unit:
            record = event
    return record


def explain_origin(history, unit, layer):
    """The explanation of a unit from the growth history alone."""
    name = f"Unit {unit} of layer {layer}"
    record = _record_of(history, unit, layer)
    if record is None:
        return {"layer": layer, "unit": unit, "origin": "seed",
                "summary": f"{name} is a seed unit: the network started with it."}
    if record["kind"] == "deepen":
        return {"layer": layer, "unit": unit, "origin": "deepen",
                "epoch": record.get("epoch"), "growth": record.get("growth"),
                "summary": f"{name} was created at epoch {record.get('epoch')} as a copy "
                           f"(identity) of unit {unit} of layer {layer - 1}, when the "
                           "network was deepened."}
    explanation = {**record, "origin": "growth"}
    before, after = record.get("loss_before"), record.get("loss_after")
    change = None if before is None or after is None else after - before
    explanation["loss_change"] = change
    explanation["paid"] = growth_paid(record)
    summary = f"{name} was added at epoch {record['epoch']} (init={record['init']!r})"
    summary += _instance_sentence(record, layer)
    if change is not None:
        summary += f" The monitored loss went from {before:.4g} to {after:.4g} ({change:+.3g})"
        needed = record.get("gain_needed")
        if explanation["paid"] is None:
            summary += "."
        else:
            summary += f": the growth {'paid' if explanation['paid'] else 'did not pay'}"
            summary += ("." if needed is None else f" (it needed a fall of more than "
                        f"{needed:.3g}, see tol and min_growth_gain).")
    explanation["summary"] = summary
    return explanation


def _instance_sentence(record, layer):
    """The part of the summary that says which mistake the unit was folded on, and where (the
    points' values are in the table and the sentence on the top features)."""
    if record.get("x_t") is None:
        return ", without a typical instance."
    mistake = (f" to fix instance {record['instance_index']} (predicted "
               f"{record['predicted']!r} where the truth is {record['true']!r})")
    if (record.get("x_f") if layer == 0 else record.get("h_f")) is None:
        # GradMax and random units: the instance decided when, not how
        return (f"{mistake}; its weights come from init={record['init']!r}, not from a fold "
                "point.")
    fallback = record.get("fallback")
    point = (("h_f (in the layer's input space)" if layer else "x_f")
             + f" at distance {record['fold_distance']:.4g} from it")
    if lies_behind_instance(fallback):
        where = (f"its hyperplane lies just behind it, normal to the loss gradient "
                 f"there, through {point} (fallback {fallback!r}, instead of a fold "
                 "point)")
    else:
        where = (f"its hyperplane passes through the fold point {point}"
                 + (f" (fallback {fallback!r})" if fallback else ""))
    return f"{mistake}; {where}."


def active_rows(est, unit, layer, X):
    """How many rows of ``X`` give the unit a positive pre-activation, and of how many."""
    X = validate_data(est, X, reset=False, dtype=np.float64, accept_sparse="csr")
    net = est.network_
    weight, bias = net.weights[layer].detach()[unit], net.biases[layer].detach()[unit]
    n_active = 0
    with torch.no_grad():
        chunk = chunk_for(X, EVAL_CHUNK)
        for start in range(0, X.shape[0], chunk):
            rows = torch.as_tensor(densified(X[start:start + chunk], np.float64),
                                   dtype=weight.dtype, device=weight.device)
            n_active += int(((net.hidden_input(rows, layer) @ weight + bias) > 0).sum())
    return n_active, X.shape[0]
