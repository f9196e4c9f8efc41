"""A hidden unit's inputs as a table: each input's name, the typical instance and fold point,
the move between them and the unit's incoming weight, the inputs that tilt its hyperplane most
first."""

from __future__ import annotations

import numpy as np

#: How many inputs the summary sentence names.
TOP_FEATURES = 3


def feature_names(fitted, n_features):
    """``fitted.feature_names_in_``, or ``x0..x{n-1}`` when it was fitted on an array (as
    scikit-learn's ``get_feature_names_out`` names them)."""
    names = getattr(fitted, "feature_names_in_", None)
    if names is None:
        names = [f"x{j}" for j in range(n_features)]
    return np.asarray(names, dtype=object)


def input_names(est, layer):
    """Names of the inputs of hidden ``layer``: the features (:func:`feature_names`) for
    layer 0; deeper, ``h0..h{n-1}``, the units of the layer below."""
    n = est.network_.weights[layer].shape[1]
    if layer:
        return np.asarray([f"h{j}" for j in range(n)], dtype=object)
    return feature_names(est, n)


def incoming_weights(est, layer, unit):
    """The unit's current incoming weights, ``coefs_[layer][:, unit]``, as float64."""
    return est.network_.weights[layer].detach()[unit].double().cpu().numpy()


def rank(weights):
    """Input indices by how much the input moves the unit's hyperplane: ``|weight|``, largest
    first (ties in input order)."""
    return np.argsort(-np.abs(weights), kind="stable")


def unit_table(names, weights, start=None, end=None, keys=("x_t", "x_f")):
    """One row per input, ranked by :func:`rank`: ``feature``, the two points (columns named
    ``keys``; NaN where a point was not recorded), ``move = end - start`` and ``weight``.

    A ``pandas.DataFrame`` when pandas can be imported, else a list of dicts (one per row,
    with the same keys): pandas is not a dependency of skfold.
    """
    order = rank(weights)
    missing = np.full(len(weights), np.nan)
    start = missing if start is None else np.asarray(start, dtype=np.float64)
    end = missing if end is None else np.asarray(end, dtype=np.float64)
    columns = {"feature": [str(n) for n in np.asarray(names)[order]],
               keys[0]: start[order], keys[1]: end[order], "move": (end - start)[order],
               "weight": np.asarray(weights, dtype=np.float64)[order]}
    try:
        import pandas as pd
    except ImportError:
        return [{key: value if key == "feature" else float(value)
                 for key, value in zip(columns, row)} for row in zip(*columns.values())]
    return pd.DataFrame(columns)


def top_sentence(names, weights, start=None, end=None, keys=("x_t", "x_f"), layer=0):
    """The summary's sentence naming the :data:`TOP_FEATURES` inputs that move the
    hyperplane most, each with its weight and, when recorded, its values at the two points."""
    parts = []
    for j in rank(weights)[:TOP_FEATURES]:
        said = f"weight {weights[j]:+.3g}"
        if start is not None:
            said += f", {keys[0]} {start[j]:.4g}"
            if end is not None:
                said += f" -> {keys[1]} {end[j]:.4g}"
        parts.append(f"{names[j]} ({said})")
    what = "features" if layer == 0 else f"inputs (units of layer {layer - 1})"
    return f" The {what} that move its hyperplane most: {', '.join(parts)}."
