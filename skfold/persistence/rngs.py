"""A NumPy ``RandomState`` in a model file's metadata, and back, checked."""

from __future__ import annotations

import numpy as np

from . import checks


def _rng_state(rng):
    _, keys, pos, has_gauss, cached = rng.get_state()
    return {"keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached)}


def _rng(data, name):
    data = checks.mapping(data, name, ("keys", "pos", "has_gauss", "cached_gaussian"))
    keys = data["keys"]
    if not (isinstance(keys, list) and len(keys) == 624 and all(
            isinstance(k, int) and not isinstance(k, bool) and 0 <= k < 2**32 for k in keys)):
        raise ValueError(f"{name}.keys must be 624 integers in [0, 2**32)")
    rng = np.random.RandomState()
    try:
        rng.set_state(("MT19937", np.array(keys, dtype=np.uint32),
                       checks.integer(data["pos"], f"{name}.pos"),
                       checks.integer(data["has_gauss"], f"{name}.has_gauss"),
                       checks.number(data["cached_gaussian"], f"{name}.cached_gaussian")))
    except (OverflowError, TypeError) as exc:
        raise ValueError(f"{name} is not a valid random state: {exc}") from exc
    return rng
