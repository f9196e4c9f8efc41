"""Folding against random incoming weights, paired over random splits (issue 24, goal 4).

Every table of the real-data suite (``_tables.py``), split ``N_SPLITS`` times at random
(80 % train, 20 % test; stratified for classification), each split fitted twice behind the same
preprocessing: skfold's defaults (``init="fold"``) and ``init="random"`` with everything else
default, same seed. The per-split score differences give a paired t-test and a Wilcoxon
signed-rank test; a table is "fold ahead" or "random ahead" when the t-test's two-sided p is
below 0.05, else a tie.

    python benchmarks/fold_vs_random.py [--quick] [--results-dir DIR] [--jobs N]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

import _tables
from _common import RESULTS_DIR, markdown_table, report_header, single_threaded, write_report
from skfold import FoldGrowClassifier, FoldGrowRegressor

SEED = 0
N_SPLITS = 20
TEST_SIZE = 0.2
QUICK = dict(tables=["iris", "diabetes"], splits=3, max_iter=60)


def split_scores(table, train, test, max_iter):
    """``(fold score, random score)`` on one split."""
    X, y = _tables.load(table)
    cls = FoldGrowClassifier if table.task == "classification" else FoldGrowRegressor
    extra = {} if max_iter is None else {"max_iter": max_iter}
    scores = []
    with single_threaded(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        for init in ("fold", "random"):
            model = _tables.prepared(cls(init=init, random_state=SEED, **extra), X, table.task)
            model.fit(X.iloc[train], y[train])
            scores.append(float(model.score(X.iloc[test], y[test])))
    return table.name, scores


def splits(table, n_splits):
    X, y = _tables.load(table)
    cv = (StratifiedShuffleSplit if table.task == "classification" else ShuffleSplit)(
        n_splits, test_size=TEST_SIZE, random_state=SEED)
    return list(cv.split(X, y))


def verdict(diff):
    """Mean difference, its standard error, the paired t-test's and Wilcoxon's p, and who is
    ahead."""
    mean, se = float(np.mean(diff)), float(np.std(diff, ddof=1) / np.sqrt(len(diff)))
    if np.allclose(diff, 0):
        return mean, se, 1.0, 1.0, "tie (identical)"
    p_t = float(stats.ttest_1samp(diff, 0.0).pvalue)
    p_w = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    who = "tie" if p_t >= 0.05 else ("fold ahead" if mean > 0 else "random ahead")
    return mean, se, p_t, p_w, who


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two bundled sets, CI-sized")
    parser.add_argument("--results-dir", default=RESULTS_DIR, type=type(RESULTS_DIR))
    parser.add_argument("--jobs", type=int, default=-1)
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else dict(tables=None, splits=N_SPLITS, max_iter=None)
    start = time.perf_counter()
    tables = _tables.available(cfg["tables"])
    tasks = [delayed(split_scores)(table, train, test, cfg["max_iter"])
             for table in tables for train, test in splits(table, cfg["splits"])]
    results = {t.name: [] for t in tables}
    for name, scores in Parallel(n_jobs=1 if args.quick else args.jobs, verbose=5)(tasks):
        results[name].append(scores)
    rows, ahead = [], {"fold ahead": 0, "random ahead": 0}
    for table in tables:
        scores = np.array(results[table.name])
        mean, se, p_t, p_w, who = verdict(scores[:, 0] - scores[:, 1])
        ahead[who] = ahead.get(who, 0) + 1
        rows.append([table.name, f"{scores[:, 0].mean():.3f}", f"{scores[:, 1].mean():.3f}",
                     f"{mean:+.4f} ± {se:.4f}", f"{p_t:.3f}", f"{p_w:.3f}", who])
    summary = (f"\n\nFold ahead on {ahead['fold ahead']} tables, random ahead on "
               f"{ahead['random ahead']}, a tie (p ≥ 0.05) on "
               f"{len(tables) - ahead['fold ahead'] - ahead['random ahead']} of {len(tables)}.\n")
    text = (report_header("Folding vs random incoming weights, paired over random splits",
                          seeds=[SEED], quick=args.quick,
                          wall_seconds=time.perf_counter() - start)
            + f"\n{cfg['splits']} random splits per table ({1 - TEST_SIZE:.0%} train), skfold "
              "defaults (`init=\"fold\"`) against `init=\"random\"`, same seed and split; "
              "score: accuracy or R² on the split's test rows. Difference: fold minus random, "
              "mean ± standard error over splits.\n\n"
            + markdown_table(["table", "fold", "random", "difference", "paired t p",
                              "Wilcoxon p", "verdict"], rows) + summary)
    write_report(args.results_dir,
                 "fold_vs_random_quick.md" if args.quick else "fold_vs_random.md", text)


if __name__ == "__main__":
    main()
