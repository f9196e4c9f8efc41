"""Plain data as JSON: what JSON has no type for is a tagged object ``{"__skfold__": tag, ...}``.

Tags: ``tuple``, ``dict`` (keys that are not strings), ``float`` (inf and nan), ``ndarray``
(dtype, shape and items; numbers, booleans and strings only). Decoding builds nothing else.
"""

from __future__ import annotations

import math

import numpy as np

TAG = "__skfold__"
#: Array dtypes a file may hold (``dtype.kind``): booleans, integers, floats, strings, objects.
ARRAY_KINDS = "biufUO"
_MAX_DEPTH = 32


def encode(obj, where="state"):
    """``obj`` as JSON-ready data; ``where`` names it in errors."""
    if obj is None or isinstance(obj, (bool, int, str)) and not isinstance(obj, np.generic):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {TAG: "float", "value": repr(obj)}
    if isinstance(obj, np.generic):
        return encode(obj.item(), where)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in ARRAY_KINDS:
            raise TypeError(f"cannot save {where}: arrays of dtype {obj.dtype} are not supported")
        return {TAG: "ndarray", "dtype": obj.dtype.str, "shape": list(obj.shape),
                "items": encode(obj.ravel().tolist(), where)}
    if isinstance(obj, list):
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {TAG: "tuple", "items": encode(list(obj), where)}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and TAG not in obj:
            return {k: encode(v, f"{where}.{k}") for k, v in obj.items()}
        return {TAG: "dict", "items": [[encode(k, where), encode(v, f"{where}[{k!r}]")]
                                       for k, v in obj.items()]}
    raise TypeError(f"cannot save {where}: objects of type {type(obj).__name__} are neither "
                    "plain values nor arrays.")


def decode(obj, depth=0):
    """Inverse of :func:`encode`; ``ValueError`` on anything it did not write."""
    if depth > _MAX_DEPTH:
        raise ValueError("data nested too deep")
    if isinstance(obj, list):
        return [decode(v, depth + 1) for v in obj]
    if not isinstance(obj, dict):
        if isinstance(obj, float) and not math.isfinite(obj):
            raise ValueError("a non-standard JSON number")
        return obj
    tag = obj.get(TAG)
    if tag is None:
        return {k: decode(v, depth + 1) for k, v in obj.items()}
    if tag == "float" and obj.get("value") in ("inf", "-inf", "nan"):
        return float(obj["value"])
    if tag == "tuple" and isinstance(obj.get("items"), list):
        return tuple(decode(obj["items"], depth + 1))
    if tag == "dict" and isinstance(obj.get("items"), list):
        pairs = [decode(pair, depth + 1) for pair in obj["items"]]
        if not all(isinstance(p, list) and len(p) == 2 and _hashable(p[0]) for p in pairs):
            raise ValueError("malformed dict")
        return dict(pairs)
    if tag == "ndarray":
        return _array(obj, depth)
    raise ValueError(f"unknown tag {tag!r}")


def _hashable(key):
    return isinstance(key, (str, int, float, bool, tuple)) or key is None


def _array(obj, depth):
    try:
        dtype = np.dtype(obj["dtype"])
        shape = tuple(int(n) for n in obj["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed array: {exc}") from exc
    items = decode(obj.get("items"), depth + 1)
    if (dtype.kind not in ARRAY_KINDS or not isinstance(items, list)
            or any(n < 0 for n in shape) or int(np.prod(shape)) != len(items)
            or not all(isinstance(v, (str, int, float, bool)) for v in items)):
        raise ValueError(f"malformed array of dtype {dtype}")
    if dtype.kind == "O":
        array = np.empty(len(items), dtype=object)
        array[:] = items
        return array.reshape(shape)
    try:
        array = np.array(items, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"malformed array of dtype {dtype}: {exc}") from exc
    if array.tolist() != items:  # a lossy cast: strings cut short, floats made integers...
        raise ValueError(f"items that dtype {dtype} cannot hold")
    return array.reshape(shape)
