"""One digest of what skfold's fits produce, to prove that a refactor changed no behaviour.

Fits a fixed grid -- both estimators x every ``init`` x lbfgs/adam/sgd x depth 1 and 2 x the
plateau and fixed schedules x 3 seeds -- plus ``partial_fit``, ``warm_start``, ``grow`` and a
``save``/``load`` round trip, and hashes ``coefs_``, ``intercepts_``, ``growth_history_`` (timing
fields left out), ``loss_curve_``, ``n_iter_`` and the predictions of every fit (or the error it
raised) into one SHA-256.
Two checkouts on the same machine and library versions print the same digest exactly when
they fit the same networks, bit for bit.

Run ``python benchmarks/behaviour_digest.py`` (about a minute); ``--verbose`` prints one digest
per fit, to find the first one that differs.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import warnings

import numpy as np
from sklearn.datasets import make_blobs, make_moons

import skfold
from skfold import FoldGrowClassifier, FoldGrowRegressor

INITS = ("fold", "fold_direction", "gradmax", "random")
SOLVERS = ("lbfgs", "adam", "sgd")
DEPTHS = (1, 2)
SCHEDULES = ("plateau", "fixed")
SEEDS = (0, 1, 2)
#: Small fits that still grow, stall, deepen and skip (a few hundred milliseconds each).
COMMON = dict(max_hidden_units=7, max_iter=80, n_iter_no_change=5, grow_every=12,
              growth_patience=1, learning_rate_init=0.02)
#: Fields of a growth record that measure time, not behaviour.
TIMING_FIELDS = ("search_seconds",)


def classification_data():
    X, y = make_moons(120, noise=0.25, random_state=0)
    return X, y


def three_class_data():
    return make_blobs(90, centers=3, cluster_std=2.0, random_state=0)


def regression_data():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(100, 1))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=100)
    return X, y


def fitted_state(est, X):
    """Everything a fit produced that the digest covers, as bytes."""
    parts = [np.ascontiguousarray(a).tobytes() for a in est.coefs_ + est.intercepts_]
    history = [{k: v for k, v in event.items() if k not in TIMING_FIELDS}
               for event in est.growth_history_]
    parts.append(json.dumps(history, sort_keys=True, default=repr).encode())
    parts.append(np.asarray(est.loss_curve_, dtype=np.float64).tobytes())
    parts.append(str(est.n_iter_).encode())
    predictions = est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)
    parts.append(np.ascontiguousarray(predictions, dtype=np.float64).tobytes())
    return b"\0".join(parts)


def grid_cases():
    """``(label, estimator, X, y)`` for every fit of the grid."""
    datasets = {FoldGrowClassifier: classification_data(), FoldGrowRegressor: regression_data()}
    for cls, (X, y) in datasets.items():
        for init in INITS:
            for solver in SOLVERS:
                for depth in DEPTHS:
                    for schedule in SCHEDULES:
                        for seed in SEEDS:
                            est = cls(init=init, solver=solver, max_depth=depth,
                                      growth_schedule=schedule, random_state=seed, **COMMON)
                            label = (f"{cls.__name__} {init} {solver} depth={depth} "
                                     f"{schedule} {seed}")
                            yield label, est, X, y


def workflow_cases():
    """``(label, function returning the fitted estimator and its X)`` of the other workflows."""
    X, y = classification_data()
    X3, y3 = three_class_data()
    Xr, yr = regression_data()

    def partial_fit():
        est = FoldGrowClassifier(solver="adam", random_state=0, **COMMON)
        for _ in range(40):
            est.partial_fit(X, y, classes=[0, 1])
        return est, X

    def partial_fit_regressor():
        est = FoldGrowRegressor(solver="sgd", random_state=1, **COMMON)
        for start in range(0, 100 * 30, 50):
            rows = np.arange(start, start + 50) % 100
            est.partial_fit(Xr[rows], yr[rows])
        return est, Xr

    def warm_start():
        est = FoldGrowClassifier(random_state=0, **COMMON).fit(X3, y3)
        est.set_params(warm_start=True, max_hidden_units=10, solver="adam", max_iter=40)
        return est.fit(X3, y3), X3

    def grow():
        est = FoldGrowRegressor(growth_schedule="none", hidden_units=2, random_state=0,
                                max_iter=60).fit(Xr, yr)
        return est.grow(Xr, yr, n_units=2), Xr

    def early_stopping():
        est = FoldGrowClassifier(early_stopping=True, random_state=3, **COMMON)
        return est.fit(X3, y3), X3

    def save_load():
        est = FoldGrowClassifier(solver="adam", random_state=2, **COMMON).fit(X, y)
        buffer = io.BytesIO()
        skfold.save(est, buffer)
        buffer.seek(0)
        loaded = skfold.load(buffer)
        for _ in range(5):
            loaded.partial_fit(X, y)
        return loaded, X

    def search_settings():
        est = FoldGrowClassifier(units_per_growth=2, instance_selection="max_loss",
                                 fold_point="nearest", random_state=4, **COMMON)
        weights = np.linspace(0.5, 2.0, X3.shape[0])
        return est.fit(X3, y3, sample_weight=weights), X3

    def random_instances():
        est = FoldGrowRegressor(instance_selection="random", early_stopping=True,
                                random_state=5, **COMMON)
        return est.fit(Xr, yr), Xr

    def nothing_to_fold():
        Xs, ys = make_blobs(60, centers=2, cluster_std=0.3, random_state=0)
        est = FoldGrowClassifier(hidden_units=2, random_state=0, **COMMON)
        return est.fit(Xs, ys), Xs

    return [("partial_fit", partial_fit), ("partial_fit regressor", partial_fit_regressor),
            ("warm_start", warm_start), ("grow", grow), ("early_stopping", early_stopping),
            ("save/load", save_load), ("search settings", search_settings),
            ("random instances", random_instances), ("nothing to fold", nothing_to_fold)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="one digest per fit")
    args = parser.parse_args()
    total = hashlib.sha256()
    counts = {"fits": 0, "errors": 0, "growth records": 0, "deepen": 0, "skipped": 0}

    def add(label, run):
        try:
            est, X = run()
        except Exception as exc:  # a crash is behaviour too: its type and message count
            state = f"raised {type(exc).__name__}: {exc}".encode()
            counts["errors"] += 1
        else:
            state = fitted_state(est, X)
            counts["growth records"] += len(est.growth_history_)
            counts["deepen"] += sum(e.get("kind") == "deepen" for e in est.growth_history_)
            counts["skipped"] += sum(e.get("skipped") is not None for e in est.growth_history_)
        total.update(label.encode() + b"\0" + state)
        counts["fits"] += 1
        if args.verbose:
            print(f"{hashlib.sha256(state).hexdigest()[:16]}  {label}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, est, X, y in grid_cases():
            add(label, lambda: (est.fit(X, y), X))
        for label, run in workflow_cases():
            add(label, run)
    print(", ".join(f"{v} {k}" for k, v in counts.items()))
    print(f"digest: {total.hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
