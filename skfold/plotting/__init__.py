"""Figures of a grown network: its folds on a 2-D decision boundary, its growth, a 1-D fit.

matplotlib is optional: ``pip install "skfold[plot]"``. Every function accepts a fitted
:class:`~skfold.FoldGrowClassifier` / :class:`~skfold.FoldGrowRegressor` or a fitted
:class:`~sklearn.pipeline.Pipeline` ending in one. Fold points and typical instances are
recorded in the estimator's own input space (after the pipeline's preprocessing); they are
mapped back to the data's space with the preprocessing's ``inverse_transform``, and a unit's
hyperplane is drawn as the zero line of its pre-activation over the plotted grid, so it appears
where it really is in the data's space, bent by the layers below it if it is a deep unit.
"""

from ._common import FOLD_COLORS, fold_events
from .boundary import plot_decision_boundary
from .growth import plot_growth
from .regression import plot_regression_fit

__all__ = ["plot_decision_boundary", "plot_growth", "plot_regression_fit", "fold_events",
           "FOLD_COLORS"]
