"""Scale out: the grid search of ``pipeline_gridsearch.py`` on a Dask cluster, and
``partial_fit`` over the chunks of a Dask array for data larger than memory.

1. **Search on a cluster.** scikit-learn's searches run their fits through joblib; joblib's
   ``"dask"`` backend sends them to the workers of a ``distributed.Client``. Nothing in the
   search changes: same estimator, same grid, same seeds, so the same best parameters as the
   local run. Here the cluster is a ``LocalCluster`` of worker processes on this machine.

   **Against a real cluster**, connect the client to its scheduler instead::

       client = Client("tcp://scheduler-address:8786")   # or dask_jobqueue / dask_kubernetes
       with joblib.parallel_backend("dask", scatter=[X_train, y_train]):
           search.fit(X_train, y_train)

   Every worker needs the same Python environment (skfold, torch, scikit-learn versions). Give
   each worker process one thread per core it owns (``--nthreads``) and let skfold limit torch's
   threads per fit; ``scatter`` ships the data once per worker instead of once per fit. Ray works
   the same way: ``from ray.util.joblib import register_ray; register_ray()`` then
   ``joblib.parallel_backend("ray")``.

2. **Larger than memory.** ``partial_fit`` trains one epoch per call and grows between calls
   (when a phase's returns diminish: a stream cannot wait for a plateau), its typical-instance
   search reading the chunk and a bounded reservoir of earlier rows, so a model can be grown
   over chunks that never sit in memory together: ``fit_on_chunks`` loads one chunk of a Dask
   array at a time; the same stream without growth shows what growth brings, and
   ``MLPClassifier(100)`` fed the same chunks what a fixed wide network reaches. dask-ml's
   ``Incremental`` wrapper does the same thing (``Incremental(clf, shuffle_blocks=False)
   .fit(X, y, classes=...)``, one pass over the blocks) and works with scikit-learn 1.9, but
   pulls in pyarrow and numba, so it is used here only when installed.

Writes ``distributed_search.png`` into the directory given as the first argument, else
``$SKFOLD_EXAMPLES_OUTPUT``, else ``examples/output/``. ``SKFOLD_QUICK=1`` makes a fast,
smaller run.

    python examples/distributed_search.py
"""

import logging
import os
import sys
from pathlib import Path

import joblib
import numpy as np

from pipeline_gridsearch import QUICK, make_data, make_search, results_table

from skfold import FoldGrowClassifier


def output_dir():
    default = os.environ.get("SKFOLD_EXAMPLES_OUTPUT", Path(__file__).resolve().parent / "output")
    out = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    out.mkdir(parents=True, exist_ok=True)
    return out


