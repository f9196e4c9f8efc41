"""Save and load skfold estimators without pickle: tensors through torch, the rest as JSON.

A pickle (``pickle``, ``joblib``) of an estimator can run arbitrary code when it is loaded, so a
model file from an untrusted source must never be unpickled. :func:`save` writes, and
:func:`load` reads, a format that holds data only.

File format (``format_version`` 1)
----------------------------------
One file written by :func:`torch.save` whose object is a plain dict::

    {"format": "skfold",
     "format_version": 1,
     "metadata": "<JSON text>",
     "tensors": {"t0": <tensor>, "t1": <tensor>, ...}}

``metadata`` is a JSON object: ``estimator`` (the class name), the ``skfold``, ``torch`` and
``scikit-learn`` versions that wrote the file, and ``state``: the estimator's parameters and
fitted attributes (its ``__getstate__``: weights, optimizer state, ``growth_history_``,
``loss_curve_``, ``classes_``...). Values JSON has no type for are written as tagged objects
``{"__skfold__": tag, ...}``: ``tensor`` (a name in ``tensors``), ``ndarray`` (dtype, shape,
items), ``tuple``, ``set``, ``bytes`` (base64), ``dict`` (non-string keys), ``float`` (inf,
nan), ``random_state`` (a ``RandomState``'s MT19937 state) and ``dataclass`` (only skfold's
``GrowthSchedule``). Tensors are stored on the CPU.

:func:`load` reads the file with ``torch.load(..., weights_only=True, map_location="cpu")``:
torch's restricted unpickler, which builds tensors and plain containers only and refuses any
other object, so a crafted file cannot execute code; a model saved on a GPU loads on a CPU-only
machine. It then parses the JSON and builds only :class:`~skfold.FoldGrowClassifier` or
:class:`~skfold.FoldGrowRegressor`; no class or function is ever looked up by a name read from
the file outside that list.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import tempfile
import warnings

import numpy as np
import sklearn
import torch

from ._base import BaseFoldGrow
from ._estimators import FoldGrowClassifier, FoldGrowRegressor
from .schedule import GrowthSchedule

FORMAT = "skfold"
FORMAT_VERSION = 1
_TAG = "__skfold__"
#: The only classes a file may name.
_ESTIMATORS = {cls.__name__: cls for cls in (FoldGrowClassifier, FoldGrowRegressor)}
_DATACLASSES = {cls.__name__: cls for cls in (GrowthSchedule,)}


def save(estimator, path):
    """Save a skfold estimator (fitted or not) to ``path`` without pickle.

    Parameters
    ----------
    estimator : FoldGrowClassifier or FoldGrowRegressor
    path : str, os.PathLike or binary file object
        Destination. A path is written atomically: a temporary file in the same folder is
        renamed over it once complete, so an interrupted save never leaves a truncated model.

    Raises
    ------
    TypeError
        If ``estimator`` is not a skfold estimator, or one of its attributes holds an object that
        is neither a plain value, an array, a tensor nor a random state (the message names it).

    See Also
    --------
    load : Read the file back.
    """
    if not isinstance(estimator, BaseFoldGrow):
        raise TypeError(f"skfold.save saves FoldGrowClassifier and FoldGrowRegressor "
                        f"estimators; got {type(estimator).__name__}. Use joblib for other "
                        "objects such as a Pipeline.")
    tensors = {}
    metadata = {
        "estimator": type(estimator).__name__,
        "skfold_version": _skfold_version(),
        "torch_version": torch.__version__,
        "sklearn_version": sklearn.__version__,
        "state": _encode(estimator.__getstate__(), tensors, "state"),
    }
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION,
               "metadata": json.dumps(metadata, allow_nan=False), "tensors": tensors}
    if not isinstance(path, (str, os.PathLike)):
        torch.save(payload, path)
        return
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".skfold-", suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """Load an estimator written by :func:`save`; never runs code stored in the file.

    Parameters
    ----------
    path : str, os.PathLike or binary file object

    Returns
    -------
    estimator : FoldGrowClassifier or FoldGrowRegressor
        Predicts exactly as the saved one did, on the CPU, and can go on training
        (``partial_fit``, ``warm_start``). A model fitted with ``device="cuda"`` keeps that
        parameter: set ``device="cpu"`` (``set_params``) to train it further on a CPU-only
        machine.

    Raises
    ------
    ValueError
        If the file is not a skfold model file: a pickle, a file holding other objects than
        tensors and plain containers, a newer format version, or corrupt metadata.
    """
    try:
        with warnings.catch_warnings():
            # torch's note on a pickle's protocol is noise: such a file is refused below.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # whatever the file holds, only tensors are ever built
        raise ValueError(
            f"{path!r} is not a skfold model file, or it holds objects other than tensors and "
            "plain containers; refusing to load it. (Models saved with pickle or joblib must "
            f"be loaded with those, and only from a trusted source.) Reason: {exc}") from exc
    if not (isinstance(payload, dict) and payload.get("format") == FORMAT):
        raise ValueError(f"{path!r} is not a skfold model file (written by skfold.save).")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{path!r} has format version {version!r}; this skfold reads "
                         f"versions up to {FORMAT_VERSION}. Upgrade skfold.")
    tensors = payload.get("tensors")
    if not isinstance(tensors, dict) or not all(
            isinstance(k, str) and torch.is_tensor(v) for k, v in tensors.items()):
        raise ValueError(f"{path!r} is corrupt: 'tensors' must map names to tensors.")
    try:
        metadata = json.loads(payload["metadata"])
        cls = _ESTIMATORS[metadata["estimator"]]
        state = _decode(metadata["state"], tensors)
        if not isinstance(state, dict):
            raise TypeError("the estimator state is not a dict")
        estimator = cls.__new__(cls)
        estimator.__setstate__(state)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError,
            RecursionError) as exc:
        raise ValueError(f"{path!r} is corrupt or not a skfold model file: its metadata could "
                         f"not be read ({type(exc).__name__}: {exc}).") from exc
    if metadata.get("skfold_version") != _skfold_version():
        warnings.warn(f"{path!r} was saved by skfold {metadata.get('skfold_version')} and is "
                      f"loaded by skfold {_skfold_version()}; check its predictions.",
                      UserWarning, stacklevel=2)
    return estimator


def _skfold_version():
    from . import __version__
    return __version__


# --------------------------------------------------------------------------- JSON encoding
def _tagged(tag, **fields):
    return {_TAG: tag, **fields}


def _encode(obj, tensors, where):
    """``obj`` as JSON-ready data; tensors go to ``tensors``. ``where`` names it in errors."""
    if obj is None or isinstance(obj, (bool, int, str)) and not isinstance(obj, np.generic):
        return obj
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else _tagged("float", value=repr(float(obj)))
    if isinstance(obj, np.generic) and not isinstance(obj, np.void):
        return _encode(obj.item(), tensors, where)
    if torch.is_tensor(obj):
        name = f"t{len(tensors)}"
        tensors[name] = obj.detach().cpu().clone()
        return _tagged("tensor", name=name)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufcUSO":
            raise TypeError(f"cannot save {where}: arrays of dtype {obj.dtype} are not supported")
        items = obj.ravel().tolist()
        return _tagged("ndarray", dtype=obj.dtype.str, shape=list(obj.shape),
                       items=_encode(items, tensors, where))
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return _tagged("tuple", items=_encode(list(obj), tensors, where))
    if isinstance(obj, (set, frozenset)):
        try:
            items = sorted(obj)
        except TypeError:
            items = list(obj)
        return _tagged("set", items=_encode(items, tensors, where))
    if isinstance(obj, bytes):
        return _tagged("bytes", base64=base64.b64encode(obj).decode("ascii"))
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and _TAG not in obj:
            return {k: _encode(v, tensors, f"{where}.{k}") for k, v in obj.items()}
        return _tagged("dict", items=[[_encode(k, tensors, where),
                                       _encode(v, tensors, f"{where}[{k!r}]")]
                                      for k, v in obj.items()])
    if isinstance(obj, np.random.RandomState):
        return _tagged("random_state", state=_encode(obj.get_state(), tensors, where))
    if dataclasses.is_dataclass(obj) and type(obj).__name__ in _DATACLASSES:
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return _tagged("dataclass", name=type(obj).__name__,
                       fields=_encode(fields, tensors, where))
    raise TypeError(f"cannot save {where}: objects of type {type(obj).__name__} are neither "
                    "plain values, arrays, tensors nor random states.")


def _decode(obj, tensors):
    """Inverse of :func:`_encode`; builds data only (and skfold's listed dataclasses)."""
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    tag = obj.get(_TAG)
    if tag is None:
        return {k: _decode(v, tensors) for k, v in obj.items()}
    if tag == "tensor":
        return tensors[obj["name"]]
    if tag == "float":
        if obj["value"] not in ("inf", "-inf", "nan"):
            raise ValueError(f"bad float {obj['value']!r}")
        return float(obj["value"])
    if tag == "ndarray":
        dtype = np.dtype(obj["dtype"])
        if dtype.kind not in "biufcUSO":
            raise ValueError(f"unsupported dtype {dtype}")
        items = _decode(obj["items"], tensors)
        shape = tuple(int(n) for n in obj["shape"])
        if dtype.kind == "O":
            array = np.empty(len(items), dtype=object)
            array[:] = items
            return array.reshape(shape)
        return np.array(items, dtype=dtype).reshape(shape)
    if tag == "tuple":
        return tuple(_decode(obj["items"], tensors))
    if tag == "set":
        return set(_decode(obj["items"], tensors))
    if tag == "bytes":
        return base64.b64decode(obj["base64"], validate=True)
    if tag == "dict":
        return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["items"]}
    if tag == "random_state":
        rs = np.random.RandomState()
        rs.set_state(_decode(obj["state"], tensors))
        return rs
    if tag == "dataclass":
        return _DATACLASSES[obj["name"]](**_decode(obj["fields"], tensors))
    raise ValueError(f"unknown tag {tag!r}")
