"""class_weight as LogisticRegression has it: "balanced", a dict, None."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight

from skfold import FoldGrowClassifier


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(n_samples=1200, n_features=8, n_informative=4,
                               weights=[0.93], flip_y=0.02, class_sep=0.6, random_state=0)
    return train_test_split(X, y, stratify=y, random_state=0)


def _clf(**params):
    return FoldGrowClassifier(max_hidden_units=6, max_iter=150, random_state=0, **params)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 4.0}])
def test_class_weight_equals_the_equivalent_sample_weight(imbalanced, class_weight):
    X, _, y, _ = imbalanced
    rng = np.random.default_rng(0)
    sw = rng.uniform(0.5, 2.0, size=len(y))
    weighted = _clf(class_weight=class_weight).fit(X, y, sample_weight=sw)
    by_hand = _clf().fit(X, y, sample_weight=sw * compute_sample_weight(class_weight, y))
    assert weighted.hidden_layer_sizes_ == by_hand.hidden_layer_sizes_
    for a, b in zip(weighted.coefs_, by_hand.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(weighted.predict(X), by_hand.predict(X))


def test_a_dict_naming_an_unknown_class_is_a_value_error(imbalanced):
    X, _, y, _ = imbalanced
    with pytest.raises(ValueError, match="class_weight names labels not in classes_"):
        _clf(class_weight={0: 1.0, 7: 3.0}).fit(X, y)


def test_invalid_class_weight_and_balanced_partial_fit_are_refused(imbalanced):
    X, _, y, _ = imbalanced
    with pytest.raises(ValueError, match="class_weight"):
        _clf(class_weight="often").fit(X, y)
    with pytest.raises(ValueError, match="partial_fit"):
        _clf(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("weight", [-1.0, np.nan, np.inf])
def test_a_negative_or_non_finite_class_weight_is_a_value_error(imbalanced, weight):
    # a negative weight used to drop the class from training without a word
    X, _, y, _ = imbalanced
    with pytest.raises(ValueError, match="class_weight's values must be finite and non-neg"):
        _clf(class_weight={0: weight, 1: 1.0}).fit(X, y)


def test_class_weights_that_zero_every_row_are_a_clear_error(imbalanced):
    X, _, y, _ = imbalanced
    with pytest.raises(ValueError, match="sample_weight times class_weight sums to zero"):
        _clf(class_weight={0: 0.0, 1: 0.0}).fit(X, y)
    with pytest.raises(ValueError, match="sums to zero"):
        _clf(class_weight={0: 1.0, 1: 0.0}).fit(X, y, sample_weight=(y == 1).astype(float))
    # a zero weight for one class alone is allowed: the other class trains
    assert set(_clf(class_weight={0: 1.0, 1: 0.0}).fit(X, y).predict(X)) == {0}


def test_balanced_raises_minority_recall_and_balanced_accuracy(imbalanced):
    X, X_test, y, y_test = imbalanced
    scores = {}
    # over seeds: the few minority rows one early-stopping split holds out make one fit noisy
    for class_weight in (None, "balanced"):
        fits = [FoldGrowClassifier(max_hidden_units=6, class_weight=class_weight,
                                   random_state=seed).fit(X, y).predict(X_test)
                for seed in range(3)]
        scores[class_weight] = (np.mean([recall_score(y_test, p) for p in fits]),
                                np.mean([balanced_accuracy_score(y_test, p) for p in fits]))
    assert scores["balanced"][0] > scores[None][0]
    assert scores["balanced"][1] > scores[None][1]


def test_class_weight_is_a_parameter():
    clf = FoldGrowClassifier(class_weight="balanced")
    assert clf.get_params()["class_weight"] == "balanced"
    assert "class_weight" in FoldGrowClassifier.__doc__
