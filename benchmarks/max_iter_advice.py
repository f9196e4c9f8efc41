"""When does "raise max_iter" help? (issue 25 item 5): the max_iter warning's advice, measured.

On real tables (``_tables``: Chile, Pima, OJ, digits, breast_cancer, diabetes, CASchools,
College) and the two synthetic 20,000-row sets of ``mid_size.py``, every split is fitted at a
budget of ``max_iter`` (15 to 100, and the default 1000), then refitted with four times that
budget; the change of the test score (accuracy, or R² for a regressor, in points) is reported
by how the first fit ended:

- whether ``max_iter`` ended it (it ran its whole budget), and whether growth was still
  possible then: the conditions of the warning and of its "Growth was still under way ...:
  raise max_iter" advice before issue 25;
- which warning the first fit gives now (``skfold.fit_warnings``): the advice to raise
  ``max_iter`` (the monitored loss, held-out when rows are held out, fell by more than ``tol``
  within the last ``n_iter_no_change`` epochs, and growth still paid), ``MLPClassifier``'s
  "hasn't converged yet" (the same, with no growth to come), or none (the monitored loss had
  stopped falling: the network kept is the best seen).

Three models: skfold's defaults, the same with held-out rows on every table
(``early_stopping=True``: the 20,000-row sets hold out 1,333), and the same without growth
(``growth_schedule="none"``).
``--quick`` fits two small tables on 2 folds with budgets of 10 and 25; its numbers mean
nothing.

    python benchmarks/max_iter_advice.py [--quick] [--results-dir DIR]
"""

from __future__ import annotations

import math
import time
import warnings

import pandas as pd
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold

import _tables
from _common import final_estimator, markdown_table, parse_args, report_header
from _common import single_threaded, write_report
from skfold import FoldGrowClassifier, FoldGrowRegressor
from skfold import fit_warnings
from skfold.fit_warnings import ADVISED_HELD_OUT_ROWS, NOT_CONVERGED, STILL_GROWING

advice_helps = fit_warnings.growth_advice_helps

SEED = 0
FACTOR = 4
MODELS = {"defaults": {}, "early_stopping=True": dict(early_stopping=True),
          'growth_schedule="none"': dict(growth_schedule="none")}
FULL = dict(tables=["Chile", "Pima", "OJ", "digits", "breast_cancer", "diabetes", "CASchools",
                    "College"],
            synthetic=["mid-size, 20 features, 3 classes",
                       "mid-size, 30 features, 5% flipped labels"],
            budgets=[15, 25, 35, 50, 75, 100, 1000], folds=5, synthetic_folds=3)
QUICK = dict(tables=["breast_cancer", "diabetes"], synthetic=[], budgets=[10, 25], folds=2,
             synthetic_folds=2)
#: ``mid_size.py``'s data sets (20,000 rows each).
SYNTHETIC = {
    "mid-size, 20 features, 3 classes": dict(n_samples=20_000, n_features=20, n_informative=10,
                                             n_classes=3, random_state=0),
    "mid-size, 30 features, 5% flipped labels": dict(n_samples=20_000, n_features=30,
                                                     n_informative=15, n_classes=2,
                                                     flip_y=0.05, random_state=1),
}
#: What the first fit's warning says now, by the start of its max_iter sentence.
ADVICE, NOT_YET, SILENT = "raise max_iter", "hasn't converged yet", "none"


def load(name):
    """``(X, y, task, make_model)``: a table behind its preprocessing, or a synthetic set."""
    if name in SYNTHETIC:
        X, y = make_classification(**SYNTHETIC[name])
        X = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        task = "classification"
    else:
        table = _tables.BY_NAME[name]
        X, y = _tables.load(table)
        task = table.task
    cls = FoldGrowClassifier if task == "classification" else FoldGrowRegressor
    return X, y, task, lambda max_iter, params: _tables.prepared(
        cls(max_iter=max_iter, random_state=SEED, **params), X, task)


