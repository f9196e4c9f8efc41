"""Every label type scikit-learn's classifiers accept fits, grows, predicts, explains its
units, and saves and loads, as ``pandas.read_csv`` and friends hand them over."""

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils.multiclass import check_classification_targets

import skfold
from skfold import FoldGrowClassifier


def _data(n_classes, seed=0):
    """Points of a disk whose 2 * n_classes sectors alternate the classes: no two-unit seed
    separates them, so growth happens."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(150, 2))
    sector = np.floor((np.arctan2(X[:, 1], X[:, 0]) + np.pi) / (np.pi / n_classes))
    return X, sector.astype(int) % n_classes


def _labelled(kind, codes, values):
    labels = np.asarray(values, dtype=object)[codes]
    if kind == "object":
        return pd.Series(labels, dtype=object)
    if kind == "numpy":
        return np.array(list(labels))
    if kind == "list":
        return list(labels)
    if kind == "category":
        return pd.Series(list(labels), dtype="category")
    if kind == "string":
        return pd.Series([str(v) for v in labels], dtype="string")
    raise ValueError(kind)


def _check_round_trip(y, X):
    est = FoldGrowClassifier(hidden_units=2, max_hidden_units=6, max_iter=120, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    pred = est.predict(X)
    expected = np.unique(np.asarray(y, dtype=object) if isinstance(y, list) else np.asarray(y))
    assert list(est.classes_) == list(expected)
    assert set(pred) <= set(est.classes_)
    grown = [e for e in est.growth_history_ if e["unit"] is not None]
    assert grown, "growth must happen for the test to mean something"
    for event in grown:
        assert event["predicted"] in list(est.classes_) and event["true"] in list(est.classes_)
        assert event["predicted"] != event["true"]
        if event["in_final_model"]:  # a growth that did not pay left no unit to explain
            summary = est.explain_unit(event["unit"])["summary"]
            assert repr(event["true"]) in summary
    buffer = io.BytesIO()
    skfold.save(est, buffer)
    buffer.seek(0)
    loaded = skfold.load(buffer)
    np.testing.assert_array_equal(loaded.predict(X), pred)
    assert loaded.classes_.dtype == est.classes_.dtype
    assert loaded.growth_history_ == est.growth_history_
    return est


@pytest.mark.parametrize("kind, values", [
    ("object", ["No", "Yes"]),  # pandas.read_csv's text column
    ("numpy", ["No", "Yes"]),
    ("string", ["No", "Yes"]),  # pandas' string dtype
    ("category", ["No", "Yes"]),
    ("numpy", [False, True]),
    ("numpy", [3, 7]),
    ("numpy", [0.0, 2.0]),  # float, integral
    ("numpy", ["a", "a much longer label"]),  # mixed widths
    ("object", ["x", "yy", "zzz"]),
    ("category", ["low", "mid", "high"]),
])
def test_a_label_type_fits_grows_predicts_explains_and_round_trips(kind, values):
    X, codes = _data(len(values))
    _check_round_trip(_labelled(kind, codes, values), X)


@settings(deadline=None, max_examples=25)
@given(values=st.one_of(
    st.lists(st.integers(-10**9, 10**9), min_size=2, max_size=4, unique=True),
    st.lists(st.integers(-1000, 1000).map(float), min_size=2, max_size=4, unique=True),
    st.lists(st.text(max_size=12), min_size=2, max_size=4, unique=True),
    st.just([False, True])),
    kind=st.sampled_from(["object", "numpy", "list", "category"]), seed=st.integers(0, 50))
def test_any_target_scikit_learn_accepts_fits_grows_and_round_trips(values, kind, seed):
    X, codes = _data(len(values), seed)
    y = _labelled(kind, codes, values)
    try:
        check_classification_targets(y)
    except ValueError:  # scikit-learn's classifiers refuse it: so does skfold, as clearly
        with pytest.raises(ValueError, match="label type"):
            FoldGrowClassifier().fit(X, y)
        return
    _check_round_trip(y, X)


def test_labels_of_mixed_types_get_scikit_learns_error():
    X, codes = _data(2)
    y = np.array(["a", 1], dtype=object)[codes]
    with pytest.raises(ValueError, match="label"):
        FoldGrowClassifier().fit(X, y)
