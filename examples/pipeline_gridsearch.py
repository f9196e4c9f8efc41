"""Tune growth and search settings with ``Pipeline`` + ``GridSearchCV``.

A ``FoldGrowClassifier`` is an ordinary scikit-learn estimator: it goes in a ``Pipeline``
behind a scaler and ``GridSearchCV`` clones, fits and scores it like any other. The grid here
crosses a growth setting (how large the network may grow, ``max_hidden_units``) with search
settings (how the new unit is initialised, ``init``, and, for the folding init, how the typical
instance is picked, ``instance_selection``). ``cv_results_`` is printed as a table; ``gridsearch.png`` shows the
cross-validated accuracy of every candidate and the best model's decision boundary.

``distributed_search.py`` runs this same search on a Dask cluster.

Figures go into the directory given as the first argument, else ``$SKFOLD_EXAMPLES_OUTPUT``,
else ``examples/output/``. ``SKFOLD_QUICK=1`` makes a fast, smaller run.

    python examples/pipeline_gridsearch.py
"""

import os
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import make_moons
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skfold import FoldGrowClassifier

QUICK = os.environ.get("SKFOLD_QUICK") == "1"
SCORE_COLUMNS = ["mean_test_score", "std_test_score", "rank_test_score", "mean_fit_time"]


def output_dir():
    default = os.environ.get("SKFOLD_EXAMPLES_OUTPUT", Path(__file__).resolve().parent / "output")
    out = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    out.mkdir(parents=True, exist_ok=True)
    return out


def make_data(quick=QUICK):
    """Noisy two moons, split into a training and a test set."""
    X, y = make_moons(n_samples=300 if quick else 800, noise=0.25, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def make_search(quick=QUICK, n_jobs=None):
    """The grid search: scaler + FoldGrowClassifier, growth x search settings, seeded."""
    pipe = Pipeline([("scale", StandardScaler()),
                     ("clf", FoldGrowClassifier(random_state=0))])
    if quick:
        grid = {"clf__max_hidden_units": [3, 12], "clf__init": ["fold", "random"]}
    else:
        # instance_selection only matters to the inits that fold on an instance
        sizes = [4, 8, 16]
        grid = [{"clf__max_hidden_units": sizes, "clf__init": ["fold"],
                 "clf__instance_selection": ["kmeans", "max_loss"]},
                {"clf__max_hidden_units": sizes, "clf__init": ["gradmax", "random"]}]
    cv = StratifiedKFold(n_splits=2 if quick else 3, shuffle=True, random_state=0)
    return GridSearchCV(pipe, grid, cv=cv, n_jobs=n_jobs)


def results_table(search):
    """``cv_results_`` as a DataFrame, best candidate first."""
    import pandas as pd

    results = pd.DataFrame(search.cv_results_)
    params = [c for c in results.columns if c.startswith("param_")]
    table = results[params + SCORE_COLUMNS].sort_values("rank_test_score")
    for column in params:  # "-": not part of this candidate's grid
        table[column] = table[column].astype(object).where(table[column].notna(), "-")
    return table.rename(columns={c: c.removeprefix("param_clf__") for c in params})


def save_figure(search, X_test, y_test, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skfold.plotting import plot_decision_boundary

    table = results_table(search)
    params = list(table.columns[:-len(SCORE_COLUMNS)])
    names = [", ".join(str(v) for v in row if v != "-") for row in table[params].values]
    fig, (ax_bar, ax_best) = plt.subplots(1, 2, figsize=(12, 4.6), width_ratios=(1, 1.1),
                                          layout="constrained")
    # a dot plot, not bars: a dot's position, not a bar's length, carries the score, so the
    # axis may start where the scores do; its label says where that is
    rows = np.arange(len(names))[::-1]
    ax_bar.errorbar(table["mean_test_score"], rows, xerr=table["std_test_score"], fmt="o",
                    color="C0", capsize=3)
    ax_bar.set_yticks(rows, names)
    low = max(0.0, table["mean_test_score"].min() - 2 * table["std_test_score"].max() - 0.02)
    ax_bar.set_xlim(low, 1.0)
    ax_bar.grid(axis="x", alpha=0.3)
    ax_bar.set_xlabel(f"cross-validated accuracy (mean +- std); axis from {low:.2f} to 1")
    ax_bar.set_title(", ".join(params), fontsize="medium")
    ax_bar.tick_params(axis="y", labelsize="small")
    plot_decision_boundary(search.best_estimator_, X_test, y_test, ax=ax_best,
                           show_folds=False)
    ax_best.set_title(f"best model on the test set: accuracy "
                      f"{search.score(X_test, y_test):.3f}", fontsize="medium")
    fig.savefig(out / "gridsearch.png", dpi=90)
    plt.close(fig)


def main():
    X_train, X_test, y_train, y_test = make_data()
    import pandas as pd

    search = make_search().fit(X_train, y_train)

    with pd.option_context("display.width", 120, "display.precision", 3):
        print(results_table(search).to_string(index=False))
    print(f"\nbest parameters: {search.best_params_}")
    print(f"best cross-validated accuracy: {search.best_score_:.3f}, "
          f"test accuracy: {search.score(X_test, y_test):.3f}")
    save_figure(search, X_test, y_test, output_dir())


if __name__ == "__main__":
    main()
