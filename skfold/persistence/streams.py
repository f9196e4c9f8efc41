"""The rows a stream keeps (:mod:`skfold.stream`) in a model file, and back.

A ``partial_fit`` stream's reservoirs are part of its state: a model saved mid-stream and
loaded goes on streaming bit for bit as the saved one would. The metadata's ``state.stream``
holds the counters and the random generators' states; the rows are tensors named
``stream.<reservoir>.<column>`` (inputs in the solver's dtype; labels, positions and weights
as float64, which holds them exactly).

A stream of sparse chunks keeps its inputs sparse, and so does its file: the ``X`` column is
three tensors, ``X.data`` (in the solver's dtype), ``X.indices`` and ``X.indptr`` (int64), the
arrays of the SciPy matrix the reservoir held, and the reservoir's metadata names its type
(``x_format``: ``"csr_matrix"``, ``"csc_matrix"``, ``"csr_array"`` or ``"csc_array"``) and its
stored entries (``nnz``). Loading checks them as SciPy would need them (``indptr`` starts at 0,
never decreases and ends at ``nnz``; every index lies within the matrix; the values are finite)
before it builds the matrix of that type from them; unsorted or repeated indices, which SciPy
allows and a stream keeps as its chunks gave them, are kept too. The fields are absent for dense
inputs, whose files are as they were before sparse reservoirs were kept.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
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
#: The fields of a sparse ``X``, and their values for a dense one (which a file leaves out).
_SPARSE_FIELDS = {"x_format": None, "nnz": None}
#: The SciPy types a reservoir's sparse ``X`` may have, by the name a file gives them.
_SPARSE_TYPES = {"csr_matrix": sp.csr_matrix, "csc_matrix": sp.csc_matrix,
                 "csr_array": sp.csr_array, "csc_array": sp.csc_array}
_SPARSE_PARTS = ("data", "indices", "indptr")


# --------------------------------------------------------------------------- writing
def encode(stream):
    """``(metadata, tensors)`` of ``stream`` (``(None, {})``: no stream)."""
    if stream is None:
        return None, {}
    meta, tensors = {"rows_seen": stream.rows_seen, "rng": _rng_state(stream.rng)}, {}
    for name, columns in COLUMNS.items():
        meta[name], held = _encoded_reservoir(getattr(stream, name), f"stream.{name}", columns)
        tensors.update(held)
    return meta, tensors


def _encoded_reservoir(reservoir, where, columns):
    rows = len(reservoir)
    fields = {"capacity": reservoir.capacity, "n_seen": reservoir.n_seen,
              "rng": _rng_state(reservoir.rng), "rows": rows, "x_dtype": None}
    tensors = {}
    if rows:
        X, *others = reservoir.columns
        fields["x_dtype"] = "F32" if X.dtype == np.float32 else "F64"
        x_fields, tensors = _encoded_x(X, f"{where}.X", _X_DTYPES[fields["x_dtype"]][0])
        fields.update(x_fields)
        for column, values in zip(columns[1:], others):
            tensors[f"{where}.{column}"] = torch.from_numpy(
                np.ascontiguousarray(values, dtype=np.float64))
    return fields, tensors


def _encoded_x(X, where, dtype):
    """``(metadata fields, tensors)`` of a reservoir's inputs: as they are, never densified."""
    if not is_sparse(X):
        return {}, {where: torch.from_numpy(np.ascontiguousarray(X, dtype=dtype))}
    if X.format not in ("csr", "csc"):
        X = X.tocsr()
    nnz = int(X.nnz)
    parts = (X.data[:nnz].astype(dtype), X.indices[:nnz].astype(np.int64),
             X.indptr.astype(np.int64))
    kind = "array" if isinstance(X, sp.sparray) else "matrix"
    return ({"x_format": f"{X.format}_{kind}", "nnz": nnz},
            {f"{where}.{part}": torch.from_numpy(np.ascontiguousarray(values))
             for part, values in zip(_SPARSE_PARTS, parts)})


# --------------------------------------------------------------------------- reading
def declared(meta):
    """The stream metadata, its structure and counts checked (None: no stream); a
    reservoir's sparse fields filled in with their dense values where absent."""
    if meta is None:
        return None
    meta = dict(checks.mapping(meta, "stream", ("rows_seen", "rng", *COLUMNS)))
    checks.integer(meta["rows_seen"], "stream.rows_seen")
    for name in COLUMNS:
        meta[name] = _declared_reservoir(meta[name], f"stream.{name}", meta["rows_seen"])
    return meta


