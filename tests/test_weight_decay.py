"""``alpha="auto"`` (the default): the penalty of ``LogisticRegression``'s ``C=1`` with
full-batch L-BFGS on data too small to hold rows out (below 200 rows), ``MLPClassifier``'s 1e-4
wherever held-out rows judge the fit, on large data and with the mini-batch solvers."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_friedman1
from sklearn.model_selection import GridSearchCV

from skfold import FoldGrowClassifier, FoldGrowRegressor


def _data(n_samples):
    return make_classification(n_samples=n_samples, n_features=8, n_informative=5, flip_y=0.1,
                               random_state=0)


def _coefs(est):
    return np.concatenate([c.ravel() for c in est.coefs_])


def _fits(Estimator, X, y, alphas, **params):
    return {alpha: Estimator(alpha=alpha, random_state=0, **params).fit(X, y)
            for alpha in alphas}


@pytest.mark.parametrize("Estimator, make", [
    (FoldGrowClassifier, lambda: _data(150)),
    (FoldGrowRegressor, lambda: make_friedman1(n_samples=150, random_state=0))])
def test_below_200_rows_auto_is_the_logistic_regression_penalty(Estimator, make):
    X, y = make()
    fits = _fits(Estimator, X, y, ("auto", 1.0, 1e-4), max_iter=200)
    assert fits["auto"].alpha_ == 1.0
    np.testing.assert_array_equal(_coefs(fits["auto"]), _coefs(fits[1.0]))
    # and the penalty tells: the weights are smaller than under MLPClassifier's 1e-4
    assert np.abs(_coefs(fits["auto"])).max() < np.abs(_coefs(fits[1e-4])).max()


def test_with_held_out_rows_auto_is_mlpclassifiers_penalty():
    X, y = _data(400)
    fits = _fits(FoldGrowClassifier, X, y, ("auto", 1e-4), max_iter=60)
    assert fits["auto"].alpha_ == 1e-4
    np.testing.assert_array_equal(_coefs(fits["auto"]), _coefs(fits[1e-4]))


def test_the_bound_follows_the_held_out_share():
    X, y = _data(300)  # 15 held-out rows at a 5 % share: too few, nothing is held out
    est = FoldGrowClassifier(validation_fraction=0.05, max_iter=20, random_state=0).fit(X, y)
    assert est.alpha_ == 1.0 and est.validation_scores_ is None


def test_auto_is_mlpclassifiers_penalty_with_adam():
    X, y = _data(150)
    fits = _fits(FoldGrowClassifier, X, y, ("auto", 1e-4), solver="adam", max_iter=15)
    assert fits["auto"].alpha_ == 1e-4
    np.testing.assert_array_equal(_coefs(fits["auto"]), _coefs(fits[1e-4]))


def test_auto_is_mlpclassifiers_penalty_in_partial_fit():
    X, y = _data(150)
    fits = [FoldGrowClassifier(alpha=alpha, random_state=0) for alpha in ("auto", 1e-4)]
    for est in fits:
        for chunk in np.array_split(np.arange(len(y)), 4):
            est.partial_fit(X[chunk], y[chunk], classes=[0, 1])
    assert fits[0].alpha_ == 1e-4
    np.testing.assert_array_equal(_coefs(fits[0]), _coefs(fits[1]))


def test_a_grid_search_can_tune_alpha_around_auto():
    X, y = _data(150)
    search = GridSearchCV(FoldGrowClassifier(max_iter=50, random_state=0),
                          {"alpha": ["auto", 1e-4, 10.0]}, cv=2).fit(X, y)
    assert search.best_params_["alpha"] in ("auto", 1e-4, 10.0)
    assert clone(search.best_estimator_).get_params()["alpha"] == search.best_params_["alpha"]


@pytest.mark.parametrize("alpha", ["big", -1.0, float("nan"), float("inf"), None])
def test_a_bad_alpha_is_refused_clearly(alpha):
    X, y = _data(150)
    with pytest.raises((ValueError, TypeError), match="alpha"):
        FoldGrowClassifier(alpha=alpha).fit(X, y)
