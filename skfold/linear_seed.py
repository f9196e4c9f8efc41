"""The linear seed (DESIGN section 8): the linear model, fitted first, as the network's
direct input-to-output connection.

Before the hidden units train, ``output = S x + b_o`` is fitted alone on the training rows:
multinomial logistic regression for a classifier, ridge regression for a regressor, with the
penalty of scikit-learn's defaults (``LogisticRegression(C=1)``, ``Ridge(alpha=1)``). The seed
units' outgoing weights start at zero, so the network starts as exactly that linear model: its
first activated segment is the linear fit, and the first typical instances are its mistakes.
``S`` then stays fixed (a buffer of :class:`~skfold.network.GrowableMLP`); the output bias and
the hidden units train on.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import torch

from . import numpy_objective

#: The linear part's L2 penalty in the network objective's scale (``alpha/2 ||S||^2 / sum(w)``
#: on the mean loss): ``LogisticRegression``'s default ``C=1`` and ``Ridge``'s ``alpha=1``.
LINEAR_ALPHA = 1.0
#: L-BFGS iterations of the linear fit (``LogisticRegression``'s lbfgs default is 100; the
#: fit is convex, so more only polishes it).
LINEAR_MAX_ITER = 500


def fit_linear(X, y_enc, sample_weight, task, n_outputs):
    """``(S, b)``: the penalised linear model on the rows ``X`` (dense or SciPy sparse), as
    float64 arrays of shapes ``(n_outputs, n_features)`` and ``(n_outputs,)``."""
    n, d = X.shape
    X_columns = X.T.tocsr() if hasattr(X, "tocsr") else np.ascontiguousarray(X.T, dtype=float)
    y_cols = task.numpy_targets(torch.as_tensor(np.asarray(y_enc)), n_outputs)
    sw = np.asarray(sample_weight, dtype=np.float64)
    sw = None if bool((sw == 1).all()) else sw

    def fun(theta):
        S, b = theta[:n_outputs * d].reshape(n_outputs, d), theta[n_outputs * d:]
        loss, (grad_S, grad_b) = numpy_objective.objective_and_gradient(
            [S], [b], X_columns, y_cols, sw, task, LINEAR_ALPHA)
        return loss, np.concatenate([np.asarray(grad_S).ravel(), grad_b])

    theta0 = np.zeros(n_outputs * (d + 1))
    result = scipy.optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B",
                                     options={"maxiter": LINEAR_MAX_ITER})
    theta = result.x if np.isfinite(result.x).all() else theta0
    return theta[:n_outputs * d].reshape(n_outputs, d), theta[n_outputs * d:]


@torch.no_grad()
def seed_with_linear(network, X, y_enc, sample_weight, task):
    """Make ``network`` the linear model fitted on the rows: its linear part and output bias
    set from :func:`fit_linear`, its output weights zero (the hidden units add nothing yet)."""
    w_out = network.weights[-1]
    S, b = fit_linear(X, y_enc, sample_weight, task, w_out.shape[0])
    network.linear = torch.as_tensor(S, dtype=w_out.dtype, device=w_out.device)
    network.weights[-1].zero_()
    network.biases[-1].copy_(torch.as_tensor(b, dtype=w_out.dtype))