def warning_now(record):
    """Which max_iter sentence the fit's ConvergenceWarning holds (see ``skfold.fit_warnings``)."""
    text = " ".join(str(w.message) for w in record if issubclass(w.category, ConvergenceWarning))
    for name, sentence in ((ADVICE, STILL_GROWING), (NOT_YET, NOT_CONVERGED)):
        if sentence.split("{")[0] in text:
            return name
    return SILENT


def fit(make, max_iter, params, X, y):
    """``(model, warning now, whether growth advice was weighed)``: the last is whether the
    fit ended cut short while its monitored loss still fell and growth still paid, the case
    that ``fit_warnings.growth_advice_helps`` decides (noted by wrapping it)."""
    weighed = []

    def noting(call):
        weighed.append(True)
        return advice_helps(call)

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fit_warnings.growth_advice_helps = noting
        try:
            model = make(max_iter, params).fit(X, y)
        finally:
            fit_warnings.growth_advice_helps = advice_helps
    return model, warning_now(record), bool(weighed)


def held_out_group(est, n_rows):
    """The fit's held-out rows: none, fewer than the advice's bound, or at least as many."""
    if est.validation_scores_ is None:
        return "none"
    rows = math.ceil(est.validation_fraction * n_rows)
    return (f"< {ADVISED_HELD_OUT_ROWS:,}" if rows < ADVISED_HELD_OUT_ROWS
            else f"≥ {ADVISED_HELD_OUT_ROWS:,}")


def run_table(name, cfg):
    X, y, task, make = load(name)
    folds = cfg["synthetic_folds"] if name in SYNTHETIC else cfg["folds"]
    splitter = (StratifiedKFold if task == "classification" else KFold)(
        folds, shuffle=True, random_state=SEED)
    records = []
    for fold, (train, test) in enumerate(splitter.split(X, y)):
        for (model_name, params), budget in ((m, b) for m in MODELS.items()
                                            for b in cfg["budgets"]):
            first, now, weighed = fit(make, budget, params, X.iloc[train], y[train])
            est = final_estimator(first)
            cut_short = est.n_iter_ >= budget
            growing = est._state.schedule.can_grow(est._state.network.hidden_sizes)
            more, _, _ = fit(make, FACTOR * budget, params, X.iloc[train], y[train])
            score = 100 * first.score(X.iloc[test], y[test])
            records.append(dict(
                table=name, model=model_name, fold=fold, budget=budget, cut_short=cut_short,
                old_advice=cut_short and growing, now=now, weighed=weighed,
                held_out=held_out_group(est, len(train)), score=score,
                delta=100 * more.score(X.iloc[test], y[test]) - score,
                wider=sum(final_estimator(more).hidden_layer_sizes_)
                - sum(est.hidden_layer_sizes_)))
    return records


def delta_cells(frame):
    """Fits, mean ± sd of the score change, how many improved / got worse, units added."""
    if frame.empty:
        return ["0", "–", "–", "–"]
    d = frame["delta"].to_numpy()
    return [str(len(d)), f"{d.mean():+.2f} ± {d.std():.2f}",
            f"{int((d > 0).sum())} / {int((d < 0).sum())}", f"{frame['wider'].mean():+.1f}"]


def by_signal(frame):
    """Rows of the main table: the fits grouped by how their first fit ended."""
    short = frame[frame.cut_short]
    groups = [
        ("not ended by max_iter (never warned)", frame[~frame.cut_short]),
        ("ended by max_iter (warned before issue 25)", short),
        ("… growth possible (the old advice: raise max_iter)", short[short.old_advice]),
        ("… now advised: raise max_iter (still falling, growth pays)", short[short.now == ADVICE]),
        ("… now: hasn't converged yet (still falling, no growth)", short[short.now == NOT_YET]),
        ("… now silent (monitored loss had stopped falling)", short[short.now == SILENT]),
        ("… old advice, now silent", short[short.old_advice & (short.now == SILENT)]),
        *[(f"… still falling, growth pays, held-out rows: {held}",
           short[short.weighed & (short.held_out == held)])
          for held in ("none", f"< {ADVISED_HELD_OUT_ROWS:,}", f"≥ {ADVISED_HELD_OUT_ROWS:,}")],
    ]
    return [[label, *delta_cells(group)] for label, group in groups]


