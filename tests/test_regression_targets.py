"""A regressor works whatever the units of its target, and a fit that did not train says so."""

import warnings

import numpy as np
import pytest
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from skfold import FoldGrowClassifier, FoldGrowRegressor


def _fit(est, X, y, **kwargs):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est.fit(X, y, **kwargs)
    return [str(w.message) for w in record if issubclass(w.category, ConvergenceWarning)]


@pytest.mark.parametrize("solver, params", [("lbfgs", {}),
                                            ("adam", dict(learning_rate_init=0.01,
                                                          max_iter=300))])
def test_a_target_in_millions_trains_as_well_as_one_in_units(solver, params):
    X = np.random.RandomState(0).normal(size=(300, 2))
    y = (2 * X[:, 0] + X[:, 1]) * 1e6
    est = FoldGrowRegressor(solver=solver, random_state=0, **params)
    messages = _fit(est, X, y)
    assert not any("did not train" in m for m in messages)
    assert est.n_iter_ > 0 and len(est.loss_curve_) == est.n_iter_
    assert r2_score(y, est.predict(X)) > 0.99


@pytest.mark.parametrize("seed", range(5))
def test_house_price_like_targets_train_on_every_seed(seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(300, 4))
    y = 1e6 + 3e5 * np.tanh(X @ rng.normal(size=4)) + 2e4 * rng.normal(size=300)
    est = FoldGrowRegressor(random_state=seed)
    _fit(est, X, y)
    assert r2_score(y, est.predict(X)) > 0.9


@pytest.mark.parametrize("schedule", ["none", "plateau"])
def test_the_fit_does_not_depend_on_the_units_of_the_target(schedule):
    """(y - mean) / scale is what the network fits: y in other units (an affine map with a
    positive scale) trains the same network, which predicts the same in those units. Growth
    decisions are discrete, so rounding can grow another network: then it fits as well."""
    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    small = FoldGrowRegressor(growth_schedule=schedule, hidden_units=6, random_state=0)
    large = FoldGrowRegressor(growth_schedule=schedule, hidden_units=6, random_state=0)
    _fit(small, X, y)
    _fit(large, X, 3e5 * y + 1e6)
    np.testing.assert_allclose(large.target_scale_, 3e5 * small.target_scale_, rtol=1e-12)
    if schedule == "none":
        np.testing.assert_allclose(large.predict(X), 3e5 * small.predict(X) + 1e6, rtol=1e-6)
    assert abs(r2_score(3e5 * y + 1e6, large.predict(X)) - r2_score(y, small.predict(X))) < 0.02


@pytest.mark.parametrize("unit", [1e-13, 1e-40, 1e-250])
def test_a_target_in_tiny_units_about_zero_is_standardised_like_any_other(unit):
    # a spread below 1e-12 about 0 (farads, wavelengths in metres) used to count as constant
    rng = np.random.RandomState(4)
    X = rng.normal(size=(150, 3))
    y = X[:, 0] + np.sin(3 * X[:, 1])
    ones = FoldGrowRegressor(growth_schedule="none", hidden_units=4, random_state=0)
    tiny = FoldGrowRegressor(growth_schedule="none", hidden_units=4, random_state=0)
    _fit(ones, X, y)
    _fit(tiny, X, unit * y)
    np.testing.assert_allclose(tiny.target_scale_, unit * ones.target_scale_, rtol=1e-12)
    np.testing.assert_allclose(tiny.predict(X), unit * ones.predict(X), rtol=1e-6,
                               atol=1e-9 * unit)


@pytest.mark.parametrize("y_value", [0.0, 7.3, -2e8])
def test_a_constant_target_keeps_its_units_even_with_rounding_in_it(y_value):
    X = np.random.RandomState(5).normal(size=(100, 2))
    y = np.full(100, y_value)
    y[::2] = (y_value / 3) * 3  # the same number up to the last bit
    est = FoldGrowRegressor(growth_schedule="none", hidden_units=2, max_iter=20, random_state=0)
    _fit(est, X, y)
    np.testing.assert_array_equal(est.target_scale_, [1.0])
    np.testing.assert_allclose(est.predict(X), y_value, atol=1e-6 * (1 + abs(y_value)))


def test_growth_records_and_predictions_are_in_the_targets_units():
    rng = np.random.RandomState(2)
    X = rng.normal(size=(150, 2))
    y = 1e4 * (np.abs(X[:, 0]) + X[:, 1])
    est = FoldGrowRegressor(hidden_units=2, random_state=0)
    _fit(est, X, y)
    folded = [e for e in est.growth_history_ if e["x_t"] is not None]
    assert folded
    for event in folded:
        np.testing.assert_allclose(event["true"], [y[event["instance_index"]]], rtol=1e-12)
    assert np.abs(est.predict(X) - y).mean() < 0.2 * np.abs(y - y.mean()).mean()


def test_sample_weights_weigh_the_standardisation_as_repeated_rows_would():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(60, 2))
    y = 50 + 10 * X[:, 0]
    weights = rng.randint(1, 4, size=60)
    weighted = FoldGrowRegressor(growth_schedule="none", random_state=0)
    _fit(weighted, X, y, sample_weight=weights)
    repeated = FoldGrowRegressor(growth_schedule="none", random_state=0)
    _fit(repeated, np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.target_mean_, repeated.target_mean_, rtol=1e-12)
    np.testing.assert_allclose(weighted.target_scale_, repeated.target_scale_, rtol=1e-12)


@pytest.mark.parametrize("Estimator", [FoldGrowClassifier, FoldGrowRegressor])
def test_a_fit_whose_optimizer_gives_up_at_once_warns_that_it_did_not_train(Estimator,
                                                                          monkeypatch):
    """Every L-BFGS-B line search failing at the first step used to count as convergence."""
    def gives_up(fun, x0, *args, **kwargs):
        value, grad = fun(x0)
        return scipy.optimize.OptimizeResult(x=np.array(x0), fun=value, jac=grad, nit=0,
                                             status=2, message="ABNORMAL", success=False)

    import skfold.lbfgs as lbfgs
    monkeypatch.setattr(lbfgs.scipy.optimize, "minimize", gives_up)
    X = np.random.RandomState(0).normal(size=(80, 2))
    y = (X[:, 0] > 0).astype(int)
    est = Estimator(solver="lbfgs", random_state=0)
    messages = _fit(est, X, y)
    assert est.n_iter_ == 0
    assert any("did not train" in m for m in messages), messages
