"""Helpers shared by the benchmark scripts: run settings, data suite, Markdown output.

Every script prints a Markdown report and writes it under ``benchmarks/results/``, headed by
the machine, library versions and seeds (:func:`report_header`). Scripts run single-threaded
(:func:`single_threaded`) so that timings of skfold and scikit-learn compare like with like and
do not depend on what else shares the machine's cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_iris,
                              load_wine, make_friedman1, make_moons)
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

import skfold
from skfold.datasets import make_overlap_quadratic, make_sine, make_spirals

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(description):
    """``--quick`` (CI-sized run) and ``--results-dir`` (where tables and plots go)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="tiny CI-sized run (seconds); its numbers mean nothing")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        help=f"output folder (default: {RESULTS_DIR})")
    return parser.parse_args()


@contextlib.contextmanager
def single_threaded():
    """One BLAS/OpenMP thread and one torch thread for the duration of the block."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


def run_suite(datasets, run_one):
    """``run_one(name)`` for each data set, single-threaded, ConvergenceWarnings silenced.

    Returns ``({name: result}, wall seconds, CPU seconds)`` and prints each data set's time.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    results = {}
    with single_threaded(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name in datasets:
            t0 = time.perf_counter()
            results[name] = run_one(name)
            print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return results, time.perf_counter() - start, time.process_time() - cpu_start


# --------------------------------------------------------------------------- data
def make_sine_regression(n_samples=300, *, noise=0.1, random_state=None):
    """1-D regression: ``y = sin(2 x) + noise`` for ``x`` uniform in ``[-3, 3]``."""
    rng = check_random_state(random_state)
    X = rng.uniform(-3, 3, size=(n_samples, 1))
    return X, np.sin(2 * X[:, 0]) + rng.normal(scale=noise, size=n_samples)


def _subsample(X, y, n_max, seed):
    if X.shape[0] <= n_max:
        return X, y
    rows = np.sort(check_random_state(seed).choice(X.shape[0], n_max, replace=False))
    return X[rows], y[rows]


CLASSIFICATION_LOADERS = {
    "sine": lambda: make_sine(500, random_state=0),
    "overlap_quadratic": lambda: make_overlap_quadratic(500, random_state=0),
    "spirals": lambda: make_spirals(500, random_state=0),
    "moons": lambda: make_moons(500, noise=0.2, random_state=0),
    "iris": lambda: load_iris(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "digits": lambda: load_digits(return_X_y=True),
}
REGRESSION_LOADERS = {
    "diabetes": lambda: load_diabetes(return_X_y=True),
    "friedman1": lambda: make_friedman1(500, noise=1.0, random_state=0),
    "sine_1d": lambda: make_sine_regression(300, random_state=0),
}
#: How every data set above was made, for the reports.
DATA_NOTES = (
    "Data: `make_sine`, `make_overlap_quadratic`, `make_spirals` (skfold.datasets) and "
    "`make_moons(noise=0.2)` with 500 rows and `random_state=0`; iris, wine, breast_cancer, "
    "digits, diabetes from scikit-learn; `make_friedman1(500, noise=1.0, random_state=0)`; "
    "`sine_1d`: 300 rows, `y = sin(2x) + N(0, 0.1^2)`, `x ~ U[-3, 3]`."
)


def load(name, n_max=None):
    """Data set ``name`` of the public suite as ``(X, y, task)``; at most ``n_max`` rows."""
    if name in CLASSIFICATION_LOADERS:
        X, y = CLASSIFICATION_LOADERS[name]()
        task = "classification"
    else:
        X, y = REGRESSION_LOADERS[name]()
        task = "regression"
    if n_max is not None:
        X, y = _subsample(X, y, n_max, seed=0)
    return np.asarray(X, dtype=np.float64), np.asarray(y), task


def scaled(model, task, features=None):
    """``model`` behind ``features`` (default: ``StandardScaler``) on X, the same for every
    model; regression also standardises y, for all alike."""
    pipe = make_pipeline(StandardScaler() if features is None else features, model)
    if task == "regression":
        return TransformedTargetRegressor(regressor=pipe, transformer=StandardScaler())
    return pipe


def final_estimator(fitted):
    """The model inside :func:`scaled`'s wrapper."""
    if isinstance(fitted, TransformedTargetRegressor):
        fitted = fitted.regressor_
    return fitted[-1]


def hidden_units(estimator):
    """Total hidden units of a fitted skfold or scikit-learn MLP."""
    sizes = getattr(estimator, "hidden_layer_sizes_", None)
    if sizes is None:
        sizes = estimator.hidden_layer_sizes
    return int(np.sum(sizes))


# --------------------------------------------------------------------------- output
def mean_std(values, digits=3):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def standard_error(values):
    """The standard error of the mean of ``values`` (nan for fewer than two)."""
    values = np.asarray(values, dtype=float)
    return values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")


def markdown_table(header, rows):
    """A GitHub Markdown table from a header and rows of already formatted cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def report_header(title, *, seeds, quick, wall_seconds=None, cpu_seconds=None):
    """Title plus machine, versions, threads, seeds and the command that made the report."""
    cpus = os.cpu_count()
    lines = [
        f"# {title}",
        "",
        f"- Command: `python benchmarks/{' '.join([Path(sys.argv[0]).name] + sys.argv[1:])}` "
        f"({'QUICK run: tiny sizes, numbers not meaningful' if quick else 'full run'})",
        f"- Date (UTC): {datetime.now(timezone.utc):%Y-%m-%d %H:%M}",
        f"- Machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{cpus} CPU cores (shared with other jobs); every model fitted single-threaded",
        f"- Versions: Python {platform.python_version()}, skfold {skfold.__version__}, "
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}",
        f"- Seeds: {seeds}",
        f"- Code: git {CODE_REVISION} when the run started",
    ]
    if wall_seconds is not None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        cpu = "" if cpu_seconds is None else f", CPU time {cpu_seconds:.0f} s"
        lines.append(f"- Whole run: wall time {wall_seconds:.0f} s{cpu} (1-minute load "
                     f"average at the end: {load:.1f} on {cpus} cores)")
    return "\n".join(lines) + "\n"


def _git_revision():
    """``git describe --always --dirty`` of the checkout, or "unknown" outside a git tree."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=RESULTS_DIR.parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


#: The checkout's revision when the script started (and imported skfold).
CODE_REVISION = _git_revision()


def write_report(results_dir, name, text):
    """Write ``text`` to ``results_dir/name`` (creating the folder), print it, return the path."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / name
    path.write_text(text)
    print(text)
    print(f"written: {path}")
    return path
