"""A 2-D classifier's decision regions, with the typical instance, fold point and hyperplane of
each unit grown by folding."""

from __future__ import annotations

import warnings

import numpy as np

from ..schedule import growth_paid
from ._common import (
    FOLD_COLORS,
    as_fitted,
    check_2d,
    fold_events,
    fold_id,
    fold_label,
    grid_over,
    input_names,
    preactivation,
    pyplot,
    split_pipeline,
    to_data_space,
    to_model_space,
)


def plot_decision_boundary(estimator, X, y, ax=None, show_folds=True, *, grid_resolution=200,
                           legend=True):
    """Decision regions of a 2-D classifier, with the typical instance, fold point and
    hyperplane of each unit grown by folding.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline ending in one
        Folds are drawn only for skfold estimators; any classifier's regions can be drawn.
    X : array-like of shape (n_samples, 2)
        Points to scatter, in the data's space (before the pipeline's preprocessing). An
        estimator fitted on a DataFrame is given its grid as a DataFrame of those columns
        (a ``ColumnTransformer`` may pick them by name), whose names label the axes.
    y : array-like of shape (n_samples,)
        Their labels.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    show_folds : bool or "last", default=True
        Draw, for every unit born from a fold (``"last"``: only the latest growth step's), its
        typical instance ``x_t`` (star), fold point ``x_f`` (cross), the arrow ``x_t -> x_f`` and
        the unit's hyperplane (dashed: the zero line of its pre-activation with the current
        weights; right after :meth:`~skfold.FoldGrowClassifier.grow` it passes through
        ``x_f``). ``x_t`` is the side where the unit is active. For a unit whose hyperplane went
        behind ``x_t`` instead (``growth_history_``'s ``fallback``, see
        :meth:`~skfold.FoldGrowClassifier.explain_unit`), the cross is the point it passes
        through. A fold whose growth did not pay (``growth_history_``'s ``paid`` is False:
        the loss did not fall by its ``gain_needed``) has hollow markers and a dotted
        hyperplane; one whose growth is not judged yet (``paid`` is None: right after
        :meth:`~skfold.FoldGrowClassifier.grow`, or while its training phase goes on between
        ``partial_fit`` calls) has grey markers and a dash-dot hyperplane; the legend says so.
    grid_resolution : int, default=200
        Grid points per axis.
    legend : bool, default=True
        Add a legend (outside the axes, on the right, when folds are drawn).

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = pyplot()
    pre, final = split_pipeline(estimator)
    names = input_names(estimator)
    X = check_2d(X, 2, "plot_decision_boundary")
    y = np.asarray(y)
    if not hasattr(final, "classes_"):
        raise TypeError(f"plot_decision_boundary needs a classifier; got {type(final).__name__}."
                        " For a regressor on one feature use plot_regression_fit.")
    events = fold_events(estimator, show_folds)
    own_figure = ax is None
    if own_figure:  # wider with folds: their legend sits on the right
        _, ax = plt.subplots(figsize=(8.4 if events and legend else 6.4, 4.8),
                             layout="constrained")
    marks = _fold_marks(pre, events)
    extra = [m[1] for m in marks] + [m[2] for m in marks if m[2] is not None]
    xx, yy, grid = grid_over(X, np.array(extra) if extra else None, grid_resolution)
    grid = as_fitted(grid, names)  # as the estimator was fitted: a DataFrame of its columns
    _draw_regions(ax, plt, estimator, final.classes_, X, y, xx, yy, grid)
    _draw_folds(ax, final, marks, xx, yy, to_model_space(pre, grid))
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_xlabel(names[0] if names is not None else "$x_0$")
    ax.set_ylabel(names[1] if names is not None else "$x_1$")
    if legend:
        _legend(ax, marks, own_figure)
    return ax


def _fold_marks(pre, events):
    """``(event, x_t, x_f)`` of each fold in the data's space (none without an inverse)."""
    marks = []
    for event in events:
        x_t = to_data_space(pre, event["x_t"])
        x_f = None if event.get("x_f") is None else to_data_space(pre, event["x_f"])
        if x_t is None:
            warnings.warn("The pipeline's preprocessing has no inverse_transform: typical "
                          "instances and fold points are not drawn.", UserWarning, stacklevel=3)
            return []
        marks.append((event, x_t[0], None if x_f is None else x_f[0]))
    return marks


def _class_colors(plt, classes):
    class_cmap = plt.get_cmap("RdBu_r" if len(classes) == 2 else "tab10")
    if len(classes) == 2:
        return [class_cmap(0.15), class_cmap(0.85)]
    return [class_cmap(i % 10) for i in range(len(classes))]


