"""Mid-size data (20,000 rows, 20 and 30 features): a grown fit against MLPClassifier.

Issue 5 times skfold on small data (at most 1,797 rows, L-BFGS) and per epoch on 1,000,000
rows; users' own data often lies between. This script fits, on two synthetic data sets of
20,000 rows (`make_classification`, 75/25 split by seed, `StandardScaler` on the train part):

- skfold with its defaults (`solver="auto"` is L-BFGS up to 100,000 rows) and rows that change
  one setting (`solver`, `init`, `units_per_growth`, three times the default `max_iter`), and
  skfold's engine without growth: a network of the width the defaults grew to, trained as one;
- `MLPClassifier` of the width the default fit grew to (Adam and L-BFGS), and with its own
  defaults (100 units, Adam).

It prints a table of fit time and test accuracy, with ratios and gaps to the better MLP of the
grown width, and a table of what the grown units look like (the share active on nearly every
training row, i.e. nearly linear there, and their incoming weights' norm against the seed
units'). Single-threaded, as every benchmark here.

Run ``python benchmarks/mid_size.py`` (full) or with ``--quick``.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from _common import markdown_table, parse_args, report_header, run_suite, write_report
from skfold import FoldGrowClassifier
from skfold.fit_setup import AUTO_LBFGS_MAX_SAMPLES
from skfold.folding import NEARLY_LINEAR_SHARE

DEFAULTS = "defaults"
MLP_DEFAULTS = "MLP defaults (adam)"
#: The engine without growth: a network of the width the defaults grew to, trained as one.
FIXED_WIDTH = 'fixed at the grown width (growth_schedule="none")'
#: The defaults with a larger budget: on these data the default max_iter ends growth.
LONGER = "3x max_iter"
#: Label -> FoldGrowClassifier parameters besides random_state and max_iter.
SKFOLD_ROWS = {
    DEFAULTS: {},
    LONGER: {},
    "units_per_growth=4": dict(units_per_growth=4),
    'init="random"': dict(init="random"),
    'solver="adam"': dict(solver="adam"),
}
DATA = {
    "20 features, 3 classes": dict(n_features=20, n_informative=10, n_classes=3,
                                   random_state=0),
    "30 features, 2 classes, 5% flipped labels": dict(n_features=30, n_informative=15,
                                                      n_classes=2, flip_y=0.05, random_state=1),
}
FULL = dict(n_samples=20_000, seeds=[0, 1, 2], max_iter=1000, mlp_max_iter=200, skfold={})
#: Short plateaus, so that the quick run grows too.
QUICK = dict(n_samples=600, seeds=[0], max_iter=40, mlp_max_iter=20,
             skfold=dict(n_iter_no_change=2))
#: A grown unit active on more than this share of the training rows is nearly linear there
#: (the share above which a new fold unit gets a fresh unit's norm).
NEARLY_LINEAR = NEARLY_LINEAR_SHARE


def split(name, seed, cfg):
    X, y = make_classification(n_samples=cfg["n_samples"], **DATA[name])
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def timed_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return model, time.perf_counter() - start


def grown_units(clf, X):
    """``(share of grown units nearly linear on X, median incoming norm grown / seed)``;
    ``(None, None)`` when nothing grew."""
    seed_width, width = clf.hidden_units_, clf.hidden_layer_sizes_[0]
    if width == seed_width:
        return None, None
    active = [clf.explain_unit(unit, X=X)["active_fraction"] for unit in range(seed_width, width)]
    norms = np.linalg.norm(clf.coefs_[0], axis=0)
    return (float(np.mean(np.array(active) > NEARLY_LINEAR)),
            float(np.median(norms[seed_width:]) / np.median(norms[:seed_width])))


def run_dataset(name, cfg):
    """Per seed: ``{label: (seconds, test accuracy, width, iterations, linear share, norm
    ratio)}`` for every skfold row and MLP."""
    runs = []
    for seed in cfg["seeds"]:
        X_train, X_test, y_train, y_test = split(name, seed, cfg)
        run = {}
        for label, params in SKFOLD_ROWS.items():
            max_iter = cfg["max_iter"] * (3 if label == LONGER else 1)
            clf, seconds = timed_fit(FoldGrowClassifier(random_state=seed, max_iter=max_iter,
                                                        **cfg["skfold"], **params),
                                     X_train, y_train)
            run[label] = (seconds, clf.score(X_test, y_test), sum(clf.hidden_layer_sizes_),
                          clf.n_iter_, *grown_units(clf, X_train))
        width = run[DEFAULTS][2]
        clf, seconds = timed_fit(FoldGrowClassifier(random_state=seed, hidden_units=width,
                                                    growth_schedule="none",
                                                    max_iter=cfg["max_iter"], **cfg["skfold"]),
                                 X_train, y_train)
        run[FIXED_WIDTH] = (seconds, clf.score(X_test, y_test), width, clf.n_iter_, None, None)
        mlps = {f"MLP {solver}": dict(hidden_layer_sizes=(width,), solver=solver)
                for solver in ("adam", "lbfgs")}
        mlps[MLP_DEFAULTS] = {}
        for label, params in mlps.items():
            mlp, seconds = timed_fit(MLPClassifier(random_state=seed,
                                                   max_iter=cfg["mlp_max_iter"], **params),
                                     X_train, y_train)
            run[label] = (seconds, mlp.score(X_test, y_test),
                          int(np.sum(mlp.hidden_layer_sizes)), mlp.n_iter_, None, None)
        runs.append(run)
    return runs


def tables(results):
    fit_rows, unit_rows = [], []
    for name, runs in results.items():
        best = max(("MLP adam", "MLP lbfgs"),
                   key=lambda label: np.mean([run[label][1] for run in runs]))
        for label in runs[0]:
            seconds = np.array([run[label][0] for run in runs])
            acc = np.array([run[label][1] for run in runs])
            ratio = seconds / np.array([run[best][0] for run in runs])
            gap = 100 * (acc - np.array([run[best][1] for run in runs]))
            widths = sorted({run[label][2] for run in runs})
            fit_rows.append([
                name, label, "/".join(map(str, widths)),
                f"{np.mean([run[label][3] for run in runs]):.0f}",
                f"{seconds.mean():.2f}", f"**{ratio.mean():.2f}**", f"{acc.mean():.4f}",
                f"{gap.mean():+.2f} ± {gap.std(ddof=1) / np.sqrt(len(gap)):.2f}"
                if len(gap) > 1 else f"{gap.mean():+.2f}",
                best])
            shares = [run[label][4] for run in runs if run[label][4] is not None]
            norms = [run[label][5] for run in runs if run[label][5] is not None]
            if label in SKFOLD_ROWS and shares:
                unit_rows.append([name, label, f"{100 * np.mean(shares):.0f}%",
                                  f"{np.mean(norms):.2f}"])
    fit_table = markdown_table(
        ["data", "model", "hidden units", "iterations (epochs)", "fit s",
         "time / best MLP of the grown width", "test acc",
         "acc gap to that MLP, points (± standard error over seeds)", "best MLP"],
        fit_rows)
    unit_table = markdown_table(
        ["data", "skfold model", f"grown units active on > {NEARLY_LINEAR:.0%} of the "
         "training rows", "median incoming-weight norm, grown units / seed units"],
        unit_rows)
    return fit_table, unit_table


def main():
    args = parse_args(__doc__.splitlines()[0])
    cfg = QUICK if args.quick else FULL
    results, wall, cpu = run_suite(list(DATA), lambda name: run_dataset(name, cfg))
    fit_table, unit_table = tables(results)
    text = "\n".join([
        report_header("Mid-size data: a grown fit against MLPClassifier",
                      seeds=f"{cfg['seeds']} (split and models)", quick=args.quick,
                      wall_seconds=wall, cpu_seconds=cpu),
        "## Protocol",
        "",
        f"- `make_classification(n_samples={cfg['n_samples']}, ...)` with the settings each "
        "row names, 75/25 split stratified by seed, `StandardScaler` fitted on the train "
        "part.",
        f"- skfold: `FoldGrowClassifier(random_state=seed, max_iter={cfg['max_iter']})` (its "
        "default `max_iter`), all else default except what the model column names "
        f"(`{LONGER}`: `max_iter={3 * cfg['max_iter']}`); `solver=\"auto\"` is L-BFGS up to "
        f"{AUTO_LBFGS_MAX_SAMPLES:,} rows. The `{FIXED_WIDTH}` row is "
        "`FoldGrowClassifier(hidden_units=H, growth_schedule=\"none\")` with H the width the "
        "defaults row grew to on that seed: the same engine, the same width, no growth.",
        f"- MLP: `MLPClassifier(hidden_layer_sizes=(H,), solver=..., random_state=seed, "
        f"max_iter={cfg['mlp_max_iter']})` (its default `max_iter`) with H the width the "
        "skfold defaults row grew to on that seed, and `MLPClassifier(random_state=seed)`. "
        "Ratios and gaps pair each fit with the better (by mean test accuracy) MLP of the "
        "grown width on the same seed.",
        "",
        "## Fit time and test accuracy",
        "",
        fit_table,
        "",
        "## The grown units",
        "",
        "A unit active on nearly every training row is nearly linear there: it adds little "
        "that a linear map does not. Seed units are the `hidden_units=\"auto\"` ones the fit "
        "started with.",
        "",
        unit_table,
        "",
    ])
    write_report(args.results_dir, "mid_size_quick.md" if args.quick else "mid_size.md", text)


if __name__ == "__main__":
    main()
