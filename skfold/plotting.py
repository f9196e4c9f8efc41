"""Figures of a grown network: its folds on a 2-D decision boundary, its growth, a 1-D fit.

matplotlib is optional: ``pip install "skfold[plot]"``. Every function accepts a fitted
:class:`~skfold.FoldGrowClassifier` / :class:`~skfold.FoldGrowRegressor` or a fitted
:class:`~sklearn.pipeline.Pipeline` ending in one. Fold points and typical instances are
recorded in the estimator's own input space (after the pipeline's preprocessing); they are
mapped back to the data's space with the preprocessing's ``inverse_transform``, and a unit's
hyperplane is drawn as the zero line of its pre-activation over the plotted grid, so it appears
where it really is in the data's space, bent by the layers below it if it is a deep unit.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .schedule import growth_paid

#: Colours of the folds, in growth order (dark enough to read over the class shading).
FOLD_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
               "#666666")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching the import
        raise ImportError(
            "skfold.plotting needs matplotlib, an optional dependency. Install it with "
            "`python -m pip install \"skfold[plot]\"` (or `python -m pip install matplotlib`)."
        ) from exc
    return plt


def _split(estimator):
    """``(preprocessing or None, final estimator)`` of an estimator or a pipeline."""
    if hasattr(estimator, "steps"):
        final = estimator.steps[-1][1]
        pre = estimator[:-1] if len(estimator.steps) > 1 else None
    else:
        final, pre = estimator, None
    check_is_fitted(final)
    return pre, final


def _check_2d(X, n_dims, func):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_dims:
        raise ValueError(f"{func} draws data with exactly {n_dims} feature(s); X has shape "
                         f"{X.shape}. Project the data first (e.g. keep two features).")
    return X


def _to_model_space(pre, X):
    return X if pre is None else np.asarray(pre.transform(X), dtype=np.float64)


def _to_data_space(pre, points):
    """Map points of the estimator's input space back to the data's space (None if impossible)."""
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if pre is None:
        return points
    try:
        return np.asarray(pre.inverse_transform(points), dtype=np.float64)
    except (AttributeError, NotImplementedError):
        return None


def _preactivation(final, Z, layer, unit):
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
    _, final = _split(estimator)
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


def _gid(event):
    """Artist id of a fold's marks: ``"x_t layer 0 unit 3"``, ``"hyperplane layer 0 unit 3"``."""
    return f"layer {event['layer']} unit {event['unit']}"


def _fold_label(event):
    name = f"unit {event['unit']}"
    if event["layer"]:
        name += f" of layer {event['layer']}"
    return f"{name} (growth {event['growth']})"


