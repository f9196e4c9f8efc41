"""The rows a stream keeps (:mod:`skfold.stream`) in a model file, and back.

A ``partial_fit`` stream's reservoirs are part of its state: a model saved mid-stream and
loaded goes on streaming bit for bit as the saved one would. The metadata's ``state.stream``
holds the counters and the random generators' states; the rows are tensors named
``stream.<reservoir>.<column>`` (inputs in the solver's dtype; labels, positions and weights
as float64, which holds them exactly). A stream of sparse chunks is not written (its reservoirs
would have to be densified): the loaded model streams on with empty reservoirs.
"""

from __future__ import annotations

import numpy as np
import torch

from ..reservoir import Reservoir
from ..sparse_rows import is_sparse
from ..stream import Stream
from . import checks
from .rngs import _rng, _rng_state

#: Each reservoir's columns, in :class:`~skfold.stream.Stream`'s order.
COLUMNS = {"search": ("X", "y", "sample_weight", "position"),
           "validation": ("X", "y", "sample_weight")}
_X_DTYPES = {"F32": (np.float32, torch.float32), "F64": (np.float64, torch.float64)}
_RESERVOIR_FIELDS = ("capacity", "n_seen", "rng", "rows", "x_dtype")


def encode(stream):
    """``(metadata, tensors)`` of ``stream`` (``(None, {})``: nothing to write)."""
    reservoirs = {name: getattr(stream, name) for name in COLUMNS} if stream else {}
    if stream is None or any(r.columns is not None and is_sparse(r.columns[0])
                             for r in reservoirs.values()):
        return None, {}
    meta, tensors = {"rows_seen": stream.rows_seen, "rng": _rng_state(stream.rng)}, {}
    for name, reservoir in reservoirs.items():
        rows = len(reservoir)
        x_dtype = None
        if rows:
            x_dtype = "F32" if reservoir.columns[0].dtype == np.float32 else "F64"
            for column, values in zip(COLUMNS[name], reservoir.columns):
                dtype = _X_DTYPES[x_dtype][0] if column == "X" else np.float64
                tensors[f"stream.{name}.{column}"] = torch.from_numpy(
                    np.ascontiguousarray(values, dtype=dtype))
        meta[name] = {"capacity": reservoir.capacity, "n_seen": reservoir.n_seen,
                      "rng": _rng_state(reservoir.rng), "rows": rows, "x_dtype": x_dtype}
    return meta, tensors


def declared(meta):
    """The stream metadata, its structure and counts checked (None: no stream)."""
    if meta is None:
        return None
    meta = checks.mapping(meta, "stream", ("rows_seen", "rng", *COLUMNS))
    checks.integer(meta["rows_seen"], "stream.rows_seen")
    for name in COLUMNS:
        where = f"stream.{name}"
        fields = checks.mapping(meta[name], where, _RESERVOIR_FIELDS)
        rows = checks.integer(fields["rows"], f"{where}.rows")
        if rows > checks.integer(fields["capacity"], f"{where}.capacity", low=1) or (
                rows > checks.integer(fields["n_seen"], f"{where}.n_seen")):
            raise ValueError(f"{where} holds more rows than its capacity or than it was shown")
        if fields["n_seen"] > meta["rows_seen"]:
            raise ValueError(f"{where}.n_seen exceeds stream.rows_seen")
        checks.one_of(fields["x_dtype"], f"{where}.x_dtype", _X_DTYPES, optional=rows == 0)
    return meta


def expected_tensors(meta, n_features, y_shape):
    """``{name: (dtype, shape)}`` of the stream's tensors; ``y_shape(rows)``: a target
    column's shape."""
    meta, expected = declared(meta), {}
    for name, columns in COLUMNS.items() if meta else ():
        rows = meta[name]["rows"]
        if not rows:
            continue
        shapes = {"X": (meta[name]["x_dtype"], (rows, n_features)), "y": ("F64", y_shape(rows)),
                  "sample_weight": ("F64", (rows,)), "position": ("F64", (rows,))}
        expected.update({f"stream.{name}.{c}": shapes[c] for c in columns})
    return expected


def decode(meta, tensors, n_classes):
    """The :class:`~skfold.stream.Stream` of a file (``n_classes``: None for a regressor)."""
    meta = declared(meta)
    if meta is None:
        return None
    stream = Stream.__new__(Stream)
    stream.rows_seen = meta["rows_seen"]
    stream.rng = _rng(meta["rng"], "stream.rng")
    for name, columns in COLUMNS.items():
        fields = meta[name]
        reservoir = Reservoir(fields["capacity"], 0)
        reservoir.rng = _rng(fields["rng"], f"stream.{name}.rng")
        reservoir.n_seen = fields["n_seen"]
        if fields["rows"]:
            reservoir.columns = tuple(
                _column(tensors[f"stream.{name}.{c}"], f"stream.{name}.{c}", c, fields,
                        n_classes, stream.rows_seen) for c in columns)
        setattr(stream, name, reservoir)
    return stream


def _column(tensor, where, column, fields, n_classes, rows_seen):
    values = tensor.numpy()
    checks.finite_tensors([tensor], where)
    if column == "X":
        return values.astype(_X_DTYPES[fields["x_dtype"]][0])
    if column == "sample_weight":
        if not (values > 0).all():
            raise ValueError(f"{where} must be positive")
        return values.astype(np.float64)
    if column == "y" and n_classes is None:
        return values.astype(np.float64)
    high = n_classes if column == "y" else rows_seen
    if not ((values == np.round(values)) & (values >= 0) & (values < high)).all():
        raise ValueError(f"{where} must hold whole numbers in [0, {high})")
    return values.astype(np.int64)