def local_cluster(n_workers=2):
    """A cluster of ``n_workers`` single-threaded worker processes on this machine."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, silence_logs=logging.ERROR)


def search_on_dask(search, X, y):
    """Fit ``search`` with its fits sent to the workers of the current Dask client."""
    with joblib.parallel_backend("dask"):
        return search.fit(X, y)


def fit_on_chunks(estimator, X, y, *, classes=None, n_epochs=1):
    """Train ``estimator`` with ``partial_fit``, one chunk of the Dask arrays at a time.

    Parameters
    ----------
    estimator : FoldGrowClassifier or FoldGrowRegressor (or any ``partial_fit`` estimator)
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked along rows only; a chunk must fit in memory, the array need not.
    y : dask.array.Array of shape (n_samples,)
        Rechunked to ``X``'s row chunks.
    classes : array-like, default=None
        All classes, for classifiers (required by the first ``partial_fit``).
    n_epochs : int, default=1
        Passes over the chunks; each chunk is one ``partial_fit`` call (one epoch on it).

    Returns
    -------
    estimator : the fitted estimator
    """
    if len(X.chunks) > 1 and len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    y = y.rechunk(X.chunks[0])
    kwargs = {} if classes is None else {"classes": classes}
    for _ in range(n_epochs):
        for i in range(X.numblocks[0]):
            X_chunk, y_chunk = X.blocks[i].compute(), y.blocks[i].compute()
            estimator.partial_fit(X_chunk, y_chunk, **kwargs)
    return estimator


def out_of_core_demo(n_samples, chunk_size):
    """Grow a classifier over the chunks of a Dask array, and fixed models the same way.

    Returns the grown classifier, the held-out accuracies (``"grown"``; ``"seed"``: the same
    stream without growth; ``"linear"``: a linear model fed the same way; ``"mlp100"``:
    ``MLPClassifier(100)``, whose ``partial_fit`` is the reference a grown stream is held
    to; ``"seed_units"``: the seed's width), and the data.
    """
    import dask.array as da
    from sklearn.datasets import make_moons
    from sklearn.linear_model import SGDClassifier
    from sklearn.neural_network import MLPClassifier

    X, y = make_moons(n_samples=n_samples, noise=0.2, random_state=1)
    X_test, y_test = make_moons(n_samples=1000, noise=0.2, random_state=2)
    # stands in for da.from_zarr(...) / a Dask DataFrame's .to_dask_array(lengths=True)
    dX = da.from_array(X, chunks=(chunk_size, 2))
    dy = da.from_array(y, chunks=chunk_size)
    # each partial_fit call is one epoch; under the default "plateau" schedule a stream grows
    # at the end of a call once the phase's returns diminish, its search reading the chunk and
    # a reservoir of earlier rows (at most search_subsample of them)
    params = dict(solver="adam", max_hidden_units=12, random_state=0)
    clf = fit_on_chunks(FoldGrowClassifier(**params), dX, dy, classes=np.unique(y),
                        n_epochs=10)
    # the same stream, the network kept at its seed (half of max_hidden_units): what
    # growth brings
    seed = fit_on_chunks(FoldGrowClassifier(growth_schedule="none", **params), dX, dy,
                         classes=np.unique(y), n_epochs=10)
    linear = fit_on_chunks(SGDClassifier(loss="log_loss", random_state=0), dX, dy,
                           classes=np.unique(y), n_epochs=10)
    mlp = fit_on_chunks(MLPClassifier(random_state=0), dX, dy, classes=np.unique(y),
                        n_epochs=10)
    scores = {"grown": clf.score(X_test, y_test), "seed": seed.score(X_test, y_test),
              "linear": linear.score(X_test, y_test), "mlp100": mlp.score(X_test, y_test),
              "seed_units": seed.hidden_layer_sizes_[0]}
    return clf, scores, (dX, dy, X_test, y_test)


def incremental_demo(dX, dy, X_test, y_test):
    """dask-ml's ``Incremental`` wrapper: one pass of ``partial_fit`` over the blocks."""
    try:
        from dask_ml.wrappers import Incremental
    except ImportError:
        print("(dask-ml not installed: skipping its Incremental wrapper)")
        return
    inc = Incremental(FoldGrowClassifier(solver="adam", random_state=0), shuffle_blocks=False)
    inc.fit(dX, dy, classes=np.unique(y_test))
    print(f"dask-ml Incremental (one pass): held-out accuracy {inc.score(X_test, y_test):.3f}")


def save_figure(clf, score, n_chunks, X_test, y_test, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skfold.plotting import plot_decision_boundary, plot_growth

    fig, axes = plt.subplot_mosaic([["boundary", "loss"], ["boundary", "units"]],
                                   figsize=(11, 4.4), height_ratios=(2, 1),
                                   layout="constrained")
    plot_decision_boundary(clf, X_test[:400], y_test[:400], ax=axes["boundary"],
                           show_folds=False)
    axes["boundary"].set_title(f"grown over {n_chunks} chunks with partial_fit: "
                               f"held-out accuracy {score:.3f}", fontsize="medium")
    axes["loss"].sharex(axes["units"])
    plot_growth(clf, axes=(axes["loss"], axes["units"]))
    fig.savefig(out / "distributed_search.png", dpi=90)
    plt.close(fig)


def main(quick=QUICK, out=None):
    """Run both demos; returns what they fitted and scored, for inspection."""
    import pandas as pd
    from distributed import Client

    X_train, X_test, y_train, y_test = make_data(quick)
    with local_cluster() as cluster, Client(cluster, timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
        print(f"Dask cluster: {len(client.scheduler_info()['workers'])} worker processes")
        search = search_on_dask(make_search(quick, n_jobs=-1), X_train, y_train)
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(results_table(search).to_string(index=False))
    print(f"best parameters on Dask: {search.best_params_}, test accuracy "
          f"{search.score(X_test, y_test):.3f}")

    clf, scores, (dX, dy, X_hold, y_hold) = out_of_core_demo(
        n_samples=8000 if quick else 40_000, chunk_size=1000 if quick else 5000)
    score = scores["grown"]
    print(f"partial_fit over {dX.numblocks[0]} chunks of a Dask array: held-out accuracy "
          f"{score:.3f}, {clf.hidden_layer_sizes_[0]} hidden units after {clf.n_growths_} "
          f"growths (the same stream without growth, {scores['seed_units']} units: "
          f"{scores['seed']:.3f}; a linear model trained the same way: "
          f"{scores['linear']:.3f}; MLPClassifier(100): "
          f"{scores['mlp100']:.3f})")
    incremental_demo(dX, dy, X_hold, y_hold)
    out = output_dir() if out is None else out
    save_figure(clf, score, dX.numblocks[0], X_hold, y_hold, out)
    print(f"figure written to {out}")
    return {"search": search, "chunked": clf, "chunked_score": score,
            "seed_score": scores["seed"], "linear_score": scores["linear"],
            "mlp100_score": scores["mlp100"]}


if __name__ == "__main__":
    main()