def _grid(X, extra_points, resolution):
    points = X if extra_points is None or len(extra_points) == 0 else np.vstack(
        [X, extra_points])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.06 * np.maximum(high - low, 1e-9)
    low, high = low - pad, high + pad
    xs = np.linspace(low[0], high[0], resolution)
    ys = np.linspace(low[1], high[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def plot_decision_boundary(estimator, X, y, ax=None, show_folds=True, *, grid_resolution=200,
                           legend=True):
    """Decision regions of a 2-D classifier, with the typical instance, fold point and
    hyperplane of each unit grown by folding.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline ending in one
        Folds are drawn only for skfold estimators; any classifier's regions can be drawn.
    X : array-like of shape (n_samples, 2)
        Points to scatter, in the data's space (before the pipeline's preprocessing).
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
        through.
    grid_resolution : int, default=200
        Grid points per axis.
    legend : bool, default=True
        Add a legend (outside the axes, on the right, when folds are drawn).

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D

    pre, final = _split(estimator)
    X = _check_2d(X, 2, "plot_decision_boundary")
    y = np.asarray(y)
    if not hasattr(final, "classes_"):
        raise TypeError(f"plot_decision_boundary needs a classifier; got {type(final).__name__}."
                        " For a regressor on one feature use plot_regression_fit.")
    events = fold_events(estimator, show_folds)
    own_figure = ax is None
    if own_figure:  # wider with folds: their legend sits on the right
        _, ax = plt.subplots(figsize=(8.4 if events and legend else 6.4, 4.8),
                             layout="constrained")

    marks = []
    for event in events:
        x_t = _to_data_space(pre, event["x_t"])
        x_f = None if event.get("x_f") is None else _to_data_space(pre, event["x_f"])
        if x_t is None:
            warnings.warn("The pipeline's preprocessing has no inverse_transform: typical "
                          "instances and fold points are not drawn.", UserWarning, stacklevel=2)
            marks = []
            break
        marks.append((event, x_t[0], None if x_f is None else x_f[0]))
    extra = [m[1] for m in marks] + [m[2] for m in marks if m[2] is not None]
    xx, yy, grid = _grid(X, np.array(extra) if extra else None, grid_resolution)

    classes = final.classes_
    class_cmap = plt.get_cmap("RdBu_r" if len(classes) == 2 else "tab10")
    class_colors = ([class_cmap(0.15), class_cmap(0.85)] if len(classes) == 2
                    else [class_cmap(i % 10) for i in range(len(classes))])
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

    Z = _to_model_space(pre, grid)
    for i, (event, x_t, x_f) in enumerate(marks):
        color = FOLD_COLORS[i % len(FOLD_COLORS)]
        z = _preactivation(final, Z, event["layer"], event["unit"]).reshape(xx.shape)
        gid = _gid(event)
        if z.min() < 0 < z.max():
            ax.contour(xx, yy, z, levels=[0.0], colors=[color], linewidths=2.0,
                       linestyles="--", zorder=3).set_gid(f"hyperplane {gid}")
        ax.scatter(*x_t, marker="*", s=200, color=color, edgecolors="k", linewidths=0.8,
                   zorder=5, gid=f"x_t {gid}")
        if x_f is not None:  # drawn over x_t: the two are often close
            ax.annotate("", xy=x_f, xytext=x_t, zorder=4,
                        arrowprops=dict(arrowstyle="->", color=color, lw=1.5))
            ax.scatter(*x_f, marker="X", s=60, color=color, edgecolors="k", linewidths=0.8,
                       zorder=6, gid=f"x_f {gid}")

    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    names = getattr(final, "feature_names_in_", None)
    ax.set_xlabel(str(names[0]) if names is not None and pre is None else "$x_0$")
    ax.set_ylabel(str(names[1]) if names is not None and pre is None else "$x_1$")
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color="k", lw=1.6))
        labels.append("decision boundary")
        if marks:
            handles += [Line2D([], [], ls="", marker="*", ms=13, mfc="w", mec="k"),
                        Line2D([], [], ls="", marker="X", ms=8, mfc="w", mec="k")]
            labels += ["typical instance $x_t$", "fold point $x_f$"]
            for i, (event, _, _) in enumerate(marks):
                handles.append(Line2D([], [], color=FOLD_COLORS[i % len(FOLD_COLORS)], lw=2,
                                      ls="--"))
                labels.append(_fold_label(event))
            where = (dict(loc="outside right upper") if own_figure
                     else dict(loc="upper left", bbox_to_anchor=(1.01, 1.0)))
            (ax.figure if own_figure else ax).legend(handles, labels, fontsize="small",
                                                     frameon=False, **where)
        else:
            ax.legend(handles, labels, loc="best", fontsize="small", framealpha=0.8)
    return ax


def _units_timeline(final):
    """``(epochs, total hidden units)`` steps: the seed width, then the width after each growth."""
    history = [e for e in final.growth_history_ if e.get("hidden_layer_sizes") is not None]
    start = sum(final.hidden_layer_sizes_)
    if history:
        first = [e for e in history if e["growth"] == history[0]["growth"]]
        added = sum(1 if e.get("unit") is not None else e.get("width") or 0 for e in first)
        start = sum(first[0]["hidden_layer_sizes"]) - added
    epochs, units = [0], [start]
    for event in history:
        total = sum(event["hidden_layer_sizes"])
        if epochs[-1] == event["epoch"]:
            units[-1] = total
        else:
            epochs.append(event["epoch"])
            units.append(total)
    epochs.append(max(final.n_iter_, epochs[-1]))
    units.append(units[-1])
    return np.array(epochs), np.array(units)


def plot_growth(estimator, axes=None):
    """Training loss with every growth marked, and the number of hidden units over epochs.

    A growth's marker is hollow when the growth did not pay (the loss fell by less than its
    ``gain_needed``, see ``min_growth_gain``).

    Parameters
    ----------
    estimator : fitted FoldGrow estimator or Pipeline ending in one
    axes : sequence of two matplotlib Axes, default=None
        Where to draw the loss and the units; a new figure when None.

    Returns
    -------
    axes : tuple of two matplotlib Axes
    """
    plt = _pyplot()
    _, final = _split(estimator)
    if not hasattr(final, "growth_history_"):
        raise TypeError(f"plot_growth needs a FoldGrowClassifier or FoldGrowRegressor; got "
                        f"{type(final).__name__}.")
    if axes is None:
        _, axes = plt.subplots(2, 1, sharex=True, figsize=(7, 5), height_ratios=(2, 1),
                               layout="constrained")
    ax_loss, ax_units = axes
    loss = np.asarray(final.loss_curve_, dtype=np.float64)
    epochs = np.arange(1, len(loss) + 1)
    ax_loss.plot(epochs, loss, color="C0", lw=1.5, label="training loss")
    if np.all(loss > 0):
        ax_loss.set_yscale("log")

    growths = {}
    for event in final.growth_history_:
        if event.get("unit") is not None or event.get("kind") == "deepen":
            growths.setdefault(event["growth"], event)
    labelled = set()
    for event in growths.values():
        epoch = event["epoch"]
        ax_loss.axvline(epoch, color="C3", lw=0.8, ls=":", alpha=0.8)
        if 1 <= epoch <= len(loss):
            # hollow: the loss did not fall by the gain the growth needed (min_growth_gain)
            paid = growth_paid(event) is not False
            label = "growth" if paid else "growth that did not pay"
            ax_loss.plot(epoch, loss[epoch - 1], "v", color="C3", ms=7,
                         markerfacecolor="C3" if paid else "none",
                         label=None if label in labelled else label,
                         gid=f"growth {event['growth']}")
            labelled.add(label)
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="upper right", frameon=False)
    n_units = sum(final.hidden_layer_sizes_)
    ax_loss.set_title(f"{len(growths)} growths; final network "
                      + "-".join(map(str, [final.n_features_in_, *final.hidden_layer_sizes_,
                                           final.n_outputs_])), fontsize="medium")

    steps_x, steps_u = _units_timeline(final)
    ax_units.step(steps_x, steps_u, where="post", color="C2", lw=1.8, label="hidden units")
    if n_units != steps_u[-1]:
        ax_units.axhline(n_units, color="k", ls="--", lw=1,
                         label=f"kept (best network): {n_units}")
        ax_units.legend(loc="lower right", frameon=False, fontsize="small")
    ax_units.set_ylabel("hidden units")
    ax_units.set_xlabel("epoch" if final._solver != "lbfgs" else "epoch (L-BFGS iteration)")
    ax_units.yaxis.get_major_locator().set_params(integer=True)
    return ax_loss, ax_units


def plot_regression_fit(estimator, X, y, ax=None, show_folds=True, *, n_points=500,
                        legend=True, label="fit", color="C0"):
    """A one-feature, one-target regressor's fit, with the kink each folded unit puts in it.

    Parameters
    ----------
    estimator : fitted regressor or Pipeline ending in one
    X : array-like of shape (n_samples, 1)
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
    plt = _pyplot()
    pre, final = _split(estimator)
    X = _check_2d(X, 1, "plot_regression_fit")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim > 1 and y.shape[1] != 1:
        raise ValueError(f"plot_regression_fit draws one target; y has shape {y.shape}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    events = fold_events(estimator, show_folds)
    xs = np.linspace(X.min(), X.max(), n_points)[:, None]
    ax.scatter(X[:, 0], y.ravel(), s=8, color="0.6", label="data", zorder=1)
    ax.plot(xs[:, 0], np.ravel(estimator.predict(xs)), color=color, lw=2, label=label, zorder=2)
    Zs = _to_model_space(pre, xs)
    for i, event in enumerate(events):
        fold_color = FOLD_COLORS[i % len(FOLD_COLORS)]
        z = _preactivation(final, Zs, event["layer"], event["unit"])
        for j in np.flatnonzero(np.diff(np.sign(z)) != 0):
            # linear interpolation of the zero crossing between two curve points
            x0 = xs[j, 0] - z[j] * (xs[j + 1, 0] - xs[j, 0]) / (z[j + 1] - z[j])
            ax.axvline(x0, color=fold_color, ls="--", lw=1.3, zorder=1,
                       gid=f"kink {_gid(event)}")
        x_t = _to_data_space(pre, event["x_t"])
        if x_t is None:
            continue
        y_t = np.ravel(event["true"])[0]
        ax.scatter(x_t[0, 0], y_t, marker="*", s=200, color=fold_color, edgecolors="k",
                   linewidths=0.8, zorder=4, label=f"$x_t$ of {_fold_label(event)}",
                   gid=f"x_t {_gid(event)}")
        if event.get("x_f") is not None:
            x_f = _to_data_space(pre, event["x_f"])[0, 0]
            ax.scatter(x_f, np.ravel(estimator.predict([[x_f]]))[0], marker="X", s=70,
                       color=fold_color, edgecolors="k", linewidths=0.8, zorder=4,
                       gid=f"x_f {_gid(event)}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if legend:
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return ax
