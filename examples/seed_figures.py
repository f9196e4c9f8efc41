"""The seed slides' figures: each growth folds the decision boundary at a typical mistake.

On the slides' two tasks, Sine and Overlap quadratic (``skfold.datasets``), the slides' 2-2-2
network is trained (``linear_seed=False, early_stopping=False``: no direct input-to-output
connection, no held-out rows; the defaults would start these 400 rows from the linear
model), then grown one unit at a time: the steps ``fit`` takes with
``growth_schedule="plateau"``, taken by hand (``grow`` then a warm-started ``fit``) so that
every stage can be drawn. Panel k shows the network trained after k growths, and the next
growth: its typical mis-predicted instance ``x_t`` (star), the fold point ``x_f`` (cross) on the
decision boundary of ``x_t``'s linear segment, and the hyperplane of the unit born there
(dashed; active on ``x_t``'s side). The new unit's outgoing weights are zero, so the boundary is
exactly the same just before and just after it is added; the next panel shows what training
made of it.

Writes ``seed_sine.png``, ``seed_overlap_quadratic.png`` and ``fold.png`` (the README's
picture, ``docs/fold.png``: the growth that helped most, before and after) into the directory
given as the first argument, else ``$SKFOLD_EXAMPLES_OUTPUT``, else ``examples/output/``.
``SKFOLD_QUICK=1`` makes a fast, smaller run.

    python examples/seed_figures.py
"""

import copy
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from skfold import FoldGrowClassifier  # noqa: E402
from skfold.datasets import make_overlap_quadratic, make_sine  # noqa: E402
from skfold.plotting import FOLD_COLORS, plot_decision_boundary  # noqa: E402

QUICK = os.environ.get("SKFOLD_QUICK") == "1"
N_SAMPLES = 200 if QUICK else 400
N_GROWTHS = 2 if QUICK else 5
TASKS = {"sine": make_sine, "overlap_quadratic": make_overlap_quadratic}


def output_dir():
    default = os.environ.get("SKFOLD_EXAMPLES_OUTPUT", Path(__file__).resolve().parent / "output")
    out = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    out.mkdir(parents=True, exist_ok=True)
    return out


def architecture(est):
    return "-".join(map(str, [est.n_features_in_, *est.hidden_layer_sizes_, est.n_outputs_]))


def grow_step_by_step(X, y, n_growths):
    """Train a 2-2-2 network, then alternate grow / train; return every stage.

    Stage k is ``(trained, grown, accuracy)``: copies of the network trained after k growths
    and of the same network right after growth k + 1 (the same function, one more unit; None
    for the last stage), and the training accuracy of both.
    """
    est = FoldGrowClassifier(hidden_units=2, growth_schedule="none", warm_start=True,
                             linear_seed=False, early_stopping=False,
                             max_iter=300 if QUICK else 1000, random_state=0)
    est.fit(X, y)
    stages = []
    for _ in range(n_growths + 1):
        trained, accuracy = copy.deepcopy(est), est.score(X, y)
        grown = None
        if len(stages) < n_growths:
            est.grow(X, y)
            if est.growth_history_[-1].get("unit") is not None:  # else nothing left to fold
                grown = copy.deepcopy(est)
        stages.append((trained, grown, accuracy))
        if grown is None:
            return stages
        est.fit(X, y)
    return stages


def figure_legend(fig, classes, after=False, **kwargs):
    cmap = plt.get_cmap("RdBu_r")
    handles = [Line2D([], [], ls="", marker="o", color=cmap(0.15 + 0.7 * i), ms=5)
               for i in range(len(classes))]
    # as plot_decision_boundary draws a fold: grey-faced and dash-dot right after the growth,
    # before training has judged it; filled and dashed once it paid
    handles += [Line2D([], [], color="k", lw=1.6),
                Line2D([], [], ls="-.", lw=2, color=FOLD_COLORS[0], marker="*", ms=13,
                       mfc="0.85", mec=FOLD_COLORS[0], mew=1.5),
                Line2D([], [], ls="", marker="X", ms=8, mfc="0.85", mec=FOLD_COLORS[0],
                       mew=1.5)]
    labels = [f"class {c}" for c in classes] + [
        "decision boundary", "$x_t$ and the new unit's hyperplane", "fold point $x_f$"]
    if after:
        handles.append(Line2D([], [], ls="--", lw=2, color=FOLD_COLORS[0], marker="*", ms=13,
                              mfc=FOLD_COLORS[0], mec="k"))
        labels.append("the same unit after training (its growth paid)")
    fig.legend(handles, labels, frameon=False, **kwargs)


def panel(ax, trained, grown, accuracy, X, y):
    title = f"{architecture(trained)} trained, accuracy {accuracy:.3f}"
    if grown is None:
        plot_decision_boundary(trained, X, y, ax=ax, show_folds=False, legend=False)
        ax.set_title(title.replace(", ", "\n"), fontsize=10)
    else:
        plot_decision_boundary(grown, X, y, ax=ax, show_folds="last", legend=False)
        unit = grown.growth_history_[-1]["unit"]
        ax.set_title(f"{title}\nfold: add unit {unit}", fontsize=10)


def task_figure(name, make, out):
    X, y = make(N_SAMPLES, random_state=0)
    stages = grow_step_by_step(X, y, N_GROWTHS)
    n = len(stages)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.3 * rows + 0.6),
                             layout="constrained", squeeze=False)
    for ax, (trained, grown, accuracy) in zip(axes.flat, stages):
        panel(ax, trained, grown, accuracy, X, y)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(f"Growing by folding on the slides' {name.replace('_', ' ')} task")
    figure_legend(fig, stages[0][0].classes_, loc="outside lower center", ncols=5)
    fig.savefig(out / f"seed_{name}.png", dpi=90)
    plt.close(fig)
    return X, y, stages


def readme_figure(X, y, stages, out):
    """The growth that raised training accuracy most: before (with its fold) and after."""
    gains = [stages[k + 1][2] - stages[k][2] for k in range(len(stages) - 1)]
    k = max(range(len(gains)), key=gains.__getitem__)
    (_, before, acc_before), (after, _, acc_after) = stages[k], stages[k + 1]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(8.4, 3.9), layout="constrained")
    plot_decision_boundary(before, X, y, ax=ax0, show_folds="last", legend=False)
    ax0.set_title(f"before: accuracy {acc_before:.3f}; fold on $x_t$,\nnew unit's hyperplane "
                  "through $x_f$", fontsize=10)
    plot_decision_boundary(after, X, y, ax=ax1, show_folds="last", legend=False)
    ax1.set_title(f"after training: accuracy {acc_after:.3f};\nthe new unit bent the boundary",
                  fontsize=10)
    fig.suptitle(f"The sine task: one growth by folding, {architecture(stages[k][0])} to "
                 f"{architecture(after)}", fontsize="medium")
    figure_legend(fig, before.classes_, after=True, loc="outside lower center", ncols=3,
                  fontsize="small")
    fig.savefig(out / "fold.png", dpi=100)
    plt.close(fig)


def main():
    out = output_dir()
    for name, make in TASKS.items():
        X, y, stages = task_figure(name, make, out)
        accuracies = " -> ".join(f"{acc:.3f}" for _, _, acc in stages)
        print(f"{name}: training accuracy {accuracies} ({architecture(stages[-1][0])})")
        if name == "sine":
            readme_figure(X, y, stages, out)
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
