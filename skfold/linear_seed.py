"""The linear seed (DESIGN section 8): the linear model, fitted first, as the network's
direct input-to-output connection.

Before the hidden units train, ``output = S x + b_o`` is fitted alone on the training rows:
multinomial logistic regression at ``LogisticRegression``'s default penalty for a classifier,
ridge regression at the penalty ``RidgeCV`` chooses for a regressor: the linear models a grown
network must never fall below. The seed
units' outgoing weights start at zero, so the network starts as exactly that linear model: its
first activated segment is the linear fit, and the first typical instances are its mistakes.
``S`` then stays fixed (a buffer of :class:`~skfold.network.GrowableMLP`); the output bias and
the hidden units train on.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.optimize
import scipy.sparse
import torch
from sklearn.linear_model import RidgeCV

from . import numpy_objective
from ._threads import thread_limits

#: The linear part's L2 penalty in the network objective's scale (``alpha/2 ||S||^2 / sum(w)``
#: on the mean loss): ``LogisticRegression``'s default ``C=1`` and ``Ridge``'s ``alpha=1``.
LINEAR_ALPHA = 1.0
#: The penalties a regressor's linear part chooses from (``RidgeCV``'s default grid).
LINEAR_ALPHAS = (0.1, 1.0, 10.0)
#: L-BFGS iterations of the linear fit (``LogisticRegression``'s lbfgs default is 100; the
#: fit is convex, so more only polishes it).
LINEAR_MAX_ITER = 500


def _columns(X, y_enc, sample_weight, task, n_outputs):
    """The rows as :func:`~skfold.numpy_objective.objective_and_gradient` takes them."""
    X_columns = X.T.tocsr() if hasattr(X, "tocsr") else np.ascontiguousarray(X.T, dtype=float)
    y_cols = task.numpy_targets(torch.as_tensor(np.asarray(y_enc)), n_outputs)
    sw = np.asarray(sample_weight, dtype=np.float64)
    return X_columns, y_cols, None if bool((sw == 1).all()) else sw


def fit_linear(X, y_enc, sample_weight, task, n_outputs, alpha=LINEAR_ALPHA):
    """``(S, b)``: the linear model with L2 penalty ``alpha`` on the rows ``X`` (dense or
    SciPy sparse), as float64 arrays of shapes ``(n_outputs, n_features)`` and
    ``(n_outputs,)``."""
    d = X.shape[1]
    X_columns, y_cols, sw = _columns(X, y_enc, sample_weight, task, n_outputs)

    def fun(theta):
        S, b = theta[:n_outputs * d].reshape(n_outputs, d), theta[n_outputs * d:]
        loss, (grad_S, grad_b) = numpy_objective.objective_and_gradient(
            [S], [b], X_columns, y_cols, sw, task, alpha)
        return loss, np.concatenate([np.asarray(grad_S).ravel(), grad_b])

    theta0 = np.zeros(n_outputs * (d + 1))
    result = scipy.optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B",
                                     options={"maxiter": LINEAR_MAX_ITER})
    if result.nit == 0 and not result.success:
        warnings.warn("The linear seed did not train: its L-BFGS-B line search failed at the "
                      "first step, as it does on features far from unit scale. Scale X, e.g. "
                      "with sklearn.preprocessing.StandardScaler in a Pipeline.", UserWarning,
                      stacklevel=2)
    theta = result.x if np.isfinite(result.x).all() else theta0
    return theta[:n_outputs * d].reshape(n_outputs, d), theta[n_outputs * d:]


def chosen_alpha(X, y_enc, sample_weight, task, n_outputs):
    """The linear part's penalty: for a regressor, the one of :data:`LINEAR_ALPHAS` that
    ``RidgeCV``'s leave-one-out error picks on the rows; for a classifier
    :data:`LINEAR_ALPHA`, ``LogisticRegression``'s default."""
    if task.name != "regression":
        return LINEAR_ALPHA
    ridge = RidgeCV(alphas=LINEAR_ALPHAS).fit(X, np.asarray(y_enc), sample_weight=sample_weight)
    # the network's squared error is averaged over the outputs, Ridge's summed
    return float(ridge.alpha_) / n_outputs


@torch.no_grad()
def set_linear(network, X, y_enc, sample_weight, task):
    """Make ``network`` the linear model fitted on the rows at the :func:`chosen_alpha`: its
    linear part and output bias set from :func:`fit_linear`, its output weights zero (the
    hidden units add nothing). Sample weights count as their ratios (scaled to mean 1), as
    they do in the rest of the fit: weights all equal fit what no weights fit. Small fits run
    on one thread, as the network's training does (:func:`~skfold._threads.thread_limits`)."""
    w_out = network.weights[-1]
    n_outputs = w_out.shape[0]
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    sample_weight = sample_weight / sample_weight.mean()
    with thread_limits(X.shape[0], [X.shape[1], n_outputs]):
        alpha = chosen_alpha(X, y_enc, sample_weight, task, n_outputs)
        S, b = fit_linear(X, y_enc, sample_weight, task, n_outputs, alpha)
    network.linear = torch.as_tensor(S, dtype=w_out.dtype, device=w_out.device)
    network.weights[-1].zero_()
    network.biases[-1].copy_(torch.as_tensor(b, dtype=w_out.dtype))


def training_error(network, X, y_enc, sample_weight, task):
    """The weighted share of the rows ``X`` that ``network``'s linear part (with its output
    bias: the network as :func:`set_linear` leaves it) mis-predicts; None for a regressor."""
    if task.name != "classification":
        return None
    S = network.linear.detach().double().cpu().numpy()
    b = network.biases[-1].detach().double().cpu().numpy()
    wrong = (np.asarray(X @ S.T) + b).argmax(axis=1) != np.asarray(y_enc)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    return float(sample_weight @ wrong / sample_weight.sum())


def all_rows(train, val):
    """The training rows ``(X, y_enc, sw)`` and the held-out ones, stacked."""
    stack = scipy.sparse.vstack if scipy.sparse.issparse(train[0]) else np.concatenate
    return (stack([train[0], val[0]]), np.concatenate([train[1], val[1]]),
            np.concatenate([train[2], val[2]]))
