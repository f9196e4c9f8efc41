"""Save and load skfold estimators without pickle: a file that holds data only.

A pickle (``pickle``, ``joblib``) of an estimator can run arbitrary code when it is loaded, so a
model file from an untrusted source must never be unpickled. :func:`save` writes, and
:func:`load` reads, a `safetensors <https://github.com/huggingface/safetensors>`_ file
(:mod:`skfold.persistence.container`): a header, read first, that declares every tensor's
dtype, shape and byte range, and holds the estimator's parameters and fitted attributes as JSON
(:mod:`skfold.persistence.schema`); then the tensors' raw bytes, uncompressed. What
:func:`load` checks, before it builds anything:

- the header: its size, that it is a skfold file of a format version this skfold reads, and a
  SHA-256 digest of the metadata and the tensors (a file altered or damaged after it was saved
  is refused);
- the tensors: exactly those the declared model has (its widths, ``n_features_in_``, its
  outputs, its solver's optimizer state), each of the dtype and shape they imply, laid end to
  end, read in chunks only once all of that holds, so that nothing allocates more than the
  declared model; then every float finite, and the optimizer's state values Adam can reach;
- the metadata: the class (only :class:`~skfold.FoldGrowClassifier` and
  :class:`~skfold.FoldGrowRegressor`), the parameters (scikit-learn's constraints), every
  fitted attribute against the others (``classes_`` sorted, distinct, one per output), the
  growth schedule, the random generators' states, every ``growth_history_`` record's
  fields and types, and a ``partial_fit`` stream's reservoirs (:mod:`.streams`: sizes within
  their bounds, labels among the classes, positions within the stream, a sparse reservoir's
  offsets and indices within its matrix).

Any failure is a ``ValueError`` that says what is wrong; no code stored in a file ever runs,
and no class or function is looked up by a name read from it.
"""

from __future__ import annotations

import warnings

from .._base import BaseFoldGrow
from . import container, loading, schema


def save(estimator, path):
    """Save a fitted skfold estimator to ``path`` without pickle.

    Parameters
    ----------
    estimator : FoldGrowClassifier or FoldGrowRegressor
        Fitted.
    path : str, os.PathLike or binary file object
        Destination. A path is written atomically (a temporary file in the same folder is
        renamed over it once complete, so an interrupted save never leaves a truncated model),
        with the permissions ``open`` would give it (``0o666`` less the umask).

    Raises
    ------
    TypeError
        If ``estimator`` is not a skfold estimator.
    sklearn.exceptions.NotFittedError
        If it is not fitted (its parameters alone are ``estimator.get_params()``).

    See Also
    --------
    load : Read the file back.
    """
    if not isinstance(estimator, BaseFoldGrow):
        raise TypeError(f"skfold.save saves FoldGrowClassifier and FoldGrowRegressor "
                        f"estimators; got {type(estimator).__name__}. Use joblib for other "
                        "objects such as a Pipeline.")
    metadata, tensors = schema.encode(estimator)
    container.write(path, metadata, tensors)


def load(path):
    """Load an estimator written by :func:`save`; never runs code stored in the file.

    Parameters
    ----------
    path : str, os.PathLike or binary file object

    Returns
    -------
    estimator : FoldGrowClassifier or FoldGrowRegressor
        Predicts exactly as the saved one did, on the CPU, and trains on (``partial_fit``,
        ``warm_start``) exactly as it would have. A model fitted with ``device="cuda"`` keeps
        that parameter: set ``device="cpu"`` (``set_params``) to train it further on a
        CPU-only machine.

    Raises
    ------
    ValueError
        If the file is not a skfold model file this skfold reads, or anything in it is
        inconsistent (see :mod:`skfold.persistence`).
    OSError
        If the path cannot be opened (``FileNotFoundError``...).
    """
    metadata, tensors = container.read(path, loading.expected_tensors)
    try:
        estimator = loading.decode(metadata, tensors)
    except (KeyError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        raise ValueError(f"{path!r} is corrupt: its metadata could not be read "
                         f"({type(exc).__name__}: {exc}).") from exc
    from .. import __version__
    if metadata.get("skfold_version") != __version__:
        warnings.warn(f"{path!r} was saved by skfold {metadata.get('skfold_version')} and is "
                      f"loaded by skfold {__version__}; check its predictions.", UserWarning,
                      stacklevel=2)
    return estimator
