"""FoldGrowRegressor on a 1-D curve: each new unit puts one kink in the fit where it was wrong.

A ReLU network of one input is piecewise linear; every hidden unit can add one kink. Growing
by folding puts the kink of each new unit at the fold point ``x_f`` of a typical badly
predicted instance ``x_t``: the nearest point where ``x_t``'s linear piece would predict its
target. The network is trained with 2 units, then grown one unit at a time (``grow``, then a
warm-started ``fit``: the steps ``fit`` takes on its own, taken by hand to draw each stage).
A second figure shows the same estimator left to grow on its own (``growth_schedule="plateau"``).

Writes ``regression_stages.png`` and ``regression_growth.png`` into the directory given as the
first argument, else ``$SKFOLD_EXAMPLES_OUTPUT``, else ``examples/output/``. ``SKFOLD_QUICK=1``
makes a fast, smaller run.

    python examples/regression.py
"""

import copy
import os
import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skfold import FoldGrowRegressor  # noqa: E402
from skfold.plotting import plot_growth, plot_regression_fit  # noqa: E402

QUICK = os.environ.get("SKFOLD_QUICK") == "1"
N_GROWTHS = 2 if QUICK else 5


def output_dir():
    default = os.environ.get("SKFOLD_EXAMPLES_OUTPUT", Path(__file__).resolve().parent / "output")
    out = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    out.mkdir(parents=True, exist_ok=True)
    return out


def make_curve(n_samples, random_state=0):
    rng = np.random.RandomState(random_state)
    X = np.sort(rng.uniform(-3, 3, n_samples))[:, None]
    y = np.sin(1.5 * X[:, 0]) + 0.3 * X[:, 0] + rng.normal(scale=0.08, size=n_samples)
    return X, y


def stages_by_hand(X, y):
    """Copies of the regressor right after each growth, then the final trained one."""
    est = FoldGrowRegressor(hidden_units=2, growth_schedule="none", warm_start=True,
                            max_iter=300 if QUICK else 1000, random_state=0).fit(X, y)
    stages = []
    for _ in range(N_GROWTHS):
        r2 = est.score(X, y)
        est.grow(X, y)
        if est.growth_history_[-1].get("unit") is None:  # nothing left to fold on
            break
        stages.append((copy.deepcopy(est), r2))
        est.fit(X, y)
    stages.append((est, est.score(X, y)))
    return stages


def stages_figure(X, y, stages, out):
    n = len(stages)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.2 * rows), sharey=True,
                             layout="constrained", squeeze=False)
    for k, (ax, (est, r2)) in enumerate(zip(axes.flat, stages)):
        last = k == n - 1
        units = est.hidden_layer_sizes_[0] - (0 if last else 1)
        plot_regression_fit(est, X, y, ax=ax, show_folds=False if last else "last",
                            legend=False, label=f"{units} units")
        ax.set_title(f"{units} hidden units trained, $R^2$ = {r2:.3f}"
                     + ("" if last else f"\nfold: add unit {units}"), fontsize=10)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    labels = ["data", "fit", "typical instance $(x_t, y_t)$"]
    handles = handles[:3]
    handles.append(plt.Line2D([], [], ls="", marker="X", ms=8, mfc="#1b9e77", mec="k"))
    handles.append(plt.Line2D([], [], color="#1b9e77", ls="--"))
    labels += ["fold point $x_f$ on the fit", "new unit's kink (through $x_f$)"]
    fig.legend(handles, labels, loc="outside lower center", ncols=5, frameon=False)
    fig.suptitle("FoldGrowRegressor: where each new unit bends the fit")
    fig.savefig(out / "regression_stages.png", dpi=90)
    plt.close(fig)


def main():
    out = output_dir()
    X, y = make_curve(150 if QUICK else 300)
    stages = stages_by_hand(X, y)
    stages_figure(X, y, stages, out)
    print("grown by hand: R^2 " + " -> ".join(f"{r2:.3f}" for _, r2 in stages))

    reg = FoldGrowRegressor(max_hidden_units=8 if QUICK else 16, random_state=0).fit(X, y)
    print(f"grown on its own: R^2 = {reg.score(X, y):.3f} with {reg.hidden_layer_sizes_[0]} "
          f"hidden units after {reg.n_growths_} growths")
    fig, axes = plt.subplot_mosaic([["fit", "loss"], ["fit", "units"]], figsize=(11, 4.2),
                                   height_ratios=(2, 1), layout="constrained")
    plot_regression_fit(reg, X, y, ax=axes["fit"], show_folds=False)
    axes["fit"].set_title(f"growth_schedule='plateau': {reg.hidden_layer_sizes_[0]} units, "
                          f"$R^2$ = {reg.score(X, y):.3f}", fontsize=10)
    axes["loss"].sharex(axes["units"])
    plot_growth(reg, axes=(axes["loss"], axes["units"]))
    fig.savefig(out / "regression_growth.png", dpi=90)
    plt.close(fig)
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
