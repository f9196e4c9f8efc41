"""Head-to-head growth (issue 4, item 3): every ``init`` and ``instance_selection`` vs static MLPs.

On the public suite, each grown model starts from 2 hidden units and grows to ``H`` units under
one common schedule (``growth_schedule="fixed"``: one unit every 20 L-BFGS iterations until
``H``, whatever the loss does), so that only
*how* units are initialised differs (GradMax's protocol: fix when and where, compare how). A
row with the estimator's out-of-the-box plateau schedule (only ``max_hidden_units=H`` set)
shows what users get by default. The baselines are scikit-learn's ``MLPClassifier`` and
``MLPRegressor`` with Adam (its default) and with L-BFGS (skfold's solver at these sizes), of
the grown width and of width 100. Every model sits in the same ``StandardScaler`` pipeline;
regression targets are standardised for all models alike (``TransformedTargetRegressor``).

Run ``python benchmarks/head_to_head.py`` (full run: about 8 minutes on 2 cores at load 2,
21 at load 7) or with ``--quick``.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.neural_network import MLPClassifier, MLPRegressor

from _common import (CLASSIFICATION_LOADERS, DATA_NOTES, REGRESSION_LOADERS, final_estimator,
                     hidden_units, load, markdown_table, mean_std, parse_args, report_header,
                     run_suite, scaled, write_report)
from skfold import FoldGrowClassifier, FoldGrowRegressor

SEED = 0
MLP_SOLVERS = ("adam", "lbfgs")
#: Grown configurations: label -> estimator parameters on top of the common protocol.
GROWN = {
    "fold + kmeans": dict(init="fold", instance_selection="kmeans"),
    "fold + max_loss": dict(init="fold", instance_selection="max_loss"),
    "fold + random instance": dict(init="fold", instance_selection="random"),
    "fold_direction + kmeans": dict(init="fold_direction", instance_selection="kmeans"),
    "gradmax": dict(init="gradmax"),
    "random init": dict(init="random"),
}
HEADLINE = "fold + kmeans"
DEFAULTS_ROW = "fold, plateau (defaults)"
#: Rows whose goals are checked in the summary tables.
GOAL_ROWS = (HEADLINE, DEFAULTS_ROW)

FULL = dict(datasets=list(CLASSIFICATION_LOADERS) + list(REGRESSION_LOADERS), n_max=None,
            n_folds=5, max_hidden_units=32, grow_every=20, max_iter=1000, wide=100)
QUICK = dict(datasets=["spirals", "wine", "sine_1d"], n_max=120, n_folds=2,
             max_hidden_units=4, grow_every=5, max_iter=40, wide=16)


def grown_models(task, cfg):
    """Label -> unfitted grown estimator (in its preprocessing wrapper)."""
    cls = FoldGrowClassifier if task == "classification" else FoldGrowRegressor
    H = cfg["max_hidden_units"]
    common = dict(max_hidden_units=H, max_iter=cfg["max_iter"], random_state=SEED)
    fixed = dict(growth_schedule="fixed", grow_every=cfg["grow_every"], hidden_units=2)
    models = {label: cls(**fixed, **common, **params)
              for label, params in GROWN.items()}
    models[DEFAULTS_ROW] = cls(**common)
    return {label: scaled(model, task) for label, model in models.items()}


def mlp(task, width, solver, cfg):
    cls = MLPClassifier if task == "classification" else MLPRegressor
    return scaled(cls(hidden_layer_sizes=(width,), solver=solver, max_iter=cfg["max_iter"],
                      random_state=SEED), task)


def fit_score(model, X, y, train, test):
    """Fit on ``train``; return (test score, hidden units, fit seconds)."""
    start = time.perf_counter()
    model.fit(X[train], y[train])
    seconds = time.perf_counter() - start
    return model.score(X[test], y[test]), hidden_units(final_estimator(model)), seconds


def run_dataset(name, cfg):
    """Per-fold results: ``{label: [(score, units, seconds), ...]}`` and the MLP cache."""
    X, y, task = load(name, cfg["n_max"])
    splitter = (StratifiedKFold if task == "classification" else KFold)(
        cfg["n_folds"], shuffle=True, random_state=SEED)
    grown = grown_models(task, cfg)
    results = {label: [] for label in grown}
    mlp_cache = {}  # (fold, width, solver) -> (score, units, seconds)
    for fold, (train, test) in enumerate(splitter.split(X, y)):
        for label, model in grown.items():
            results[label].append(fit_score(clone(model), X, y, train, test))
        widths = {units for runs in results.values() for _, units, _ in runs[-1:]}
        for width in sorted(widths | {cfg["wide"]}):
            for solver in MLP_SOLVERS:
                mlp_cache[fold, width, solver] = fit_score(mlp(task, width, solver, cfg),
                                                           X, y, train, test)
    return task, results, mlp_cache


def mlp_runs(mlp_cache, widths, solver):
    """MLP results fold by fold at the given per-fold widths."""
    return [mlp_cache[fold, width, solver] for fold, width in enumerate(widths)]


def best_mlp(mlp_cache, widths):
    """The MLP solver with the higher mean score at these per-fold widths, and its runs."""
    runs = {s: mlp_runs(mlp_cache, widths, s) for s in MLP_SOLVERS}
    solver = max(MLP_SOLVERS, key=lambda s: np.mean([r[0] for r in runs[s]]))
    return solver, runs[solver]


def summarise(name, task, results, mlp_cache, cfg):
    """Rows of the per-data-set table and ``{goal row: summary}`` for the summary tables."""
    wide = [cfg["wide"]] * cfg["n_folds"]
    _, wide_runs = best_mlp(mlp_cache, wide)
    rows = []
    for label, runs in results.items():
        widths = [units for _, units, _ in runs]
        _, same_runs = best_mlp(mlp_cache, widths)
        rows.append(_row(name, label, runs, same_runs, wide_runs))
    headline_widths = [units for _, units, _ in results[HEADLINE]]
    for solver in MLP_SOLVERS:
        for tag, widths in ((f"width of {HEADLINE}", headline_widths),
                            (f"width {cfg['wide']}", wide)):
            runs = mlp_runs(mlp_cache, widths, solver)
            rows.append(_row(name, f"MLP {solver}, {tag}", runs, None, wide_runs))
    summaries = {label: _summary(name, task, results[label], mlp_cache, wide)
                 for label in GOAL_ROWS}
    return rows, summaries


def _row(name, label, runs, same_runs, wide_runs):
    scores, units, seconds = (np.array(col, dtype=float) for col in zip(*runs))
    wide_scores, _, wide_seconds = (np.array(col, dtype=float) for col in zip(*wide_runs))
    same = "" if same_runs is None else _points(scores - [r[0] for r in same_runs])
    return [name, label, mean_std(scores), f"{units.mean():.1f}", f"{seconds.mean():.2f}",
            same, _points(scores - wide_scores), f"{seconds.mean() / wide_seconds.mean():.1f}"]


def _points(differences):
    """Mean score difference in points (accuracy or R² times 100)."""
    return f"{100 * np.mean(differences):+.1f}"


def _summary(name, task, fold_runs, mlp_cache, wide):
    fold_score = np.mean([r[0] for r in fold_runs])
    units = np.mean([r[1] for r in fold_runs])
    same_solver, same_runs = best_mlp(mlp_cache, [r[1] for r in fold_runs])
    wide_solver, wide_runs = best_mlp(mlp_cache, wide)
    same_score = np.mean([r[0] for r in same_runs])
    wide_score = np.mean([r[0] for r in wide_runs])
    gap = 100 * (fold_score - wide_score)
    return {"dataset": name, "task": task, "fold": fold_score, "units": units,
            "same": same_score, "same_solver": same_solver, "wide": wide_score,
            "wide_solver": wide_solver, "beats_same": fold_score > same_score,
            "within_1pt": gap >= -1.0, "gap_points": gap, "unit_ratio": units / wide[0]}


def summary_table(label, summaries, cfg):
    header = ["data set", f"{label} score", "units", "best MLP same width (solver)",
              "beats it?", f"best MLP width {cfg['wide']} (solver)", "gap (points)",
              "within 1 point?", f"units / {cfg['wide']}"]
    rows = [[s["dataset"], f"{s['fold']:.3f}", f"{s['units']:.1f}",
             f"{s['same']:.3f} ({s['same_solver']})", "yes" if s["beats_same"] else "no",
             f"{s['wide']:.3f} ({s['wide_solver']})", f"{s['gap_points']:+.1f}",
             "yes" if s["within_1pt"] else "no", f"{s['unit_ratio']:.2f}"]
             for s in summaries]
    return markdown_table(header, rows)


def goals_section(label, summaries, cfg):
    """The two goal counts for one grown row, and its summary table."""
    wide, n = cfg["wide"], len(summaries)
    n_beats = sum(s["beats_same"] for s in summaries)
    n_close = sum(s["within_1pt"] for s in summaries)
    max_ratio = max(s["unit_ratio"] for s in summaries)
    return "\n".join([
        f"### `{label}`",
        "",
        f"- Beats the best same-width MLP on {n_beats} of {n} data sets (goal: most).",
        f"- Within 1 point of the best width-{wide} MLP on {n_close} of {n} data sets, using at "
        f"most {max_ratio:.2f} of its hidden units (goal: within 1 point with at most a third).",
        "",
        summary_table(label, summaries, cfg),
        "",
    ])


def main():
    args = parse_args(__doc__.splitlines()[0])
    cfg = QUICK if args.quick else FULL
    per_dataset, wall, cpu = run_suite(cfg["datasets"], lambda name: run_dataset(name, cfg))
    all_rows, summaries = [], {label: [] for label in GOAL_ROWS}
    for name, (task, results, mlp_cache) in per_dataset.items():
        rows, by_label = summarise(name, task, results, mlp_cache, cfg)
        all_rows += rows
        for label, summary in by_label.items():
            summaries[label].append(summary)

    H, wide = cfg["max_hidden_units"], cfg["wide"]
    detail_header = ["data set", "model", "score (mean ± std)", "hidden units", "fit s",
                     "Δ vs MLP same width (points)", f"Δ vs MLP {wide} (points)",
                     f"fit time / MLP {wide}"]
    text = "\n".join([
        report_header("Head-to-head growth: folding vs other inits vs static MLPs",
                      seeds=f"CV split and every model random_state={SEED}",
                      quick=args.quick, wall_seconds=wall, cpu_seconds=cpu),
        "## Protocol",
        "",
        f"- {cfg['n_folds']}-fold CV (stratified for classification, shuffled, seed {SEED}); "
        "score = accuracy (classification) or R² (regression) on the held-out fold.",
        f"- Grown rows: start at 2 hidden units, `max_hidden_units={H}`, "
        f"`growth_schedule=\"fixed\"`, `grow_every={cfg['grow_every']}` L-BFGS iterations "
        "(no plateau, patience or gain test applies under it), "
        f"`max_iter={cfg['max_iter']}`, "
        "other parameters at their defaults (solver `auto` = L-BFGS at these sizes). Folding "
        "skips a growth when no training row is mis-predicted, so its width can stay below "
        f"{H}. `{DEFAULTS_ROW}`: only `max_hidden_units={H}` set (so the seed has a unit per "
        "class, at least 2).",
        f"- MLP rows: scikit-learn MLP, one hidden layer, `max_iter={cfg['max_iter']}`, Adam "
        f"(default) or L-BFGS, of the width `{HEADLINE}` reached in that fold, and of width "
        f"{wide}.",
        "- Same preprocessing for all: `StandardScaler` pipeline; regression wraps it in "
        "`TransformedTargetRegressor(transformer=StandardScaler())`.",
        "- Δ columns: mean over folds of (row's score − MLP's score) × 100, in points of "
        "accuracy or R². \"MLP same width\" = the MLP of the row's own per-fold width, with "
        "whichever solver (Adam or L-BFGS) has the higher mean score on that data set — the "
        "stronger baseline; likewise for the wide MLP, whose mean fit time is the time ratio's "
        "denominator.",
        f"- {DATA_NOTES}",
        "",
        "## Goals",
        "",
        *[goals_section(label, summaries[label], cfg) for label in GOAL_ROWS],
        "## All models",
        "",
        markdown_table(detail_header, all_rows),
        "",
    ])
    write_report(args.results_dir, "head_to_head_quick.md" if args.quick else "head_to_head.md",
                 text)


if __name__ == "__main__":
    main()