def by_table(frame):
    rows = []
    for (name, model, budget), group in frame.groupby(["table", "model", "budget"], sort=False):
        short = group[group.cut_short]
        cells = [name, model, str(budget), f"{group['score'].mean():.1f}",
                 f"{len(short)} of {len(group)}", str(int(short.old_advice.sum()))]
        for part in (short[short.now != SILENT], short[short.now == SILENT]):
            d = part["delta"].to_numpy()
            cells.append(f"{d.mean():+.2f} ± {d.std():.2f} ({len(d)})" if len(d) else "–")
        rows.append(cells)
    return rows


PROTOCOL = (
    "Each table (the real-data suite's loaders and preprocessing; the synthetic sets are "
    "`mid_size.py`'s) is split {folds}-fold ({synthetic_folds}-fold for the 20,000-row synthetic "
    "sets), stratified for classification, `random_state={seed}`. On each split each model is "
    "fitted with `max_iter` = each of {budgets}, then with {factor}x that budget; the score "
    "change is the second fit's test score minus the first's (accuracy or R², in points), "
    "mean ± sd over the fits of a group. The groups say how the *first* fit ended: whether "
    "`max_iter` ended it (before issue 25 that always warned), whether growth was still "
    "possible then (before issue 25: \"Growth was still under way ...: raise max_iter\"), and "
    "which warning it gives now: *raise max_iter* (the monitored loss — held out when rows are "
    "held out — fell by more than `tol` within the last `n_iter_no_change` epochs, and growth "
    "still paid, and the loss is the training loss or at least {advised:,} rows are held "
    "out), *hasn't converged yet* (the same, nothing left to grow) or none (the monitored "
    "loss had stopped falling, the network kept being the best seen; or fewer than "
    "{advised:,} held-out rows chose it). The last three rows of each table split the fits "
    "cut short while the loss still fell and growth still paid by their held-out rows: the "
    "measurement behind the {advised:,}.\n")


def main():
    args = parse_args(__doc__.splitlines()[0])
    cfg = QUICK if args.quick else FULL
    start, cpu_start = time.perf_counter(), time.process_time()
    records = []
    with single_threaded():
        for name in cfg["tables"] + cfg["synthetic"]:
            t0 = time.perf_counter()
            records += run_table(name, cfg)
            print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    frame = pd.DataFrame(records)
    header = ["first fit ended", "fits", f"score change with {FACTOR}x max_iter, points "
              "(mean ± sd)", "better / worse", "units added"]
    sections = [f"\n## {model}: by how the first fit ended (all tables and budgets)\n\n"
                + markdown_table(header, by_signal(frame[frame.model == model])) + "\n"
                for model in MODELS]
    text = (report_header(f"Does raising max_iter help? ({FACTOR}x the budget, by how the "
                          "fit ended)", seeds=[SEED], quick=args.quick,
                          wall_seconds=time.perf_counter() - start,
                          cpu_seconds=time.process_time() - cpu_start)
            + "\n## Protocol\n\n"
            + PROTOCOL.format(seed=SEED, factor=FACTOR, advised=ADVISED_HELD_OUT_ROWS, **cfg)
            + "".join(sections)
            + "\n## By table, model and budget\n\n"
            + markdown_table(["table", "model", "max_iter", "test score, points",
                              "ended by max_iter", "of those, old advice",
                              "change if warned now (fits)", "change if silent now (fits)"],
                             by_table(frame))
            + "\n")
    write_report(args.results_dir,
                 "max_iter_advice_quick.md" if args.quick else "max_iter_advice.md", text)


if __name__ == "__main__":
    main()
