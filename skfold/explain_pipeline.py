"""Why a unit exists, in the user's units: a pipeline's preprocessing undone on the typical
instance and the fold point, step by step, each inverse checked."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import explain
from .unit_table import feature_names


def explain_pipeline_unit(pipeline, unit, layer=0, X=None):
    """Why hidden unit ``unit`` of ``layer`` of a pipeline's skfold estimator exists, with its
    typical instance and fold point in the pipeline's original units.

    The estimator records ``x_t`` and ``x_f`` in its own input space, after the pipeline's
    preprocessing (scaled, for a ``StandardScaler``). This maps them back through the
    preprocessing's steps, last to first, with each step's ``inverse_transform``, and checks
    every inverse: ``step.transform`` of the point it gives must return the point it started
    from. A fold point between two one-hot categories, for instance, has no original value
    (``OneHotEncoder.inverse_transform`` would name one category regardless), and fails that
    check.

    Parameters
    ----------
    pipeline : fitted :class:`~sklearn.pipeline.Pipeline`
        Its last step a :class:`~skfold.FoldGrowClassifier` or :class:`~skfold.FoldGrowRegressor`.
    unit : int
        Index of the unit within its layer, as in ``coefs_[layer][:, unit]``.
    layer : int, default=0
        Hidden layer of the final estimator, 0 being the first.
    X : array-like of shape (n_samples, n_features), default=None
        Rows in the pipeline's input space (before the preprocessing): the explanation also
        says on how many of them the unit is active.

    Returns
    -------
    explanation : dict
        What :meth:`~skfold.FoldGrowClassifier.explain_unit` returns (the record's ``x_t``
        and ``x_f`` stay in the estimator's space), with:

        - ``space``: ``"original"`` when ``table`` and the summary give the points in the
          pipeline's input units, each row named by the pipeline's ``feature_names_in_`` (or
          ``x0..x{n-1}``); otherwise ``"estimator"`` (layer 0) or ``"hidden"`` (deeper layers),
          the fallback: the estimator's own input space, its features named by the
          preprocessing's ``get_feature_names_out`` when it has one.
        - ``why_not_original``: None in original units, else why not: the step that has no
          ``inverse_transform`` or whose inverse fails the check, a preprocessing that does not
          map feature ``j`` to feature ``j`` (one row per feature could not carry both the
          original values and the estimator's weights), or a deeper layer, whose inputs are
          hidden units. It is also said in ``summary``, and warned about.
        - ``x_t_original``, ``x_f_original``: the points in the pipeline's input units, as
          arrays, whenever every step could be undone (also when the table falls back), else
          None.

        ``weight`` and the ranking stay those of the estimator's input space, where the
        features are on one scale (see :meth:`~skfold.FoldGrowClassifier.explain_unit`).

    Raises
    ------
    TypeError
        If ``pipeline`` is not a pipeline ending in a skfold estimator.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skfold import FoldGrowClassifier, explain_pipeline_unit
    >>> X, y = make_moons(200, noise=0.2, random_state=0)
    >>> model = make_pipeline(StandardScaler(), FoldGrowClassifier(random_state=0))
    >>> model = model.fit(100 * X, y)
    >>> why = explain_pipeline_unit(model, 0)
    >>> why["space"]
    'original'
    """
    if not hasattr(pipeline, "steps"):
        raise TypeError("explain_pipeline_unit needs a fitted Pipeline; got "
                        f"{type(pipeline).__name__}. For an estimator use its explain_unit.")
    final = pipeline.steps[-1][1]
    if not hasattr(final, "explain_unit"):
        raise TypeError("explain_pipeline_unit needs a Pipeline ending in a FoldGrowClassifier "
                        f"or FoldGrowRegressor; it ends in {type(final).__name__}.")
    check_is_fitted(final)
    steps = [(name, step) for name, step in pipeline.steps[:-1]
             if step is not None and not (isinstance(step, str) and step == "passthrough")]
    if X is not None:
        for _, step in steps:
            X = step.transform(X)
    inverted = {}
    explanation = explain.explain_unit(final, unit, layer, X,
                                       view=_OriginalUnits(pipeline, steps, inverted))
    explanation.update(x_t_original=inverted.get("start"), x_f_original=inverted.get("end"))
    return explanation


class _OriginalUnits:
    """The ``view`` of :func:`skfold.explain.explain_unit` that undoes the preprocessing; it
    leaves the points it inverted in ``inverted`` (``"start"``, ``"end"``)."""

    def __init__(self, pipeline, steps, inverted):
        self.pipeline, self.steps, self.inverted = pipeline, steps, inverted

    def __call__(self, names, start, end, layer):
        if layer:
            return names, start, end, "hidden", (f"layer {layer}'s inputs are the hidden units "
                                                 f"of layer {layer - 1}, not features.")
        why = None
        for key, point in (("start", start), ("end", end)):
            if point is not None and why is None:
                self.inverted[key], why = undo(self.steps, point)
        if why is not None:
            self.inverted.clear()
        why = why or self._not_one_to_one(len(names))
        if why is not None:
            warnings.warn(f"explain_pipeline_unit gives the estimator's input space: {why}",
                          UserWarning, stacklevel=5)
            return self._model_names(names), start, end, "estimator", why
        original = self._original_names(len(names)) if self.steps else names
        return original, self.inverted.get("start"), self.inverted.get("end"), "original", None

    def _not_one_to_one(self, n_model):
        """Why row ``j`` of the original data is not feature ``j`` of the estimator, or None."""
        n_in = getattr(self.pipeline, "n_features_in_", n_model)
        if n_in != n_model:
            return (f"the preprocessing maps the {n_in} original features to {n_model} "
                    "features, so one row per feature cannot hold both.")
        original, model = self._original_names(n_in), self._model_names(None)
        if model is not None and list(model) != list(original):
            return ("the preprocessing's features "
                    f"({', '.join(map(str, model[:3]))}...) are not the original ones.")
        return None

    def _original_names(self, n_features):
        return feature_names(self.pipeline, n_features)

    def _model_names(self, fallback):
        """The preprocessing's ``get_feature_names_out``, or ``fallback`` without one."""
        if not self.steps:
            return fallback
        try:
            return np.asarray(self.pipeline[:-1].get_feature_names_out(), dtype=object)
        except (AttributeError, NotImplementedError, ValueError, TypeError):
            return fallback


def undo(steps, point):
    """``(point before the steps, None)``, or ``(None, why not)``: each step inverted, last
    first, and its inverse checked by transforming the result back."""
    z = np.atleast_2d(np.asarray(point, dtype=np.float64))
    for name, step in reversed(steps):
        label = f"step {name!r} ({type(step).__name__})"
        if not hasattr(step, "inverse_transform"):
            return None, f"{label} has no inverse_transform."
        try:
            before = _dense(step.inverse_transform(z))
            back = _dense(step.transform(_as_step_input(step, before)))
        except (TypeError, ValueError) as exc:
            return None, f"{label} could not be inverted ({exc})."
        if back.shape != z.shape or not np.allclose(back, z, rtol=1e-6, atol=1e-9):
            return None, (f"{label}: its inverse_transform does not give a point that it "
                          "maps back to the estimator's (such as a fold point between one-hot "
                          "categories).")
        z = before
    return z[0], None


def _dense(Z):
    """A step's output (an array, a DataFrame or a sparse matrix) as a float64 array."""
    return np.asarray(Z.toarray() if hasattr(Z, "toarray") else Z, dtype=np.float64)


def _as_step_input(step, Z):
    """``Z`` as a DataFrame with the step's column names when it was fitted on one (so that
    ``transform`` does not warn about missing feature names), else as it is."""
    names = getattr(step, "feature_names_in_", None)
    if names is None or len(names) != Z.shape[1]:
        return Z
    import pandas as pd  # the step was fitted on a DataFrame: pandas is there

    return pd.DataFrame(Z, columns=names)
