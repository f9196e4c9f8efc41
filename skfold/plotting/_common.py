"""What the figures share: the estimator inside a pipeline, the two spaces, the folds to draw."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

#: Colours of the folds, in growth order (dark enough to read over the class shading).
FOLD_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
               "#666666")


def pyplot():
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching the import
        raise ImportError(
            "skfold.plotting needs matplotlib, an optional dependency. Install it with "
            "`python -m pip install \"skfold[plot]\"` (or `python -m pip install matplotlib`)."
        ) from exc
    return plt


def split_pipeline(estimator):
    """``(preprocessing or None, final estimator)`` of an estimator or a pipeline."""
    if hasattr(estimator, "steps"):
        final = estimator.steps[-1][1]
        pre = estimator[:-1] if len(estimator.steps) > 1 else None
    else:
        final, pre = estimator, None
    check_is_fitted(final)
    return pre, final


def check_2d(X, n_dims, func):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_dims:
        raise ValueError(f"{func} draws data with exactly {n_dims} feature(s); X has shape "
                         f"{X.shape}. Project the data first (e.g. keep two features).")
    return X


def input_names(estimator):
    """The column names the estimator (or the pipeline's first step) was fitted with; None if
    it was fitted on an array."""
    names = getattr(estimator, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def as_fitted(points, names):
    """Points of the data's space as the estimator was fitted on them: a DataFrame of its
    columns when it was fitted on one (a ColumnTransformer picks columns by name)."""
    if names is None:
        return points
    import pandas as pd

    return pd.DataFrame(points, columns=names)


def to_model_space(pre, X):
    return X if pre is None else np.asarray(pre.transform(X), dtype=np.float64)


def to_data_space(pre, points):
    """Map points of the estimator's input space back to the data's space (None if impossible)."""
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if pre is None:
        return points
    try:
        return np.asarray(pre.inverse_transform(points), dtype=np.float64)
    except (AttributeError, NotImplementedError):
        return None


def preactivation(final, Z, layer, unit):
    """Pre-activation of hidden unit ``unit`` of ``layer`` at the rows of ``Z`` (model space)."""
    coefs, intercepts = final.coefs_, final.intercepts_
    h = Z
    for w, b in zip(coefs[:layer], intercepts[:layer]):
        h = np.maximum(h @ w + b, 0.0)
    return h @ coefs[layer][:, unit] + intercepts[layer][unit]


def fold_events(estimator, which=True):
    """Growth records of the units of the final network that were folded on an instance.

    Parameters
    ----------
    estimator : fitted FoldGrow estimator or Pipeline ending in one
    which : bool or "last", default=True
        ``True``: every such unit; ``"last"``: only the units of the latest growth step;
        ``False``: none.

    Returns
    -------
    events : list of dict
        The latest ``growth_history_`` record of each ``(layer, unit)`` still in the network
        that has a typical instance ``x_t``, in growth order.
    """
    _, final = split_pipeline(estimator)
    if which is False or not hasattr(final, "growth_history_"):
        return []
    sizes = final.hidden_layer_sizes_
    latest = {}
    for event in final.growth_history_:
        layer, unit = event.get("layer"), event.get("unit")
        if (event.get("kind") == "widen" and unit is not None and event.get("x_t") is not None
                and layer < len(sizes) and unit < sizes[layer]):
            latest[(layer, unit)] = event
    events = sorted(latest.values(), key=lambda e: (e["growth"], e["unit"]))
    if which == "last" and events:
        last = max(e["growth"] for e in events)
        events = [e for e in events if e["growth"] == last]
    return events


def fold_id(event):
    """Artist id of a fold's marks: ``"x_t layer 0 unit 3"``, ``"hyperplane layer 0 unit 3"``."""
    return f"layer {event['layer']} unit {event['unit']}"


def fold_label(event):
    name = f"unit {event['unit']}"
    if event["layer"]:
        name += f" of layer {event['layer']}"
    return f"{name} (growth {event['growth']})"


def grid_over(X, extra_points, resolution):
    points = X if extra_points is None or len(extra_points) == 0 else np.vstack(
        [X, extra_points])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.06 * np.maximum(high - low, 1e-9)
    low, high = low - pad, high + pad
    xs = np.linspace(low[0], high[0], resolution)
    ys = np.linspace(low[1], high[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])
