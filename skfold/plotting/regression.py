"""A one-feature regressor's fit, with the kink each folded unit puts in it."""

from __future__ import annotations

import numpy as np

from ._common import (
    FOLD_COLORS,
    as_fitted,
    check_2d,
    fold_events,
    fold_id,
    fold_label,
    input_names,
    preactivation,
    pyplot,
    split_pipeline,
    to_data_space,
    to_model_space,
)


def plot_regression_fit(estimator, X, y, ax=None, show_folds=True, *, n_points=500,
                        legend=True, label="fit", color="C0"):
    """A one-feature, one-target regressor's fit, with the kink each folded unit puts in it.

    Parameters
    ----------
    estimator : fitted regressor or Pipeline ending in one
    X : array-like of shape (n_samples, 1)
        In the data's space; fitted on a DataFrame, the estimator is given its curve's points
        as one of that column, whose name labels the axis.
    y : array-like of shape (n_samples,)
    ax : matplotlib Axes, default=None
    show_folds : bool or "last", default=True
        Draw, for every unit born from a fold (``"last"``: the latest growth's), the typical
        instance ``(x_t, y_t)`` (star), the fold point ``x_f`` on the fit (cross; for a unit
        whose kink went behind ``x_t`` instead, see ``growth_history_``'s ``fallback``, the
        point it passes through) and the unit's kink, where its pre-activation is zero with the
        current weights (dashed vertical line).
    n_points : int, default=500
        Points of the plotted curve.
    legend : bool, default=True
    label, color : str
        Legend label and colour of the fitted curve.

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = pyplot()
    pre, final = split_pipeline(estimator)
    names = input_names(estimator)
    X = check_2d(X, 1, "plot_regression_fit")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim > 1 and y.shape[1] != 1:
        raise ValueError(f"plot_regression_fit draws one target; y has shape {y.shape}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    events = fold_events(estimator, show_folds)
    xs = np.linspace(X.min(), X.max(), n_points)[:, None]
    ax.scatter(X[:, 0], y.ravel(), s=8, color="0.6", label="data", zorder=1)
    curve = as_fitted(xs, names)  # as the estimator was fitted: a DataFrame of its column
    ax.plot(xs[:, 0], np.ravel(estimator.predict(curve)), color=color, lw=2, label=label,
            zorder=2)
    Zs = to_model_space(pre, curve)
    for i, event in enumerate(events):
        fold_color = FOLD_COLORS[i % len(FOLD_COLORS)]
        z = preactivation(final, Zs, event["layer"], event["unit"])
        for j in np.flatnonzero(np.diff(np.sign(z)) != 0):
            # linear interpolation of the zero crossing between two curve points
            x0 = xs[j, 0] - z[j] * (xs[j + 1, 0] - xs[j, 0]) / (z[j + 1] - z[j])
            ax.axvline(x0, color=fold_color, ls="--", lw=1.3, zorder=1,
                       gid=f"kink {fold_id(event)}")
        x_t = to_data_space(pre, event["x_t"])
        if x_t is None:
            continue
        y_t = np.ravel(event["true"])[0]
        ax.scatter(x_t[0, 0], y_t, marker="*", s=200, color=fold_color, edgecolors="k",
                   linewidths=0.8, zorder=4, label=f"$x_t$ of {fold_label(event)}",
                   gid=f"x_t {fold_id(event)}")
        if event.get("x_f") is not None:
            x_f = to_data_space(pre, event["x_f"])[0, 0]
            y_f = np.ravel(estimator.predict(as_fitted([[x_f]], names)))[0]
            ax.scatter(x_f, y_f, marker="X", s=70,
                       color=fold_color, edgecolors="k", linewidths=0.8, zorder=4,
                       gid=f"x_f {fold_id(event)}")
    ax.set_xlabel(names[0] if names is not None else "x")
    ax.set_ylabel("y")
    if legend:
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return ax
