"""Bad input gets a clear ValueError/TypeError or a correct result: never a torch stack trace,
never a NaN prediction.

Each defect is applied, one at a time, to datasets hypothesis draws over dtypes, shapes and
values; an oracle says what must happen (the error and the words its message must contain, or
success with finite predictions).
"""

import copy
import os
import traceback
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skfold import FoldGrowClassifier, FoldGrowRegressor
from skfold._validation import OVERFLOW_MARGIN
from skfold.fit_setup import SOLVER_DTYPES

TORCH_DIR = os.path.dirname(torch.__file__)
ESTIMATORS = [FoldGrowClassifier, FoldGrowRegressor]
SOLVERS = ["adam", "sgd", "lbfgs"]
X_DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_]


def tiny(Estimator, solver="adam", **params):
    """Fast estimator that grows every 2 epochs, so the growth search sees the data too."""
    return Estimator(solver=solver, hidden_units=2, max_hidden_units=4, max_iter=6,
                     growth_schedule="fixed", grow_every=2, random_state=0, device="cpu",
                     **params)


def overflow_limit(solver):
    return float(np.sqrt(torch.finfo(SOLVER_DTYPES[solver]).max)) * OVERFLOW_MARGIN


def outcome(call):
    """Run ``call``; return its result, or the ValueError/TypeError it raised, checked clean.

    Any other exception propagates and fails the test.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except (ValueError, TypeError) as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        inside_torch = [f for f in frames if f.filename.startswith(TORCH_DIR)]
        assert not inside_torch, f"error raised from inside torch: {exc!r}\n{inside_torch}"
        assert len(str(exc)) > 20, f"message too terse to act on: {exc!r}"
        return exc


def expect_error(result, kind, *words):
    assert isinstance(result, kind), f"expected {kind.__name__}, got {result!r}"
    message = str(result).lower()
    for word in words:
        assert word.lower() in message, f"{word!r} not in message: {result}"


def assert_finite_predictions(est, X):
    if isinstance(est, FoldGrowClassifier):
        proba = est.predict_proba(X)
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert np.isfinite(est.decision_function(X)).all()
        assert np.isin(est.predict(X), est.classes_).all()
    else:
        pred = est.predict(X)
        assert np.isfinite(pred).all()
    assert all(np.isfinite(c).all() for c in est.coefs_)


@st.composite
def datasets(draw, Estimator, min_rows=2):
    """A valid 2-D dataset in a drawn dtype, with labels or targets for ``Estimator``."""
    n = draw(st.integers(min_rows, 14))
    d = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(X_DTYPES))
    if np.issubdtype(dtype, np.floating):
        elements = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=16)
    elif dtype is np.bool_:
        elements = st.booleans()
    else:
        elements = st.integers(0, 100)
    X = draw(hnp.arrays(dtype, (n, d), elements=elements))
    if Estimator is FoldGrowClassifier:
        labels = draw(st.sampled_from([np.array([0, 1, 2]), np.array(["cat", "dog"]),
                                       np.array([-1.0, 2.0])]))
        y = labels[np.arange(n) % len(labels)]
        y = y[draw(st.permutations(range(n)))]
    else:
        y = draw(hnp.arrays(np.float64, n, elements=st.floats(-1e3, 1e3)))
    return X, y


FIT_DEFECTS = ["none", "nan_X", "inf_X", "huge_X", "nan_y", "inf_y", "huge_y", "empty",
               "one_sample", "three_d", "one_d", "strings_X", "objects_X", "sparse_X",
               "one_class", "continuous_y", "negative_weight", "zero_weights",
               "constant_columns", "duplicated_rows"]


def apply_defect(defect, X, y, Estimator, data):
    """The defective (X, y, fit kwargs) and the expected outcome: None (success) or
    ``(exception type, words the message must contain)``."""
    X = X.astype(np.float64) if defect in ("nan_X", "inf_X", "huge_X") else X
    y = y.copy()
    row = data.draw(st.integers(0, X.shape[0] - 1))
    col = data.draw(st.integers(0, X.shape[1] - 1))
    kwargs = {}
    classifier = Estimator is FoldGrowClassifier
    if defect == "none":
        return X, y, kwargs, None
    if defect == "nan_X":
        X[row, col] = np.nan
        return X, y, kwargs, (ValueError, ["NaN"])
    if defect == "inf_X":
        X[row, col] = data.draw(st.sampled_from([np.inf, -np.inf]))
        return X, y, kwargs, (ValueError, ["infinity"])
    if defect == "huge_X":
        X[row, col] = data.draw(st.sampled_from([1, -1])) * 10.0 ** data.draw(
            st.integers(16, 300))
        return X, y, kwargs, "huge"
    if defect in ("nan_y", "inf_y"):
        y = y.astype(np.float64) if not classifier else np.where(
            np.arange(len(y)) % 2, 1.0, 0.0)
        y[row] = np.nan if defect == "nan_y" else np.inf
        return X, y, kwargs, (ValueError, ["NaN" if defect == "nan_y" else "infinity"])
    if defect == "huge_y":
        if classifier:  # huge labels are just labels
            y = np.where(np.arange(len(y)) % 2, 10**18, -(10**18))
            return X, y, kwargs, None
        y = y.astype(np.float64)
        y[row] = 1e30
        return X, y, kwargs, "huge_y"
    if defect == "empty":
        return X[:0], y[:0], kwargs, (ValueError, ["0 sample"])
    if defect == "one_sample":
        expected = (ValueError, ["class"]) if classifier else None
        return X[:1], y[:1], kwargs, expected
    if defect == "three_d":
        return X[:, :, None], y, kwargs, (ValueError, ["dim 3"])
    if defect == "one_d":
        return X[:, 0], y, kwargs, (ValueError, ["2D array"])
    if defect == "strings_X":
        X = X.astype(str)
        X[row, col] = "not a number"
        return X, y, kwargs, (ValueError, ["string"])
    if defect == "objects_X":
        X = X.astype(object)
        X[row, col] = object()
        return X, y, kwargs, (TypeError, ["object"])
    if defect == "sparse_X":  # sparse X is taken, but not with a NaN
        X = X.astype(np.float64)
        X[row, col] = np.nan
        return sp.csr_matrix(X), y, kwargs, (ValueError, ["NaN"])
    if defect == "one_class":
        if not classifier:
            return X, y, kwargs, None
        return X, np.full(len(y), y[0]), kwargs, (ValueError, ["class"])
    if defect == "continuous_y":
        y = np.linspace(0.1, 0.9, len(y)) + 1e-3 * np.arange(len(y))
        return X, y, kwargs, None if not classifier else (ValueError, ["continuous"])
    if defect == "negative_weight":
        w = np.ones(len(y))
        w[row] = -1.0
        return X, y, {"sample_weight": w}, (ValueError, ["negative"])
    if defect == "zero_weights":
        return X, y, {"sample_weight": np.zeros(len(y))}, (ValueError, ["non-zero"])
    if defect == "constant_columns":
        X = np.full_like(X, X.flat[0])
        return X, y, kwargs, None
    if defect == "duplicated_rows":  # fewer distinct rows than the k-means' n_clusters
        X = np.repeat(X[:2], (len(y) + 1) // 2, axis=0)[: len(y)]
        return X, y, kwargs, None
    raise AssertionError(defect)


def check_fit_outcome(est, result, expected, X, solver):
    if expected == "huge":
        largest = np.abs(np.asarray(X, dtype=np.float64)).max()
        expected = ((ValueError, ["StandardScaler"]) if largest > overflow_limit(solver)
                    else None)
    if expected == "huge_y":  # the regressor standardises its target: any float64 fits
        expected = None
    if expected is None:
        assert result is est, f"fit failed: {result!r}"
        assert_finite_predictions(est, X)
    else:
        expect_error(result, expected[0], *expected[1])


@pytest.mark.parametrize("defect", FIT_DEFECTS)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@settings(deadline=None, max_examples=4)
@given(data=st.data(), solver=st.sampled_from(SOLVERS))
def test_fit_rejects_bad_input_or_fits_finite(defect, Estimator, data, solver):
    X, y = data.draw(datasets(Estimator))
    X, y, kwargs, expected = apply_defect(defect, X, y, Estimator, data)
    est = tiny(Estimator, solver=solver)
    check_fit_outcome(est, outcome(lambda: est.fit(X, y, **kwargs)), expected, X, solver)


@pytest.mark.parametrize("defect", ["none", "nan_X", "inf_X", "huge_X", "nan_y", "empty",
                                    "three_d", "strings_X", "sparse_X", "negative_weight",
                                    "duplicated_rows", "constant_columns"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@settings(deadline=None, max_examples=3)
@given(data=st.data(), solver=st.sampled_from(["adam", "sgd"]))
def test_partial_fit_rejects_bad_input_or_fits_finite(defect, Estimator, data, solver):
    X, y = data.draw(datasets(Estimator))
    X, y, kwargs, expected = apply_defect(defect, X, y, Estimator, data)
    est = tiny(Estimator, solver=solver)
    if Estimator is FoldGrowClassifier:
        kwargs["classes"] = np.unique(y) if defect not in ("nan_y",) else [0.0, 1.0]
    check_fit_outcome(est, outcome(lambda: est.partial_fit(X, y, **kwargs)), expected, X,
                      solver)


# --------------------------------------------------------------------------- fitted models
_FITTED = {}


def fitted(Estimator, solver):
    """One small fitted model per (estimator, solver), shared by the examples."""
    key = (Estimator, solver)
    if key not in _FITTED:
        rng = np.random.RandomState(0)
        X = rng.randn(60, 3)
        y = (X[:, 0] + X[:, 1] > 0).astype(int) if Estimator is FoldGrowClassifier else (
            np.sin(X[:, 0]))
        est = Estimator(solver=solver, max_hidden_units=6, max_iter=40, random_state=0,
                        device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITTED[key] = (est.fit(X, y), X, y)
    return _FITTED[key]


PREDICT_METHODS = {FoldGrowClassifier: ["predict", "predict_proba", "predict_log_proba",
                                        "decision_function"],
                   FoldGrowRegressor: ["predict"]}


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@settings(deadline=None, max_examples=60)
@given(data=st.data())
def test_predict_rejects_bad_input_or_returns_finite(Estimator, data):
    est, X_train, _ = fitted(Estimator, data.draw(st.sampled_from(SOLVERS)))
    method = getattr(est, data.draw(st.sampled_from(PREDICT_METHODS[Estimator])))
    n = data.draw(st.integers(1, 9))
    dtype = data.draw(st.sampled_from(X_DTYPES))
    X = data.draw(hnp.arrays(dtype, (n, 3), elements=(
        st.floats(-6e4, 6e4, width=16) if np.issubdtype(dtype, np.floating)
        else st.booleans() if dtype is np.bool_ else st.integers(0, 100))))
    defect = data.draw(st.sampled_from(["none", "nan", "inf", "huge", "features", "three_d",
                                        "empty", "sparse", "strings"]))
    row = data.draw(st.integers(0, n - 1))
    expected = None
    if defect in ("nan", "inf", "huge"):
        X = X.astype(np.float64)
        X[row, 0] = {"nan": np.nan, "inf": -np.inf,
                     "huge": 10.0 ** data.draw(st.integers(10, 308))}[defect]
        expected = {"nan": (ValueError, ["NaN"]), "inf": (ValueError, ["infinity"]),
                    "huge": "finite or overflow"}[defect]
    elif defect == "features":
        X = np.hstack([X, X])[:, : data.draw(st.sampled_from([1, 2, 4, 6]))]
        expected = (ValueError, ["features"])
    elif defect == "three_d":
        X, expected = X[..., None], (ValueError, ["dim 3"])
    elif defect == "empty":
        X, expected = X[:0], (ValueError, ["0 sample"])
    elif defect == "sparse":
        X = X.astype(np.float64)  # sparse X is taken, but not with an infinity
        X[row, 0] = np.inf
        X, expected = sp.csr_matrix(X), (ValueError, ["infinity"])
    elif defect == "strings":
        X = X.astype(str)
        X[row, 0] = "abc"
        expected = (ValueError, ["string"])
    result = outcome(lambda: method(X))
    if expected == "finite or overflow":
        if isinstance(result, Exception):
            expect_error(result, ValueError, "overflows", "scale")
            return
        expected = None
    if expected is None:
        assert not isinstance(result, Exception), result
        assert len(result) == X.shape[0]
        if np.issubdtype(np.asarray(result).dtype, np.number):
            assert not np.isnan(result).any()
            if method.__name__ != "predict_log_proba":
                assert np.isfinite(result).all()
    else:
        expect_error(result, expected[0], *expected[1])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_predict_on_inputs_that_overflow_float64_raises_a_clear_error(Estimator):
    est, X, y = fitted(Estimator, "lbfgs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # MLPClassifier's light penalty leaves weights that overflow on a corner below
        est = clone(est).set_params(alpha=1e-4).fit(X, y)
    assert (np.abs(est.coefs_[0]).sum(axis=0) * 1.7e308 > np.finfo(float).max).any()
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * 3)).reshape(3, -1).T
    huge = np.vstack([X[:2], 1.7e308 * signs])  # some hidden unit overflows on some corner
    with pytest.raises(ValueError, match="overflows float64 on .* row.* Scale X"):
        est.predict(huge)
    assert np.isfinite(est.predict(X[:2])).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@settings(deadline=None, max_examples=8)
@given(data=st.data())
def test_grow_rejects_bad_input(Estimator, data):
    est, X_train, y_train = fitted(Estimator, "adam")
    est = copy.deepcopy(est).set_params(max_hidden_units=50)
    sizes = est.hidden_layer_sizes_
    defect = data.draw(st.sampled_from(["nan_X", "inf_X", "huge_X", "empty", "three_d",
                                        "sparse_X", "nan_y", "features", "unseen"]))
    X, y = X_train[:20].copy(), y_train[:20].copy()
    X, y, _, expected = (apply_defect(defect, X, y, Estimator, data)
                         if defect not in ("features", "unseen") else (X, y, {}, None))
    if defect == "features":
        X, expected = X[:, :2], (ValueError, ["features"])
    if defect == "unseen":
        if Estimator is FoldGrowRegressor:
            y, expected = np.c_[y, y], (ValueError, ["outputs"])
        else:
            y, expected = y + 7, (ValueError, ["not in classes_"])
    if expected == "huge":
        expected = (ValueError, ["StandardScaler"])
    expect_error(outcome(lambda: est.grow(X, y)), expected[0], *expected[1])
    assert est.hidden_layer_sizes_ == sizes  # a rejected grow changes nothing


def test_grow_rejects_a_bad_unit_count():
    est, X, y = fitted(FoldGrowClassifier, "adam")
    for n_units in [0, -1, 1.5, "2"]:
        expect_error(outcome(lambda: est.grow(X, y, n_units=n_units)), ValueError, "n_units")


def test_partial_fit_rejects_unseen_classes_and_a_changed_feature_count():
    X = np.random.RandomState(0).randn(30, 3)
    y = np.arange(30) % 3
    clf = tiny(FoldGrowClassifier).partial_fit(X, y, classes=[0, 1, 2])
    expect_error(outcome(lambda: clf.partial_fit(X, y + 1)), ValueError, "not in classes_", "3")
    expect_error(outcome(lambda: clf.partial_fit(X[:, :2], y)), ValueError, "features")
    expect_error(outcome(lambda: clf.partial_fit(X, y, classes=[0, 1, 2, 3])), ValueError,
                 "classes")
    reg = tiny(FoldGrowRegressor).partial_fit(X, y.astype(float))
    expect_error(outcome(lambda: reg.partial_fit(X, np.c_[y, y].astype(float))), ValueError,
                 "outputs")
    # the estimators still work after the rejected calls
    assert_finite_predictions(clf, X)
    assert_finite_predictions(reg, X)


def test_duplicated_rows_with_growth_forced_every_epoch_fit_and_predict():
    """k-means asked for more clusters than there are distinct points (it is clipped)."""
    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]], 10, axis=0)
    y = np.repeat([0, 1, 0], 10)
    clf = FoldGrowClassifier(n_clusters=8, growth_schedule="fixed", grow_every=1,
                             max_hidden_units=6, max_iter=20, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    assert_finite_predictions(clf, X)
    assert clf.growth_history_, "the growth search ran on the duplicated rows"


# --------------------------------------------------------------------------- sample weights
@pytest.mark.parametrize("weight", [1e39, 3e38, 1e-46, 1e-40])
def test_weights_beyond_float32_are_rescaled_with_one_warning_and_train_as_their_ratios(weight):
    """Adam trains in float32, which cannot hold them; only their ratios weigh the loss."""
    from sklearn.datasets import make_moons
    X, y = make_moons(300, noise=0.2, random_state=0)
    # without the linear seed: from its zero outgoing weights the hidden units first move by
    # the L2 penalty alone, whose strength follows the weights' sum (scikit-learn's convention)
    params = dict(solver="adam", max_iter=60, learning_rate_init=0.01, random_state=0,
                  linear_seed=False)
    reference = FoldGrowClassifier(**params).fit(X, y)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est = FoldGrowClassifier(**params).fit(X, y, sample_weight=np.full(300, weight))
    messages = [str(w.message) for w in record if not issubclass(w.category, ConvergenceWarning)]
    assert len(messages) == 1 and "divided by 2**" in messages[0]
    np.testing.assert_allclose(est.predict_proba(X), reference.predict_proba(X), atol=1e-5)


def test_weight_ratios_beyond_float32_get_a_value_error_naming_the_way_out():
    X, y = np.random.RandomState(0).normal(size=(40, 2)), np.arange(40) % 2
    weights = np.r_[np.full(20, 1e-40), np.full(20, 1e30)]
    with pytest.raises(ValueError, match="solver='lbfgs'"):
        FoldGrowClassifier(solver="adam").fit(X, y, sample_weight=weights)
    FoldGrowClassifier(solver="lbfgs", max_iter=20).fit(X, y, sample_weight=weights)  # float64


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_early_stopping_with_a_one_row_validation_set_is_refused_as_mlp_does(Estimator):
    # R^2 on one held-out row is undefined: validation_scores_ used to be all NaN
    rng = np.random.RandomState(0)
    X = rng.normal(size=(15, 2))
    y = (X[:, 0] > 0).astype(int) if Estimator is FoldGrowClassifier else 2 * X[:, 0]
    with pytest.raises(ValueError, match="The validation set is too small"):
        Estimator(early_stopping=True, validation_fraction=0.05, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Estimator(early_stopping=True, validation_fraction=0.15, max_iter=30,
                        random_state=0).fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_
    assert np.all(np.isfinite(est.validation_scores_))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_held_out_outputs_that_overflow_score_as_undefined_instead_of_crashing():
    # features at 1e80 (under the float64 guard) made an L-BFGS iterate's held-out outputs
    # non-finite, and r2_score raised 'Input contains NaN' from inside scikit-learn
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 4)) * 1e80
    y = 2 * X[:, 0] / 1e80 + X[:, 1] / 1e80
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = FoldGrowRegressor(random_state=0).fit(X, y)
    assert np.isfinite(est.predict(X)).all()
    scores = np.asarray(est.validation_scores_)
    assert np.isnan(scores).any()  # the iterates that overflowed, scored as undefined
    assert est.best_validation_score_ == scores[np.isfinite(scores)].max()


def test_a_linear_seed_that_cannot_take_a_step_says_to_scale_X():
    # features at 1e12: the linear seed's L-BFGS-B failed at its first step and the fit fell
    # to chance (0.47 on a separable problem) without a word
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 4))
    y = (X @ np.array([1.0, -2.0, 0.5, 3.0]) > 0).astype(int)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        FoldGrowClassifier(random_state=0).fit(X, y)
    assert not [w for w in record if "linear seed" in str(w.message)]
    with pytest.warns(UserWarning, match="The linear seed did not train.*Scale X"):
        FoldGrowClassifier(random_state=0).fit(X * 1e12, y)
