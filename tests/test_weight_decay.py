"""``alpha="auto"``: the penalty of ``LogisticRegression``'s ``C=1`` with full-batch L-BFGS
below 10,000 rows, ``MLPClassifier``'s 1e-4 on more rows and with the mini-batch solvers."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_friedman1
from sklearn.model_selection import GridSearchCV

from skfold import FoldGrowClassifier, FoldGrowRegressor


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=400, n_features=8, n_informative=5, flip_y=0.1,
                               random_state=0)


def _coefs(est):
    return np.concatenate([c.ravel() for c in est.coefs_])


@pytest.mark.parametrize("Estimator, make", [
    (FoldGrowClassifier, lambda: make_classification(n_samples=400, n_features=8,
                                                     n_informative=5, random_state=0)),
    (FoldGrowRegressor, lambda: make_friedman1(n_samples=400, random_state=0))])
def test_auto_is_the_logistic_regression_penalty_with_lbfgs(Estimator, make):
    X, y = make()
    fits = {alpha: Estimator(alpha=alpha, max_iter=200, random_state=0).fit(X, y)
            for alpha in ("auto", 1.0, 1e-4)}
    np.testing.assert_array_equal(_coefs(fits["auto"]), _coefs(fits[1.0]))
    # and the penalty tells: the weights are smaller than under MLPClassifier's 1e-4
    assert np.abs(_coefs(fits["auto"])).max() < np.abs(_coefs(fits[1e-4])).max()


def test_auto_is_mlpclassifiers_penalty_from_ten_thousand_rows():
    X, y = make_classification(n_samples=10_000, n_features=5, n_informative=3,
                               random_state=0)
    fits = [FoldGrowClassifier(alpha=alpha, solver="lbfgs", max_iter=5,
                               random_state=0).fit(X, y) for alpha in ("auto", 1e-4, 1.0)]
    np.testing.assert_array_equal(_coefs(fits[0]), _coefs(fits[1]))
    assert not np.array_equal(_coefs(fits[0]), _coefs(fits[2]))


def test_auto_is_mlpclassifiers_penalty_with_adam(data):
    X, y = data
    fits = [FoldGrowClassifier(alpha=alpha, solver="adam", max_iter=15,
                               random_state=0).fit(X, y) for alpha in ("auto", 1e-4)]
    np.testing.assert_array_equal(_coefs(fits[0]), _coefs(fits[1]))


def test_auto_is_mlpclassifiers_penalty_in_partial_fit(data):
    X, y = data
    fits = [FoldGrowClassifier(alpha=alpha, random_state=0) for alpha in ("auto", 1e-4)]
    for est in fits:
        for chunk in np.array_split(np.arange(len(y)), 4):
            est.partial_fit(X[chunk], y[chunk], classes=[0, 1])
    np.testing.assert_array_equal(_coefs(fits[0]), _coefs(fits[1]))


def test_a_grid_search_can_tune_alpha_around_auto(data):
    X, y = data
    search = GridSearchCV(FoldGrowClassifier(max_iter=50, random_state=0),
                          {"alpha": ["auto", 1e-4, 10.0]}, cv=2).fit(X, y)
    assert search.best_params_["alpha"] in ("auto", 1e-4, 10.0)
    assert clone(search.best_estimator_).get_params()["alpha"] == search.best_params_["alpha"]


@pytest.mark.parametrize("alpha", ["big", -1.0, float("nan"), float("inf"), None])
def test_a_bad_alpha_is_refused_clearly(data, alpha):
    X, y = data
    with pytest.raises((ValueError, TypeError), match="alpha"):
        FoldGrowClassifier(alpha=alpha).fit(X, y)