def _draw_regions(ax, plt, estimator, classes, X, y, xx, yy, grid):
    """The predicted regions (binary: the probability), the boundary and the data."""
    class_colors = _class_colors(plt, classes)
    if len(classes) == 2:
        proba = estimator.predict_proba(grid)[:, 1].reshape(xx.shape)
        ax.contourf(xx, yy, proba, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35,
                    vmin=-0.1, vmax=1.1)
        ax.contour(xx, yy, proba, levels=[0.5], colors="k", linewidths=1.6)
    else:
        pred = np.searchsorted(classes, estimator.predict(grid)).reshape(xx.shape)
        levels = np.arange(len(classes) + 1) - 0.5
        ax.contourf(xx, yy, pred, levels=levels, colors=class_colors, alpha=0.3)
        ax.contour(xx, yy, pred, levels=levels[1:-1], colors="k", linewidths=1.2)
    for i, label in enumerate(classes):
        member = y == label
        ax.scatter(X[member, 0], X[member, 1], s=12, color=class_colors[i], edgecolors="white",
                   linewidths=0.3, label=f"class {label}", zorder=2)


#: How a fold is drawn by whether its growth paid (``growth_history_``'s ``paid``): its
#: ``x_t``/``x_f`` markers' face (None: the fold's colour), the hyperplane's line style and
#: the legend's words. A growth still pending (None) has not been judged yet.
PAID_STYLES = {
    True: (None, "--", None),
    False: ("none", ":", "growth that did not pay (hollow, dotted)"),
    None: ("0.85", "-.", "growth not judged yet (grey, dash-dot)"),
}


def _draw_folds(ax, final, marks, xx, yy, Z):
    """Each fold's hyperplane (over the grid ``Z`` in the model's space), ``x_t`` and ``x_f``;
    the style says whether its growth paid (:data:`PAID_STYLES`)."""
    for i, (event, x_t, x_f) in enumerate(marks):
        color = FOLD_COLORS[i % len(FOLD_COLORS)]
        face, line, _ = PAID_STYLES[growth_paid(event)]
        # a hollow marker keeps the fold's colour on its edge, and a thicker one
        edge, width = ("k", 0.8) if face is None else (color, 1.8)
        z = preactivation(final, Z, event["layer"], event["unit"]).reshape(xx.shape)
        name = fold_id(event)
        if z.min() < 0 < z.max():
            ax.contour(xx, yy, z, levels=[0.0], colors=[color], linewidths=2.0,
                       linestyles=line, zorder=3).set_gid(f"hyperplane {name}")
        ax.scatter(*x_t, marker="*", s=200, facecolors=face or color, edgecolors=edge,
                   linewidths=width, zorder=5, gid=f"x_t {name}")
        if x_f is not None:  # drawn over x_t: the two are often close
            ax.annotate("", xy=x_f, xytext=x_t, zorder=4,
                        arrowprops=dict(arrowstyle="->", color=color, lw=1.5))
            ax.scatter(*x_f, marker="X", s=60, facecolors=face or color, edgecolors=edge,
                       linewidths=width, zorder=6, gid=f"x_f {name}")


def _legend(ax, marks, own_figure):
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="k", lw=1.6))
    labels.append("decision boundary")
    if not marks:
        ax.legend(handles, labels, loc="best", fontsize="small", framealpha=0.8)
        return
    # filled, as the marks of a growth that paid are (in their fold's colour)
    handles += [Line2D([], [], ls="", marker="*", ms=13, mfc="0.45", mec="k"),
                Line2D([], [], ls="", marker="X", ms=8, mfc="0.45", mec="k")]
    labels += ["typical instance $x_t$", "fold point $x_f$"]
    for paid in (False, None):
        face, line, words = PAID_STYLES[paid]
        if any(growth_paid(event) is paid for event, _, _ in marks):
            handles.append(Line2D([], [], ls=line, lw=1.5, color="0.3", marker="*", ms=13,
                                  mfc=face, mec="0.3", mew=1.5))
            labels.append(words)
    for i, (event, _, _) in enumerate(marks):
        handles.append(Line2D([], [], color=FOLD_COLORS[i % len(FOLD_COLORS)], lw=2,
                              ls=PAID_STYLES[growth_paid(event)][1]))
        labels.append(fold_label(event))
    where = (dict(loc="outside right upper") if own_figure
             else dict(loc="upper left", bbox_to_anchor=(1.01, 1.0)))
    (ax.figure if own_figure else ax).legend(handles, labels, fontsize="small", frameon=False,
                                             **where)
