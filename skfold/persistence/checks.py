"""Checks of the values a model file declares: each raises ``ValueError`` naming the field."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np


def integer(value, name, low=0):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def number(value, name, low=None, infinite=False, optional=False):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value) or (
            math.isinf(value) and not infinite) or (low is not None and value < low):
        raise ValueError(f"{name} must be a{' finite' if not infinite else ''} number"
                         f"{f' >= {low}' if low is not None else ''}, got {value!r}")
    return float(value)


def boolean(value, name):
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def one_of(value, name, options, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


def text(value, name, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    return value


def numbers(value, name, length=None, optional=False, infinite=False):
    """A list of finite numbers (of ``length`` when given)."""
    if value is None and optional:
        return None
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise ValueError(f"{name} must be a list of {length or 'some'} numbers")
    return [number(v, f"{name}[{i}]", infinite=infinite) for i, v in enumerate(value)]


def sizes(value, name):
    """Layer widths: a non-empty list of positive integers."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{name} must be a non-empty list of positive integers")
    return [integer(v, f"{name}[{i}]", low=1) for i, v in enumerate(value)]


def mapping(value, name, keys):
    """A dict with exactly ``keys``."""
    if not isinstance(value, dict) or set(value) != set(keys):
        found = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise ValueError(f"{name} must have exactly the fields {sorted(keys)}; got {found}")
    return value


def finite_tensors(tensors, name):
    for i, t in enumerate(tensors):
        if t.dtype.is_floating_point and not bool(t.isfinite().all()):
            raise ValueError(f"{name}[{i}] holds NaN or infinite values")


def labels(classes, n_outputs):
    """A classifier's ``classes_``: one-dimensional, sorted, distinct, one per output."""
    if not isinstance(classes, np.ndarray) or classes.ndim != 1 or len(classes) < 2:
        raise ValueError("classes_ must be a one-dimensional array of at least 2 labels")
    try:
        unique = np.unique(classes)
    except TypeError as exc:
        raise ValueError(f"classes_ holds labels that cannot be ordered: {exc}") from exc
    if len(unique) != len(classes) or not all(a == b for a, b in zip(unique, classes)):
        raise ValueError("classes_ must be sorted and distinct, as np.unique gives them")
    if len(classes) != n_outputs:
        raise ValueError(f"classes_ has {len(classes)} labels but the network {n_outputs} "
                         "outputs")
    return classes
