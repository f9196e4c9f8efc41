"""The linear seed: a direct input-to-output connection fitted first, so the network starts
as the linear model and grows on its mistakes."""

import io

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.datasets import make_classification, make_moons, make_regression
from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV
from sklearn.model_selection import train_test_split

import skfold
from skfold import FoldGrowClassifier, FoldGrowRegressor


def _standardised_regression(seed=0):
    X, y = make_regression(n_samples=300, n_features=6, noise=20.0, random_state=seed)
    return X, (y - y.mean()) / y.std()


def test_the_regressors_linear_part_is_the_ridge_regression_ridgecv_picks():
    X, y = _standardised_regression()
    reg = FoldGrowRegressor(linear_seed=True, early_stopping=False, max_iter=50,
                            random_state=0).fit(X, y)
    ridge = RidgeCV(alphas=skfold.linear_seed.LINEAR_ALPHAS).fit(X, y)
    np.testing.assert_allclose(reg.linear_coef_[:, 0], ridge.coef_, rtol=1e-4, atol=1e-5)


def test_without_the_linear_seed_there_is_no_linear_part():
    X, y = _standardised_regression()
    reg = FoldGrowRegressor(linear_seed=False, max_iter=20, random_state=0).fit(X, y)
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


def test_auto_seeds_with_the_linear_model_only_where_held_out_rows_judge_the_fit():
    X, y = make_classification(n_samples=400, n_features=5, random_state=3)
    large = FoldGrowClassifier(max_iter=30, random_state=0).fit(X, y)
    small = FoldGrowClassifier(max_iter=30, random_state=0).fit(X[:150], y[:150])
    no_holdout = FoldGrowClassifier(max_iter=30, early_stopping=False, random_state=0).fit(X, y)
    assert large.linear_coef_ is not None
    assert small.linear_coef_ is None and no_holdout.linear_coef_ is None


def test_on_a_linear_target_the_fit_keeps_ridgecvs_model_refitted_on_every_row():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = X @ rng.normal(size=5) + rng.normal(scale=1.0, size=400)
    reg = FoldGrowRegressor(random_state=0).fit(X, y)
    assert np.all(reg.coefs_[-1] == 0)  # no hidden unit earned a place
    predictions = reg.predict(X)
    ridge = RidgeCV(alphas=skfold.linear_seed.LINEAR_ALPHAS).fit(X, y)
    np.testing.assert_allclose(predictions, ridge.predict(X), atol=1e-4 * np.abs(y).max())


def test_on_a_curved_boundary_the_hidden_units_are_kept_and_beat_the_linear_model():
    X, y = make_moons(n_samples=600, noise=0.15, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    clf = FoldGrowClassifier(random_state=0).fit(X_train, y_train)
    assert np.any(clf.coefs_[-1] != 0)
    linear = LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
    assert clf.score(X_test, y_test) > linear + 0.05
