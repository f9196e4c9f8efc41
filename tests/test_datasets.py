"""The seed slides' 2-D tasks and two-spirals: shapes, seeds, what ``noise`` means, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skfold.datasets import make_overlap_quadratic, make_sine, make_spirals

MAKERS = [make_sine, make_overlap_quadratic, make_spirals]


@pytest.mark.parametrize("make", MAKERS)
@settings(max_examples=25, deadline=None)
@given(n_samples=st.integers(2, 400), seed=st.integers(0, 2**31 - 1))
def test_shapes_and_binary_labels(make, n_samples, seed):
    X, y = make(n_samples, random_state=seed)
    assert X.shape == (n_samples, 2) and X.dtype == np.float64
    assert y.shape == (n_samples,)
    assert set(np.unique(y)) <= {0, 1}
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("make", MAKERS)
def test_same_seed_same_data_other_seed_other_data(make):
    X1, y1 = make(200, random_state=3)
    X2, y2 = make(200, random_state=3)
    X3, _ = make(200, random_state=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)
    X4, y4 = make(200, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(X1, X4)
    np.testing.assert_array_equal(y1, y4)


@pytest.mark.parametrize("make", [make_overlap_quadratic, make_spirals])
@pytest.mark.parametrize("n_samples", [2, 101, 500])
def test_classes_are_balanced(make, n_samples):
    _, y = make(n_samples, random_state=0)
    assert abs(int(y.sum()) - n_samples / 2) <= 0.5


def test_sine_has_both_classes_in_similar_shares():
    _, y = make_sine(2000, random_state=0)
    assert 0.4 < y.mean() < 0.6


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("noise", [0.05, 0.3])
def test_noise_is_the_standard_deviation_of_the_added_gaussian(make, noise):
    """Same seed with and without noise: the difference is the noise itself."""
    X_clean, y_clean = make(4000, noise=0.0, random_state=1)
    X_noisy, y_noisy = make(4000, noise=noise, random_state=1)
    np.testing.assert_array_equal(y_clean, y_noisy)
    moved = (X_noisy - X_clean)[:, np.any(X_noisy != X_clean, axis=0)]
    assert moved.shape[1] >= 1
    np.testing.assert_allclose(moved.std(axis=0), noise, rtol=0.06)
    np.testing.assert_allclose(moved.mean(axis=0), 0.0, atol=4 * noise / np.sqrt(4000))


def test_sine_without_noise_is_labelled_by_the_sine_curve():
    X, y = make_sine(1000, noise=0.0, random_state=0)
    assert X[:, 0].min() >= 0 and X[:, 0].max() <= 2 * np.pi
    assert np.abs(X[:, 1]).max() <= 1.5
    np.testing.assert_array_equal(y, (X[:, 1] > np.sin(X[:, 0])).astype(int))


def test_sine_noise_makes_the_classes_overlap():
    X, y = make_sine(2000, noise=0.3, random_state=0)
    assert np.mean(y != (X[:, 1] > np.sin(X[:, 0]))) > 0.02


def test_overlap_quadratic_without_noise_lies_on_the_crossing_parabolas():
    X, y = make_overlap_quadratic(1000, noise=0.0, random_state=0)
    assert np.abs(X[:, 0]).max() <= 2
    curve = np.where(y == 0, 0.5 * X[:, 0] ** 2 - 1, 1 - 0.5 * X[:, 0] ** 2)
    np.testing.assert_allclose(X[:, 1], curve)


def test_overlap_quadratic_default_noise_makes_the_classes_overlap():
    """Near the crossings (|x0| = sqrt 2) each class spills across the other's curve."""
    X, y = make_overlap_quadratic(4000, random_state=0)
    near = np.abs(np.abs(X[:, 0]) - np.sqrt(2)) < 0.2
    above_mid = X[near, 1] > 0
    assert 0 < above_mid[y[near] == 0].mean() < 1
    assert 0 < above_mid[y[near] == 1].mean() < 1


@pytest.mark.parametrize("n_turns", [0.5, 1.5, 3.0])
def test_spirals_without_noise_lie_on_two_interleaved_arms(n_turns):
    """Radius r = t / (2 pi n_turns) and angle t + pi * y, with t the position along the arm."""
    X, y = make_spirals(1000, noise=0.0, n_turns=n_turns, random_state=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius.min() >= 0.25 - 1e-12 and radius.max() <= 1 + 1e-12
    t = radius * 2 * np.pi * n_turns
    expected_angle = t + np.pi * y
    np.testing.assert_allclose(np.cos(expected_angle), X[:, 0] / radius, atol=1e-9)
    np.testing.assert_allclose(np.sin(expected_angle), X[:, 1] / radius, atol=1e-9)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("n_samples", [1, 0, -3, 2.5])
def test_bad_n_samples_raise_a_clear_error(make, n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        make(n_samples)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("noise", [-0.1, np.nan, np.inf])
def test_bad_noise_raises_a_clear_error(make, noise):
    with pytest.raises(ValueError, match="noise"):
        make(10, noise=noise)


@pytest.mark.parametrize("n_turns", [0, -1.0, np.nan])
def test_bad_n_turns_raises_a_clear_error(n_turns):
    with pytest.raises(ValueError, match="n_turns"):
        make_spirals(10, n_turns=n_turns)
