"""The two public estimators: what a classifier and a regressor add to the shared layer.

Their targets (classes or values), their loss (the task, :mod:`skfold.tasks`) and their
predictions; everything else is :class:`~skfold._base.BaseFoldGrow`'s.
"""

from __future__ import annotations

import inspect

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseFoldGrow, _solver_is_stochastic
from ._docs import CLASS_WEIGHT, estimator_doc
from ._validation import check_positive_total
from .tasks import CLASSIFICATION, REGRESSION

#: Largest absolute regression target: its square must not overflow float64 (the target's
#: spread is computed before it is standardised).
TARGET_LIMIT = float(np.sqrt(np.finfo(np.float64).max)) * 1e-4


class FoldGrowClassifier(ClassifierMixin, BaseFoldGrow):
    __doc__ = estimator_doc(
        summary="""Classifier that grows a ReLU MLP by folding on typical mis-predicted instances.

    Training starts from a single hidden layer of ``hidden_units`` units. Whenever training
    stops improving (``growth_schedule="plateau"``), the estimator finds a *typical
    mis-predicted instance* ``x_t`` (loss-weighted k-means over a subsample, worst cluster, the
    mis-predicted member nearest its centroid), takes the affine map of ``x_t``'s activated
    linear segment, finds the *fold point* ``x_f`` (the closest point to ``x_t`` on that
    segment's boundary between the predicted and the true class) and adds a hidden unit whose
    hyperplane passes through ``x_f``, active on ``x_t``'s side, with zero outgoing weights, so
    the network's function is unchanged at the moment of growth. Then it trains on.
""",
        attributes="""
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_outputs_ : int
        Output units (one logit per class; binary problems have 2).
    out_activation_ : str
        ``"softmax"`` (binary problems included).
    validation_scores_ : list of float or None
        Validation accuracy at each epoch with ``early_stopping``, else None.
""",
        see_also="""
    See Also
    --------
    FoldGrowRegressor : The regression counterpart.
    sklearn.neural_network.MLPClassifier : A fixed-size MLP.
""",
        examples="""
    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skfold import FoldGrowClassifier
    >>> X, y = make_moons(n_samples=200, noise=0.1, random_state=0)
    >>> clf = FoldGrowClassifier(max_hidden_units=8, random_state=0).fit(X, y)
    >>> clf.hidden_layer_sizes_[0] <= 8
    True
""", extra_parameters=CLASS_WEIGHT)

    _task = CLASSIFICATION
    _parameter_constraints = {**BaseFoldGrow._parameter_constraints,
                              "class_weight": [dict, StrOptions({"balanced"}), None]}

    def __init__(self, *, class_weight=None, **params):
        super().__init__(**params)
        self.class_weight = class_weight

    # scikit-learn reads the parameters from the signature: the shared ones and class_weight
    __init__.__signature__ = inspect.signature(BaseFoldGrow.__init__).replace(parameters=[
        *inspect.signature(BaseFoldGrow.__init__).parameters.values(),
        inspect.Parameter("class_weight", inspect.Parameter.KEYWORD_ONLY, default=None)])

    def _n_output_units(self):
        return len(self.classes_)

    @property
    def n_outputs_(self):
        """Output units: one logit per class (binary problems have 2, as in the slides)."""
        check_is_fitted(self)
        return len(self.classes_)

    def _encode_targets(self, y, first, classes, sample_weight=None):
        try:
            check_classification_targets(y)
            unique_labels(y)  # scikit-learn's error for labels of types that cannot mix
        except TypeError as exc:  # NumPy cannot sort labels of types without an order
            raise ValueError(f"y holds labels of types that cannot be compared with each "
                             f"other (such as strings and numbers): {exc}. Give every label "
                             "the same type.") from exc
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(f"{type(self).__name__} supports binary and multiclass targets; "
                             f"got {type_of_target(y)!r}.")
        if first and classes is None:
            self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {self.classes_[0]!r}.")
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y contains labels not in classes_: {unseen.tolist()}; "
                             f"classes_ is {self.classes_.tolist()}.")
        y_enc = np.searchsorted(self.classes_, y)
        if self.class_weight is None:
            return y_enc, sample_weight
        unknown = ([k for k in self.class_weight if k not in set(self.classes_.tolist())]
                   if isinstance(self.class_weight, dict) else [])
        if unknown:
            raise ValueError(f"class_weight names labels not in classes_: {unknown}; "
                             f"classes_ is {self.classes_.tolist()}.")
        bad = ({k: v for k, v in self.class_weight.items()
                if not (np.isfinite(float(v)) and float(v) >= 0)}
               if isinstance(self.class_weight, dict) else {})
        if bad:
            raise ValueError(f"class_weight's values must be finite and non-negative; got {bad}.")
        weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        return y_enc, check_positive_total(sample_weight * weights[y_enc],
                                           "sample_weight times class_weight")

    def _decode_event(self, event):
        for key in ("predicted", "true"):
            if event.get(key) is not None:
                label = self.classes_[event[key]]  # a NumPy scalar, or an object's own value
                event[key] = label.item() if isinstance(label, np.generic) else label

    @available_if(_solver_is_stochastic)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of Adam/SGD over ``(X, y)``, then a growth if one is due.

        The growth schedule's state lives across calls. Under ``"plateau"`` the network grows
        at a plateau, and also after a call that lowered the monitored loss by less than half
        the largest fall of a call since the last growth; the typical-instance search
        reads this chunk and a reservoir of earlier rows (at most ``search_subsample``, a
        uniform sample of the stream). With ``early_stopping=True``, ``validation_fraction``
        of the rows are held out into a reservoir that judges growth instead of the training
        loss. The README's "Streaming" section says more.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All classes that can appear; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        first = not hasattr(self, "_state")
        if first:
            self._check_params()
        if self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' is not supported for partial_fit (a "
                             "chunk does not show the class frequencies); pass a dict of "
                             "weights, e.g. from sklearn.utils.class_weight."
                             "compute_class_weight on all labels.")
        if _check_partial_fit_first_call(self, classes):
            return self._fit(X, y, sample_weight, incremental=True, classes=classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def decision_function(self, X):
        """Logits; for binary problems the margin ``logit_1 - logit_0`` of shape (n_samples,)."""
        out = self._forward(X)
        if out.shape[1] == 2:
            return out[:, 1] - out[:, 0]
        return out

    def predict_proba(self, X):
        """Class probabilities, computed in float64 from the logits."""
        logits = self._forward(X)
        if logits.shape[1] == 2:
            # Softmax of two logits is the logistic of their difference: no row-wise max and
            # sum over a 2-wide axis.
            margin = logits[:, 1] - logits[:, 0]
            return np.column_stack([expit(-margin), expit(margin)])
        return softmax(logits, axis=1)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted class labels."""
        logits = self._forward(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class FoldGrowRegressor(RegressorMixin, BaseFoldGrow):
    __doc__ = estimator_doc(
        summary="""Regressor that grows a ReLU MLP by folding on typical badly-predicted instances.

    As :class:`FoldGrowClassifier`, but the fold point of ``x_t`` is the nearest point of its
    segment where the segment's prediction equals ``x_t``'s target (the minimum-norm
    correction), the loss is half the squared error, and every member of the worst cluster is a
    candidate instance.
""",
        attributes="""
    n_outputs_ : int
        Number of targets.
    target_mean_, target_scale_ : ndarray of shape (n_outputs_,)
        The (sample-weighted) mean and standard deviation of the first fit's targets: the
        network (``coefs_``, ``intercepts_``, ``loss_curve_``, ``tol``) works on the
        standardised target ``(y - target_mean_) / target_scale_``, so that its training and
        growth do not depend on the units of ``y``; ``predict`` and ``growth_history_`` are in
        those units. A constant target (its spread no more than the rounding of its
        mean) has a scale of 1; a target in small units is scaled like any other.
    out_activation_ : str
        ``"identity"``.
    validation_scores_ : list of float or None
        Validation R^2 at each epoch with ``early_stopping``, else None.
""",
        see_also="""
    See Also
    --------
    FoldGrowClassifier : The classification counterpart.
    sklearn.neural_network.MLPRegressor : A fixed-size MLP.
""",
        examples="""
    Examples
    --------
    >>> import numpy as np
    >>> from skfold import FoldGrowRegressor
    >>> X = np.linspace(-3, 3, 200)[:, None]
    >>> reg = FoldGrowRegressor(max_hidden_units=8, random_state=0).fit(X, np.sin(X).ravel())
    >>> reg.predict(X).shape
    (200,)
""")

    _task = REGRESSION

    def _n_output_units(self):
        return self.n_outputs_

    def _encode_targets(self, y, first, classes, sample_weight=None):
        """``y`` standardised, with the mean and scale of the first call's (weighted)
        targets: the loss, ``tol`` and the growth decisions do not depend on the units of
        ``y``; predictions are in them."""
        y = np.asarray(y, dtype=np.float64)
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        largest = float(np.abs(y2).max()) if y2.size else 0.0
        if largest > TARGET_LIMIT:
            raise ValueError(f"y contains values as large as {largest:.3g} in absolute value; "
                             f"their squares overflow float64 above {TARGET_LIMIT:.2g}. Scale "
                             "the target first, e.g. with sklearn.compose."
                             "TransformedTargetRegressor(transformer=StandardScaler()).")
        if first:
            self.n_outputs_ = y2.shape[1]
            self._y_ndim = y.ndim
            weights = None if sample_weight is None else sample_weight / sample_weight.sum()
            mean = np.average(y2, axis=0, weights=weights)
            spread = _spread(y2 - mean, weights)
            # a constant target keeps its units: there is no spread to scale by. Constant up
            # to the rounding of the mean's n terms, as StandardScaler judges it; a target in
            # small units (1e-13 about 0) is not constant.
            constant = spread <= np.maximum(y2.shape[0] * np.finfo(np.float64).eps
                                            * np.abs(mean), np.finfo(np.float64).tiny)
            self.target_mean_ = mean
            self.target_scale_ = np.where(constant, 1.0, spread)
        elif y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2.shape[1]} outputs but the estimator was fitted with "
                             f"{self.n_outputs_}.")
        return (y2 - self.target_mean_) / self.target_scale_, sample_weight

    def _decode_event(self, event):
        """A growth record's prediction and target in the units of ``y``."""
        for key in ("predicted", "true"):
            if event.get(key) is not None:
                value = np.asarray(event[key]) * self.target_scale_ + self.target_mean_
                event[key] = value.tolist()

    @available_if(_solver_is_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of Adam/SGD over ``(X, y)``, then a growth if one is due (see
        :meth:`FoldGrowClassifier.partial_fit`: the same growth rules, reservoirs and
        held-out rows).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        if not hasattr(self, "_state"):
            self._check_params()
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        out = self._forward(X) * self.target_scale_ + self.target_mean_
        return out.ravel() if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _spread(deviation, weights):
    """The weighted standard deviation of each column of ``deviation``. Where squaring would
    underflow (deviations all below 1e-150), the column is divided by its largest deviation
    first. (Targets whose squares would overflow are refused before.)"""
    spread = np.sqrt(np.average(deviation ** 2, axis=0, weights=weights))
    peak = np.abs(deviation).max(axis=0)
    for j in np.flatnonzero((peak > 0) & (peak < 1e-150)):
        unit = deviation[:, j] / peak[j]
        spread[j] = peak[j] * np.sqrt(np.average(unit ** 2, weights=weights))
    return spread
