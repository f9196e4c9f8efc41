"""Sparse X (SciPy CSR/CSC matrices and arrays, other formats through CSR): the same fit and the
same predictions as the dense X they hold, without densifying the whole matrix."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfold import FoldGrowClassifier, FoldGrowRegressor

FORMATS = [sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array, sp.coo_matrix]


def _data():
    X, y = make_classification(240, 12, random_state=0)
    X[np.abs(X) < 0.8] = 0.0
    return X, y


def _fit(cls, X, y, solver, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(solver=solver, max_iter=40, random_state=0, max_hidden_units=5,
                   growth_schedule="fixed", grow_every=8, **kw).fit(X, y)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("cls", [FoldGrowClassifier, FoldGrowRegressor])
def test_sparse_fit_equals_dense_fit(cls, solver):
    X, y = _data()
    target = y if cls is FoldGrowClassifier else X[:, 0] + 2 * X[:, 1]
    dense = _fit(cls, X, target, solver)
    assert dense.n_growths_ > 0
    for fmt in FORMATS:
        est = _fit(cls, fmt(X), target, solver)
        assert est.hidden_layer_sizes_ == dense.hidden_layer_sizes_
        for a, b in zip(est.coefs_, dense.coefs_):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(est.predict(fmt(X)), dense.predict(X))
        assert est.score(fmt(X), target) == dense.score(X, target)
        if cls is FoldGrowClassifier:
            np.testing.assert_array_equal(est.predict_proba(fmt(X)), dense.predict_proba(X))
            np.testing.assert_array_equal(est.decision_function(fmt(X)),
                                          dense.decision_function(X))


def test_sparse_partial_fit_grow_and_early_stopping_equal_dense():
    X, y = _data()
    results = []
    for data in (X, sp.csr_matrix(X)):
        est = FoldGrowClassifier(solver="adam", random_state=0, max_hidden_units=6)
        for _ in range(3):
            est.partial_fit(data, y, classes=[0, 1])
        est.grow(data, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stopped = _fit(FoldGrowClassifier, data, y, "adam", early_stopping=True)
        results.append((est.coefs_, est.predict(data), stopped.coefs_,
                        stopped.validation_scores_))
    (c1, p1, s1, v1), (c2, p2, s2, v2) = results
    for a, b in zip(c1 + s1, c2 + s2):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(p1, p2)
    assert v1 == v2


@pytest.mark.parametrize("first", ["dense", "sparse"])
def test_a_stream_whose_chunks_change_format_equals_the_dense_stream(first):
    # a sparse chunk after a dense one used to fail inside NumPy (the reservoirs' rows)
    X, y = _data()
    chunks = [slice(0, 80), slice(80, 160), slice(160, 240)]
    sparse_at = {0, 2} if first == "sparse" else {1}
    streams = []
    for mixed in (False, True):
        est = FoldGrowClassifier(solver="adam", early_stopping=True, max_hidden_units=6,
                                 random_state=0)
        for _ in range(3):
            for i, rows in enumerate(chunks):
                data = sp.csr_matrix(X[rows]) if mixed and i in sparse_at else X[rows]
                est.partial_fit(data, y[rows], classes=[0, 1])
        streams.append(est)
    dense, mixed = streams
    assert mixed.hidden_layer_sizes_ == dense.hidden_layer_sizes_
    for a, b in zip(mixed.coefs_, dense.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mixed.validation_scores_, dense.validation_scores_, atol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_sparse_with_nan_or_inf_is_rejected(bad):
    X, y = _data()
    X[0, 0] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        FoldGrowClassifier(max_iter=5).fit(sp.csr_matrix(X), y)


def test_pipeline_with_a_sparse_one_hot_encoder():
    rng = np.random.RandomState(0)
    n = 600
    level = rng.randint(50, size=n)
    numeric = rng.normal(size=(n, 3))
    X = np.empty((n, 4), dtype=object)
    X[:, 0] = [f"level{v}" for v in level]
    X[:, 1:] = numeric
    y = ((level % 3 == 0) ^ (numeric[:, 0] > 0)).astype(int)
    columns = ColumnTransformer([("cat", OneHotEncoder(), [0]),
                                 ("num", StandardScaler(), [1, 2, 3])])
    assert sp.issparse(columns.fit_transform(X))
    model = make_pipeline(columns, FoldGrowClassifier(random_state=0, max_iter=200))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    assert model.score(X, y) > 0.8


def test_explain_unit_counts_active_rows_of_sparse_X():
    X, y = _data()
    est = _fit(FoldGrowClassifier, sp.csr_matrix(X), y, "adam")
    grown = next(e for e in est.growth_history_ if e.get("unit") is not None)
    dense = est.explain_unit(grown["unit"], X=X)
    sparse = est.explain_unit(grown["unit"], X=sp.csc_matrix(X))
    assert sparse["n_active"] == dense["n_active"]


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_growth_on_wide_sparse_X_densifies_its_search_subsample_once(solver):
    """Issue 25: a growth on a wide sparse matrix holds the search subsample densified once, in
    float64 (the dtype k-means needs), and scratch space far smaller than it: its peak traced
    memory stays under 1.5 times that subsample. Before, a d x d identity (the activated
    segment), k-means' copy and np.var temporary, and the fold init's float64 and float32
    copies of ``H - h_f`` took it past 3 times; and ``grow`` on an L-BFGS fit densified all
    of X, as full-batch training does."""
    rng = np.random.RandomState(0)
    n, d = 4000, 2000
    X = sp.random(n, d, density=0.005, format="csr", random_state=rng)
    score = X @ rng.normal(size=d)
    y = (score > np.median(score)).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = FoldGrowClassifier(solver=solver, max_iter=2, growth_schedule="none",
                                 random_state=0).fit(X, y)
        tracemalloc.start()
        try:
            est.grow(X, y)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert est.growth_history_[-1]["unit"] is not None  # a fold unit: the whole search ran
    subsample = min(n, est.search_subsample) * d * 8
    assert peak < 1.5 * subsample, (
        f"peak {peak / 2**20:.1f} MiB, float64 search subsample {subsample / 2**20:.1f} MiB")
