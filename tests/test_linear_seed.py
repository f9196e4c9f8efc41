"""The linear seed: a direct input-to-output connection fitted first, so the network starts
as the linear model and grows on its mistakes."""

import io

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split

import skfold
from skfold import FoldGrowClassifier, FoldGrowRegressor


def _standardised_regression(seed=0):
    X, y = make_regression(n_samples=300, n_features=6, noise=20.0, random_state=seed)
    return X, (y - y.mean()) / y.std()


def test_the_linear_part_is_ridge_with_scikit_learns_default_penalty():
    X, y = _standardised_regression()
    reg = FoldGrowRegressor(linear_seed=True, early_stopping=False, max_iter=50,
                            random_state=0).fit(X, y)
    ridge = Ridge(alpha=1.0).fit(X, y)
    np.testing.assert_allclose(reg.linear_coef_[:, 0], ridge.coef_, rtol=1e-4, atol=1e-5)


def test_without_the_linear_seed_there_is_no_linear_part():
    X, y = _standardised_regression()
    reg = FoldGrowRegressor(max_iter=20, random_state=0).fit(X, y)
    assert reg.linear_coef_ is None


def test_predictions_are_the_hidden_units_plus_the_linear_part():
    X, y = make_classification(n_samples=300, n_features=5, n_classes=3, n_informative=3,
                               random_state=0)
    clf = FoldGrowClassifier(linear_seed=True, max_iter=100, random_state=0).fit(X, y)
    h = np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0.0)
    logits = h @ clf.coefs_[1] + clf.intercepts_[1] + X @ clf.linear_coef_
    np.testing.assert_allclose(clf.predict_proba(X), softmax(logits, axis=1), atol=1e-6)


def test_growth_keeps_the_function_of_a_network_with_a_linear_part():
    X, y = make_classification(n_samples=300, n_features=4, flip_y=0.1, random_state=1)
    clf = FoldGrowClassifier(linear_seed=True, growth_schedule="none", max_iter=100,
                             random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    width = clf.hidden_layer_sizes_[0]
    clf.grow(X, y)
    assert clf.hidden_layer_sizes_[0] == width + 1
    np.testing.assert_allclose(clf.predict_proba(X), before, atol=1e-7)
    event = clf.growth_history_[-1]
    # the fold point is on the predicted/true boundary of x_t's segment, whose map has S in it
    x_f = np.asarray(event["x_f"], dtype=float)[None]
    logits = clf._forward(x_f)[0]
    p, t = (list(clf.classes_).index(event[k]) for k in ("predicted", "true"))
    assert abs(logits[p] - logits[t]) < 1e-4 * (1 + np.abs(logits).max())


def test_a_saved_model_keeps_its_linear_part():
    X, y = _standardised_regression(1)
    reg = FoldGrowRegressor(linear_seed=True, max_iter=60, random_state=0).fit(X, y)
    buffer = io.BytesIO()
    skfold.save(reg, buffer)
    buffer.seek(0)
    loaded = skfold.load(buffer)
    np.testing.assert_array_equal(loaded.linear_coef_, reg.linear_coef_)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_sparse_input_fits_the_same_linear_seed_as_dense():
    X, y = make_classification(n_samples=200, n_features=8, random_state=2)
    X[X < 0.3] = 0.0
    dense = FoldGrowClassifier(linear_seed=True, max_iter=40, random_state=0).fit(X, y)
    sparse = FoldGrowClassifier(linear_seed=True, max_iter=40, random_state=0).fit(
        sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.linear_coef_, dense.linear_coef_, atol=1e-6)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X),
                               atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_on_a_linear_task_the_seeded_network_is_not_worse_than_logistic_regression(seed):
    X, y = make_classification(n_samples=600, n_features=10, n_informative=5, flip_y=0.15,
                               class_sep=0.8, random_state=seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=seed, stratify=y)
    linear = LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
    grown = FoldGrowClassifier(linear_seed=True, random_state=seed).fit(X_train, y_train)
    assert grown.score(X_test, y_test) >= linear - 0.02