def _declared_reservoir(fields, where, rows_seen):
    if isinstance(fields, dict):
        fields = {**_SPARSE_FIELDS, **fields}
    fields = checks.mapping(fields, where, (*_RESERVOIR_FIELDS, *_SPARSE_FIELDS))
    rows = checks.integer(fields["rows"], f"{where}.rows")
    if rows > checks.integer(fields["capacity"], f"{where}.capacity", low=1) or (
            rows > checks.integer(fields["n_seen"], f"{where}.n_seen")):
        raise ValueError(f"{where} holds more rows than its capacity or than it was shown")
    if fields["n_seen"] > rows_seen:
        raise ValueError(f"{where}.n_seen exceeds stream.rows_seen")
    checks.one_of(fields["x_dtype"], f"{where}.x_dtype", _X_DTYPES, optional=rows == 0)
    if checks.one_of(fields["x_format"], f"{where}.x_format", _SPARSE_TYPES,
                     optional=True) is None:
        if fields["nnz"] is not None:
            raise ValueError(f"{where}.nnz is for a sparse X only, and x_format is null")
    elif not rows:
        raise ValueError(f"{where}.x_format is for the rows held, and {where}.rows is 0")
    else:
        checks.integer(fields["nnz"], f"{where}.nnz")
    return fields


def expected_tensors(meta, n_features, y_shape):
    """``{name: (dtype, shape)}`` of the stream's tensors; ``y_shape(rows)``: a target
    column's shape."""
    meta, expected = declared(meta), {}
    for name, columns in COLUMNS.items() if meta else ():
        fields = meta[name]
        rows = fields["rows"]
        if not rows:
            continue
        shapes = {"y": ("F64", y_shape(rows)), "sample_weight": ("F64", (rows,)),
                  "position": ("F64", (rows,))}
        expected.update(_expected_x(fields, f"stream.{name}.X", n_features))
        expected.update({f"stream.{name}.{c}": shapes[c] for c in columns[1:]})
    return expected


def _expected_x(fields, where, n_features):
    dtype, rows, nnz = fields["x_dtype"], fields["rows"], fields["nnz"]
    if fields["x_format"] is None:
        return {where: (dtype, (rows, n_features))}
    major, _ = _extents(fields, n_features)
    return {f"{where}.data": (dtype, (nnz,)), f"{where}.indices": ("I64", (nnz,)),
            f"{where}.indptr": ("I64", (major + 1,))}


def _extents(fields, n_features):
    """``(major, minor)``: the lengths that ``indptr`` (less one) and ``indices`` address."""
    extents = (fields["rows"], n_features)
    return extents if fields["x_format"].startswith("csr") else extents[::-1]


def decode(meta, tensors, n_classes, n_features):
    """The :class:`~skfold.stream.Stream` of a file (``n_classes``: None for a regressor)."""
    meta = declared(meta)
    if meta is None:
        return None
    stream = Stream.__new__(Stream)
    stream.rows_seen = meta["rows_seen"]
    stream.rng = _rng(meta["rng"], "stream.rng")
    for name, columns in COLUMNS.items():
        fields, where = meta[name], f"stream.{name}"
        reservoir = Reservoir(fields["capacity"], 0)
        reservoir.rng = _rng(fields["rng"], f"{where}.rng")
        reservoir.n_seen = fields["n_seen"]
        if fields["rows"]:
            reservoir.columns = (_x(tensors, f"{where}.X", fields, n_features), *(
                _column(tensors[f"{where}.{c}"], f"{where}.{c}", c, n_classes,
                        stream.rows_seen) for c in columns[1:]))
        setattr(stream, name, reservoir)
    return stream


def _x(tensors, where, fields, n_features):
    """A reservoir's inputs: a dense array, or a SciPy matrix of the declared type."""
    dtype = _X_DTYPES[fields["x_dtype"]][0]
    if fields["x_format"] is None:
        checks.finite_tensors([tensors[where]], where)
        return tensors[where].numpy().astype(dtype)
    data, indices, indptr = (tensors[f"{where}.{part}"] for part in _SPARSE_PARTS)
    checks.finite_tensors([data], f"{where}.data")
    _, minor = _extents(fields, n_features)
    _check_indptr(indptr.numpy(), fields["nnz"], f"{where}.indptr")
    indices = indices.numpy()
    if indices.size and not (indices.min() >= 0 and indices.max() < minor):
        raise ValueError(f"{where}.indices must lie in [0, {minor})")
    return _SPARSE_TYPES[fields["x_format"]](
        (data.numpy().astype(dtype), indices.copy(), indptr.numpy().copy()),
        shape=(fields["rows"], n_features))


def _check_indptr(indptr, nnz, where):
    """Each row's (or column's) entries as a slice of the stored ones, in order."""
    if indptr[0] != 0:
        raise ValueError(f"{where} must start at 0, got {indptr[0]}")
    if (np.diff(indptr) < 0).any():
        raise ValueError(f"{where} must not decrease")
    if indptr[-1] != nnz:
        raise ValueError(f"{where} must end at nnz ({nnz}), got {indptr[-1]}")


def _column(tensor, where, column, n_classes, rows_seen):
    values = tensor.numpy()
    checks.finite_tensors([tensor], where)
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
