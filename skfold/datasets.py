"""The seed slides' 2-D tasks and two-spirals, in scikit-learn's ``make_*`` style."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state


def _check_n_samples(n_samples):
    if int(n_samples) != n_samples or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}.")
    return int(n_samples)


def _check_positive(name, value, *, allow_zero):
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}.")
    return value


def make_sine(n_samples=500, *, noise=0.1, random_state=None):
    """Points in ``[0, 2 pi] x [-1.5, 1.5]``, labelled 1 when above ``sin(x0)`` (the slides' Sine).

    Parameters
    ----------
    n_samples : int, default=500
    noise : float, default=0.1
        Standard deviation of Gaussian noise added to the points after labelling, so the
        classes overlap near the curve.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,) of {0, 1}
    """
    n_samples = _check_n_samples(n_samples)
    _check_positive("noise", noise, allow_zero=True)
    rng = check_random_state(random_state)
    X = np.column_stack([rng.uniform(0, 2 * np.pi, n_samples),
                         rng.uniform(-1.5, 1.5, n_samples)])
    y = (X[:, 1] > np.sin(X[:, 0])).astype(int)
    return X + rng.normal(scale=noise, size=X.shape), y


def make_overlap_quadratic(n_samples=500, *, noise=0.3, random_state=None):
    """Two classes scattered around crossing parabolas (the slides' Overlap Quadratic).

    Class 0 lies around ``x1 = x0^2 / 2 - 1``, class 1 around ``x1 = 1 - x0^2 / 2``, with
    ``x0`` uniform in ``[-2, 2]``; the curves cross at ``x0 = +-sqrt(2)``, where the classes
    overlap.

    Parameters
    ----------
    n_samples : int, default=500
    noise : float, default=0.3
        Standard deviation of the Gaussian scatter around each curve.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,) of {0, 1}
    """
    n_samples = _check_n_samples(n_samples)
    _check_positive("noise", noise, allow_zero=True)
    rng = check_random_state(random_state)
    y = np.arange(n_samples) % 2
    rng.shuffle(y)
    x0 = rng.uniform(-2, 2, n_samples)
    curve = np.where(y == 0, 0.5 * x0**2 - 1, 1 - 0.5 * x0**2)
    X = np.column_stack([x0, curve + rng.normal(scale=noise, size=n_samples)])
    return X, y


def make_spirals(n_samples=500, *, noise=0.05, n_turns=1.5, random_state=None):
    """Two interleaved spirals, one per class.

    Parameters
    ----------
    n_samples : int, default=500
    noise : float, default=0.05
        Standard deviation of Gaussian noise added to the points (the spirals lie within the
        unit disc; along a ray, the two classes' arms are ``1 / (2 n_turns)`` apart).
    n_turns : float, default=1.5
        Turns of each spiral.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,) of {0, 1}
    """
    n_samples = _check_n_samples(n_samples)
    _check_positive("noise", noise, allow_zero=True)
    _check_positive("n_turns", n_turns, allow_zero=False)
    rng = check_random_state(random_state)
    y = np.arange(n_samples) % 2
    t = np.sqrt(rng.uniform(0.0625, 1, n_samples)) * n_turns * 2 * np.pi
    angle = t + np.pi * y
    X = np.column_stack([t * np.cos(angle), t * np.sin(angle)]) / (n_turns * 2 * np.pi)
    return X + rng.normal(scale=noise, size=X.shape), y
