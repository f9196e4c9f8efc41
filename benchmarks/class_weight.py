"""class_weight on an imbalanced table (issue 25 item 3): balanced accuracy on ISLR Caravan.

ISLR ``Caravan`` (5,822 rows, 85 features, about 6 % ``Purchase == "Yes"``), stratified 5-fold
cross-validation, every model behind the same preprocessing (``_tables.preprocessing``):
skfold unweighted and with ``class_weight="balanced"``, ``LogisticRegression`` without and
with it, and ``MLPClassifier`` (which has no ``class_weight``). ``--quick`` uses a stratified
subsample and 2 folds; its numbers mean nothing.

    python benchmarks/class_weight.py [--quick] [--results-dir DIR]
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.neural_network import MLPClassifier

import _tables
from _common import markdown_table, mean_std, parse_args, report_header, single_threaded
from _common import write_report
from skfold import FoldGrowClassifier

SEED = 0


def models(quick):
    iters = 30 if quick else 1000  # skfold's default max_iter; MLPClassifier keeps its 200
    return {
        "skfold, unweighted": FoldGrowClassifier(max_hidden_units=16, max_iter=iters,
                                                 random_state=SEED),
        'skfold, class_weight="balanced"': FoldGrowClassifier(
            max_hidden_units=16, max_iter=iters, class_weight="balanced", random_state=SEED),
        "LogisticRegression": LogisticRegression(max_iter=1000),
        'LogisticRegression, class_weight="balanced"': LogisticRegression(
            max_iter=1000, class_weight="balanced"),
        "MLPClassifier(100)": MLPClassifier(max_iter=min(iters, 200), random_state=SEED),
    }


def main():
    args = parse_args(__doc__.splitlines()[0])
    start = time.perf_counter()
    X, y = _tables.load(_tables.BY_NAME["Caravan"])
    folds = 2 if args.quick else 5
    if args.quick:
        X, _, y, _ = train_test_split(X, y, train_size=600, stratify=y, random_state=SEED)
    cv = StratifiedKFold(folds, shuffle=True, random_state=SEED)
    rows = []
    with single_threaded(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, model in models(args.quick).items():
            t0 = time.perf_counter()
            scores = cross_validate(_tables.prepared(model, X, "classification"), X,
                                    y == "Yes", cv=cv, n_jobs=1,
                                    scoring=("balanced_accuracy", "recall", "accuracy"))
            rows.append([name, mean_std(scores["test_balanced_accuracy"]),
                         mean_std(scores["test_recall"]), mean_std(scores["test_accuracy"]),
                         f"{time.perf_counter() - t0:.0f}"])
    positive = float(np.mean(y == "Yes"))
    text = (report_header("class_weight on ISLR Caravan", seeds=[SEED], quick=args.quick,
                          wall_seconds=time.perf_counter() - start)
            + f"\n{len(y)} rows, {positive:.1%} positive (Purchase == \"Yes\"), stratified "
              f"{folds}-fold cross-validation; mean ± std over folds.\n\n"
            + markdown_table(["model", "balanced accuracy", "recall of Yes", "accuracy",
                              "wall s (all folds)"], rows) + "\n")
    write_report(args.results_dir, "class_weight_quick.md" if args.quick else "class_weight.md",
                 text)


if __name__ == "__main__":
    main()
