"""Nothing to fold on: where the linear seed, fitted on the training rows, mis-predicts a
smaller share of them than one held-out row is, ``fit`` starts again from half of
``max_hidden_units`` hidden units and the linear seed's penalty (``alpha_`` 1.0), the held-out
rows judging that network against the linear model. Only with ``early_stopping``, ``alpha``,
``hidden_units`` and ``linear_seed`` all ``"auto"``; never for a regressor."""

import pytest
from sklearn.datasets import load_digits, make_classification, make_friedman1
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skfold import FoldGrowClassifier, FoldGrowRegressor


def _digits(seed=0):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def test_where_the_linear_seed_fits_the_training_rows_the_seed_is_half_the_budget():
    X, _, y, _ = _digits()
    est = FoldGrowClassifier(max_iter=30, random_state=0).fit(X, y)
    assert est.hidden_units_ == 16 and est.alpha_ == 1.0
    assert est.validation_scores_ is not None  # the held-out rows still judge the network
    assert FoldGrowClassifier(max_hidden_units=12, max_iter=30, random_state=0).fit(
        X, y).hidden_units_ == 10  # half of 12 is below the classes' 10: the classes win


@pytest.mark.parametrize("params", [dict(early_stopping=True), dict(alpha=1e-4),
                                    dict(linear_seed=True), dict(hidden_units=10)])
def test_a_setting_the_user_chose_is_kept(params):
    X, _, y, _ = _digits()
    est = FoldGrowClassifier(max_iter=30, random_state=0, **params).fit(X, y)
    assert est.hidden_units_ == 10 and est.alpha_ == 1e-4


def test_where_the_linear_seed_errs_nothing_changes():
    X, y = make_classification(n_samples=600, n_features=8, n_informative=5, flip_y=0.1,
                               random_state=0)
    est = FoldGrowClassifier(max_iter=30, random_state=0).fit(X, y)
    assert est.hidden_units_ == 2 and est.alpha_ == 1e-4
    X, y = make_friedman1(n_samples=600, random_state=0)
    est = FoldGrowRegressor(max_iter=30, random_state=0).fit(X, y)
    assert est.hidden_units_ == 2 and est.alpha_ == 1e-4


@pytest.mark.parametrize("seed", [0, 1])
def test_on_digits_the_wide_seed_beats_growing_from_the_classes(seed):
    X_train, X_test, y_train, y_test = _digits(seed)
    wide = FoldGrowClassifier(random_state=0).fit(X_train, y_train)
    narrow = FoldGrowClassifier(alpha=1e-4, random_state=0).fit(X_train, y_train)
    assert sum(wide.hidden_layer_sizes_) <= 16
    assert wide.score(X_test, y_test) > narrow.score(X_test, y_test)
