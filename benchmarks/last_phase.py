"""A regularised last phase (issue 24, "weight decay chosen per phase"): on the real-data suite.

Each table and fold (the suite's folds, ``real_data.py``): skfold with its defaults; then the
same fitted estimator given one more training phase at a larger L2 penalty, with growth over,
through public API only::

    est.fit(X, y)
    est.set_params(alpha=A, growth_schedule="none", warm_start=True).fit(X, y)

With held-out rows (``early_stopping="auto"``: 200 to 10,000 rows) the phase ends when the
held-out loss stops falling and the best network on them is kept, so a phase that does not pay
leaves the network as it was; below 200 rows it trains to convergence. Side by side: the
linear model and ``MLPClassifier``/``MLPRegressor(100)`` (Adam, scikit-learn's defaults).
``--quick``: two bundled tables, two folds, short fits; its numbers mean nothing.

    python benchmarks/last_phase.py [--quick] [--results-dir DIR]
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.compose import TransformedTargetRegressor

import _tables
from _common import final_estimator, markdown_table, mean_std, parse_args, report_header
from _common import single_threaded, standard_error, write_report
from real_data import QUICK, build, splits

#: The larger penalties of the last phase.
ALPHAS = (0.1, 1.0)
DEFAULTS = "skfold defaults"
FULL = dict(tables=None, max_folds=5, max_iter=None, grow_every=None)


def last_phase(model, X, y, alpha):
    """Give the fitted ``model`` its last phase at ``alpha`` on ``(X, y)``, in place."""
    final_estimator(model).set_params(alpha=alpha, growth_schedule="none", warm_start=True)
    if isinstance(model, TransformedTargetRegressor):  # its fit would clone the regressor
        y = model.transformer_.transform(np.asarray(y, dtype=float).reshape(-1, 1)).ravel()
        model = model.regressor_
    model.fit(X, y)


def last_phase_row(alpha):
    return f"+ last phase at alpha={alpha:g}"


def fit_table(table, cfg):
    """``{row: [score per fold]}`` of one table."""
    folds, X, y = splits(table, cfg)
    scores = {}
    with single_threaded(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for train, test in folds:
            def score(model):
                return float(model.score(X.iloc[test], y[test]))

            for row in ("linear", "MLP(100), adam"):
                model = _tables.prepared(build(row, table.task, y[train], 100, cfg, {}), X,
                                         table.task).fit(X.iloc[train], y[train])
                scores.setdefault(row, []).append(score(model))
            for alpha in (None, *ALPHAS):
                model = _tables.prepared(build(DEFAULTS, table.task, y[train], 2, cfg, {}), X,
                                         table.task).fit(X.iloc[train], y[train])
                if alpha is not None:
                    last_phase(model, X.iloc[train], y[train], alpha)
                row = DEFAULTS if alpha is None else last_phase_row(alpha)
                scores.setdefault(row, []).append(score(model))
    return table.name, scores


def summary(results):
    """Lines: each last phase against the defaults, over the tables."""
    lines = []
    for alpha in ALPHAS:
        gaps = np.array([np.mean(s[last_phase_row(alpha)]) - np.mean(s[DEFAULTS])
                         for s in results.values()])
        se = standard_error(gaps)
        lines.append(f"- {last_phase_row(alpha)} against the defaults: "
                     f"{100 * gaps.mean():+.2f} ± {100 * se:.2f} points (mean ± standard error "
                     f"over {len(gaps)} tables); {(gaps > 5e-4).sum()} up, "
                     f"{(gaps < -5e-4).sum()} down, {(abs(gaps) <= 5e-4).sum()} level")
    return lines


def main():
    args = parse_args(__doc__.splitlines()[0])
    cfg = dict(QUICK) if args.quick else dict(FULL)
    start = time.perf_counter()
    tables = _tables.available(cfg["tables"])
    results = dict(Parallel(n_jobs=1 if args.quick else 2)(
        delayed(fit_table)(table, cfg) for table in tables))
    rows_order = ("linear", "MLP(100), adam", DEFAULTS, *map(last_phase_row, ALPHAS))
    rows = [[name, *[mean_std(scores[row]) for row in rows_order]]
            for name, scores in results.items()]
    text = (report_header("A regularised last phase on the real-data suite", seeds=[0],
                          quick=args.quick, wall_seconds=time.perf_counter() - start)
            + "\nThe suite's tables and folds (`real_data.py`); test accuracy or R², mean ± sd "
              "over folds. A last phase: the fitted defaults, then "
              "`set_params(alpha=A, growth_schedule=\"none\", warm_start=True).fit` on the "
              "same rows (for a regressor, on its standardised target).\n\n"
            + markdown_table(["table", *rows_order], rows) + "\n\n"
            + "\n".join(summary(results)) + "\n")
    write_report(args.results_dir, "last_phase_quick.md" if args.quick else "last_phase.md",
                 text)


if __name__ == "__main__":
    main()
