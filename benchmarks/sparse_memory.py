"""Peak memory of a fit on a sparse high-dimensional table (issue 25 item 2).

A fit on sparse X should hold the sparse matrix plus what one mini-batch densifies (and the
growth search's bounded subsample, densified once in float64), never the whole matrix
densified. Peak memory is measured with ``tracemalloc`` over the ``fit`` call alone: it counts
NumPy/SciPy buffers (the data's copies, densified batches, the search subsample, tensors made
from NumPy arrays), not torch's own allocations (the network's small weight tensors, and during
a growth the fold init's random draws, ``FOLD_CANDIDATES x n_features`` float64).
``MLPClassifier`` (which multiplies the sparse matrix by its first layer) runs side by side,
and skfold on the same data densified for reference. Writes ``results/sparse_memory.md``.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp
from _common import (markdown_table, parse_args, report_header, single_threaded,
                     write_report)
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from skfold import FoldGrowClassifier
from skfold.folding.incoming import CANDIDATE_CHUNK, FOLD_CANDIDATES
from skfold.training import auto_batch_size

FULL = dict(n_samples=50_000, n_features=10_000, density=0.002, max_iter=3)
QUICK = dict(n_samples=2_000, n_features=500, density=0.01, max_iter=2)
SEED = 0
MB = 2.0 ** 20


def sparse_table(n_samples, n_features, density, seed=SEED):
    """A bag-of-words-like table: few non-zeros per row; labels from a sparse linear rule."""
    rng = np.random.RandomState(seed)
    X = sp.random(n_samples, n_features, density=density, format="csr", random_state=rng,
                  data_rvs=lambda k: rng.exponential(size=k))
    w = rng.normal(size=n_features)
    y = (X @ w > np.median(X @ w)).astype(int)
    return X, y


def sparse_bytes(X):
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


def peak_fit(model, X, y):
    """``(peak traced bytes during fit, seconds, train accuracy)``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, seconds, model.score(X, y)


def main():
    args = parse_args(__doc__.splitlines()[0])
    size = QUICK if args.quick else FULL
    X, y = sparse_table(size["n_samples"], size["n_features"], size["density"])
    n, d = X.shape
    batch = auto_batch_size(n)
    models = [
        ("skfold, sparse X (adam)", lambda: FoldGrowClassifier(
            solver="adam", max_iter=size["max_iter"], random_state=SEED), X),
        ("skfold, sparse X (adam), a growth every epoch", lambda: FoldGrowClassifier(
            solver="adam", max_iter=size["max_iter"], growth_schedule="fixed", grow_every=1,
            random_state=SEED), X),
        ("MLPClassifier(100), sparse X (adam)", lambda: MLPClassifier(
            100, max_iter=size["max_iter"], random_state=SEED), X),
    ]
    if args.quick or n * d * 8 < 2 * 2 ** 30:
        models.append(("skfold, dense X (adam)", lambda: FoldGrowClassifier(
            solver="adam", max_iter=size["max_iter"], random_state=SEED), X.toarray()))
    search = FoldGrowClassifier().search_subsample
    goal = sparse_bytes(X) + batch * d * 4
    bound = goal + min(n, search) * d * 8  # the search subsample once, in float64
    candidates = (FOLD_CANDIDATES + 1) * d * 12 + CANDIDATE_CHUNK * d * 4
    rows, start = [], time.perf_counter()
    with single_threaded(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, make, data in models:
            model = make()
            peak, seconds, acc = peak_fit(model, data, y)
            growths = getattr(model, "n_growths_", "")
            rows.append([name, f"{peak / MB:.1f}", f"{peak / goal:.2f}", f"{peak / bound:.2f}",
                         f"{peak / (bound + candidates):.2f}", growths, f"{seconds:.1f}",
                         f"{acc:.3f}"])
            print(name, rows[-1], flush=True)
    wall = time.perf_counter() - start
    text = report_header("Peak fit memory on a sparse high-dimensional table", seeds=[SEED],
                         quick=args.quick, wall_seconds=wall)
    text += (
        f"\nData: {n} x {d} CSR, density {size['density']}, {X.nnz} non-zeros; "
        f"{size['max_iter']} epochs. Sparse matrix (float64 data + int32 indices): "
        f"{sparse_bytes(X) / MB:.1f} MiB; densified: {n * d * 8 / MB:.1f} MiB. One float32 "
        f"batch of {batch} rows: {batch * d * 4 / MB:.1f} MiB. The growth search densifies "
        f"up to {min(n, search)} rows and holds them once, in float64: "
        f"{min(n, search) * d * 8 / MB:.1f} MiB. Bound = sparse matrix + one batch + "
        f"search subsample = {bound / MB:.1f} MiB; sparse matrix + one batch = "
        f"{goal / MB:.1f} MiB.\n\n"
        "Peak: tracemalloc's peak during `fit` (NumPy/SciPy buffers; torch's own tensors "
        "are not traced).\n\n"
        "What a growth holds besides the bound: the `fold` init scores "
        f"{FOLD_CANDIDATES + 1} candidate directions of {d} inputs in float64 and float32, "
        f"{CANDIDATE_CHUNK} search rows at a time in float32: {candidates / MB:.1f} MiB "
        "(proportional to the inputs, not to the rows), plus k-means' and the chunks' few "
        "MiB.\n\n")
    text += markdown_table(["model", "peak fit memory (MiB)", "peak / (sparse + batch)",
                            "peak / bound", "peak / (bound + candidates)", "growths",
                            "fit s", "train accuracy"], rows) + "\n"
    name = "sparse_memory_quick.md" if args.quick else "sparse_memory.md"
    write_report(args.results_dir, name, text)


if __name__ == "__main__":
    main()
