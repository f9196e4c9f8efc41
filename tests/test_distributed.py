"""Scaling out: the Dask example's search on a LocalCluster, and partial_fit over Dask chunks."""

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_moons

from skfold import FoldGrowClassifier, FoldGrowRegressor

da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")
pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def example():
    """``examples/distributed_search.py`` as a module (it imports pipeline_gridsearch.py)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import distributed_search
        yield distributed_search
    finally:
        sys.path.remove(str(EXAMPLES))
        for name in ("distributed_search", "pipeline_gridsearch"):
            sys.modules.pop(name, None)


def test_dask_example_finds_the_local_best_parameters(example, tmp_path, capsys):
    """The example's main(): its search on a 2-process LocalCluster, then its chunked fit."""
    result = example.main(quick=True, out=tmp_path)
    out = capsys.readouterr().out
    assert "Dask cluster: 2 worker processes" in out  # the cluster is closed again by now
    gridsearch = sys.modules["pipeline_gridsearch"]
    X_train, _, y_train, _ = gridsearch.make_data(quick=True)
    local = gridsearch.make_search(quick=True).fit(X_train, y_train)
    remote = result["search"]
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], atol=1e-12)
    # grown over 8 chunks, the network learns what a linear model fed the same way cannot
    assert result["chunked"].n_growths_ >= 1
    assert result["chunked_score"] >= result["linear_score"] + 0.05
    # and what its seed (half of max_hidden_units) learns from the same stream, without growth
    assert result["chunked_score"] >= result["seed_score"] + 0.03
    assert result["chunked"].hidden_layer_sizes_[0] > 2
    # issue 25's bar for a stream: within 1 point of MLPClassifier(100).partial_fit on the
    # same chunks, with at most a third of its units
    assert result["chunked_score"] >= result["mlp100_score"] - 0.01
    assert result["chunked"].hidden_layer_sizes_[0] <= 33
    assert (tmp_path / "distributed_search.png").stat().st_size > 10_000


def _moons(n, seed):
    return make_moons(n_samples=n, noise=0.2, random_state=seed)


def test_fit_on_chunks_is_partial_fit_over_each_chunk_in_order(example):
    X, y = _moons(600, 0)
    dX = da.from_array(X, chunks=(150, 2))
    dy = da.from_array(y, chunks=100)  # misaligned with X's chunks: rechunked to match
    params = dict(solver="adam", learning_rate_init=0.01, random_state=0)
    chunked = example.fit_on_chunks(FoldGrowClassifier(**params), dX, dy, classes=[0, 1],
                                    n_epochs=2)
    by_hand = FoldGrowClassifier(**params)
    for _ in range(2):
        for start in range(0, 600, 150):
            by_hand.partial_fit(X[start:start + 150], y[start:start + 150], classes=[0, 1])
    assert chunked.n_iter_ == by_hand.n_iter_ == 8
    np.testing.assert_array_equal(chunked.predict_proba(X), by_hand.predict_proba(X))


def test_fit_on_chunks_regressor_over_column_chunks(example):
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(400, 3))
    y = X @ [1.0, -2.0, 0.5]
    reg = example.fit_on_chunks(FoldGrowRegressor(solver="adam", random_state=0),
                                da.from_array(X, chunks=(100, 1)), da.from_array(y, chunks=100))
    assert reg.n_features_in_ == 3 and reg.n_iter_ == 4


def test_dask_ml_incremental_matches_the_plain_loop(example):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = _moons(400, 0)
    dX, dy = da.from_array(X, chunks=(100, 2)), da.from_array(y, chunks=100)
    base = FoldGrowClassifier(solver="adam", learning_rate_init=0.01, random_state=0)
    inc = wrappers.Incremental(clone(base), shuffle_blocks=False).fit(dX, dy, classes=[0, 1])
    loop = example.fit_on_chunks(clone(base), dX, dy, classes=[0, 1])
    np.testing.assert_array_equal(inc.estimator_.predict_proba(X), loop.predict_proba(X))
