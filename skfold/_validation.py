"""Checks of the data a fit is given, with scikit-learn's conventions and messages."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import torch
from sklearn.utils.validation import _check_sample_weight, validate_data

from .fit_setup import SOLVER_DTYPES

#: Largest absolute value of X (or a regression target) accepted for training, as a fraction of
#: the square root of the training dtype's maximum, so that squared errors and Adam's squared
#: gradients cannot overflow: 1.8e15 for float32 (Adam, SGD), 1.3e150 for float64 (L-BFGS).
OVERFLOW_MARGIN = 1e-4
#: Sparse formats X may come in (matrices or arrays); any other sparse format is converted to
#: CSR. The fit densifies a few rows at a time (:class:`~skfold.sparse_rows.SparseRows`).
ACCEPT_SPARSE = ["csr", "csc"]


class NamedArgumentErrors:
    """A base whose ``__new__`` turns a wrong call of the class into
    :func:`check_init_arguments`'s message. It comes after the estimator classes in the MRO,
    so that ``inspect.signature`` of an estimator class is still its ``__init__``'s."""

    def __new__(cls, *args, **kwargs):
        check_init_arguments(cls, args, kwargs)
        return super().__new__(cls)


def check_init_arguments(cls, args, kwargs):
    """A TypeError naming the public class for positional or unknown arguments, with a
    pointer for MLPClassifier's ``hidden_layer_sizes``."""
    try:
        inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        return  # a subclass's own signature may take more
    except TypeError:
        pass
    unknown = sorted(set(kwargs) - set(cls._get_param_names()))
    hint = ("" if "hidden_layer_sizes" not in unknown else
            " MLPClassifier's hidden_layer_sizes has no counterpart here: the network sizes "
            "itself; set hidden_units (the starting width) and max_hidden_units (the most it "
            "may grow to).")
    what = (f"got unexpected keyword argument(s) {', '.join(map(repr, unknown))}"
            if unknown else "takes keyword arguments only")
    raise TypeError(f"{cls.__name__}.__init__() {what}.{hint}")


def validate_Xy(est, X, y, reset):
    """scikit-learn's checks of ``X`` and ``y``; a classifier's ``y`` with several columns
    gets its own message (scikit-learn's "y should be a 1d array" does not say why)."""
    values = est._task.targets_are_values
    shape = getattr(y, "shape", None)
    if shape is None and isinstance(y, (list, tuple)):
        try:
            shape = np.shape(y)
        except ValueError:  # ragged: validate_data says what is wrong with it
            shape = None
    shape = tuple(shape or ())
    if not values and len(shape) == 2 and shape[1] > 1:
        raise ValueError(
            f"{type(est).__name__} takes one label per sample (y of shape (n_samples,)); "
            f"got y of shape {shape}: multilabel and multi-output targets are not "
            "supported. Fit one classifier per column, e.g. with "
            "sklearn.multioutput.MultiOutputClassifier.")
    if values and y is not None:
        kind = np.asarray(y).dtype.kind if not hasattr(y, "dtypes") else None
        if kind in ("U", "S", "O"):
            try:
                np.asarray(y, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{type(est).__name__} needs a numeric target: y must hold numbers "
                    f"({exc}). For class labels use FoldGrowClassifier.") from exc
    return validate_data(est, X, y, reset=reset, dtype=(np.float64, np.float32),
                         accept_sparse=ACCEPT_SPARSE, multi_output=values, y_numeric=values)


def validate_sample_weight(sample_weight, X):
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity.")
    return check_positive_total(sw, "sample_weight")


def check_positive_total(sw, what):
    """``sw``, unless its weights sum to zero (``what`` names them in the error)."""
    if sw.sum() <= 0:
        raise ValueError(f"{what} sums to zero: at least one sample needs a positive weight.")
    return sw


def weights_for_training(est, sw, solver):
    """``sw`` as the training dtype can hold it: weights whose sum would overflow it, or whose
    smallest positive one would underflow it, are divided by a power of two near their mean
    (only their ratios weigh the loss), and a warning says so; ratios it cannot hold either are
    a ``ValueError``."""
    dtype = SOLVER_DTYPES[solver]
    info = torch.finfo(dtype)
    name = str(dtype).removeprefix("torch.")

    def holds(w):
        positive = w[w > 0]
        return positive.min() >= info.tiny and w.sum() <= float(info.max) * OVERFLOW_MARGIN

    if holds(sw):
        return sw
    positive = sw[sw > 0]
    exponent = int(np.round(np.log2(positive.mean())))
    scaled = np.ldexp(sw, -exponent)
    if not holds(scaled):
        raise ValueError(
            f"sample_weight's positive values range from {positive.min():.3g} to "
            f"{positive.max():.3g}, ratios that solver={solver!r} cannot hold in {name} "
            "(from its smallest normal number to its largest); clip or rescale them"
            + (", or use solver='lbfgs', which trains in float64" if name != "float64" else "")
            + ".")
    warnings.warn(
        f"{type(est).__name__}: sample_weight's values ({positive.min():.3g} to "
        f"{positive.max():.3g}) are beyond what solver={solver!r} holds in {name}; they were "
        f"divided by 2**{exponent}. Only their ratios weigh the loss; the L2 penalty (alpha, "
        "divided by the weights' sum) now acts as on weights of mean about 1.", UserWarning,
        stacklevel=4)
    return scaled


def check_magnitudes(est, X, solver):
    """Reject values whose squares would overflow the training dtype (see OVERFLOW_MARGIN).
    A regressor's targets are standardised by then (:meth:`FoldGrowRegressor._encode_targets`
    checks them before)."""
    dtype = SOLVER_DTYPES[solver]
    limit = float(np.sqrt(torch.finfo(dtype).max)) * OVERFLOW_MARGIN
    checks = [("X", X, "the features first, e.g. with sklearn.preprocessing.StandardScaler "
                       "in a Pipeline")]
    alternative = (", or use solver='lbfgs', which trains in float64"
                   if dtype != torch.float64 else "")
    for name in ("alpha", "learning_rate_init"):
        if not isinstance(getattr(est, name), str) and getattr(est, name) > limit:
            raise ValueError(f"{name}={getattr(est, name):g} is beyond what solver={solver!r} "
                             f"represents in {str(dtype).removeprefix('torch.')} (at most "
                             f"{limit:.2g}).")
    for name, values, advice in checks:
        largest = max(float(values.max()), -float(values.min()))
        if largest > limit:
            raise ValueError(
                f"{name} contains values as large as {largest:.3g} in absolute value; "
                f"solver={solver!r} trains in {str(dtype).removeprefix('torch.')}, where "
                f"values above {limit:.2g} overflow. Scale {advice}{alternative}.")
