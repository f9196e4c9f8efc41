"""Which network a fit keeps when the simpler start is a candidate: the one-standard-error rule.

With the linear seed the fit starts as the linear model. The best network on the held-out rows
is kept only if its held-out loss beats the start's by more than one standard error of the
row-wise loss difference (the "one-standard-error rule" of Breiman et al. and glmnet's
``lambda.1se``): on a few hundred held-out rows the best of hundreds of epochs beats the start
by chance alone, and the start is the model the fit must never fall below.
"""

from __future__ import annotations

import numpy as np

from .objective import outputs

#: Standard errors by which the kept network's held-out loss must beat the start's.
N_STANDARD_ERRORS = 1.0


def row_losses(network, X, y, task):
    """Per-row losses of ``network`` on ``(X, y)``, float64 on the CPU."""
    return task.per_sample_loss(outputs(network, X), y).double().cpu().numpy()


def beats_start(network, start, val, task, n_se=N_STANDARD_ERRORS):
    """Whether ``network`` beats the network of ``start``'s ``(weights, biases)`` on the
    held-out rows ``val`` by more than ``n_se`` standard errors of the sample-weighted mean of
    the row-wise loss difference."""
    X, y, _, sw = val
    simpler = network.rebuilt(*start)
    diff = row_losses(network, X, y, task) - row_losses(simpler, X, y, task)
    w = np.asarray(sw, dtype=np.float64) / np.sum(sw)
    mean = float(w @ diff)
    n_eff = 1.0 / float(w @ w)
    se = float(np.sqrt(max(w @ (diff - mean) ** 2, 0.0) / max(n_eff - 1.0, 1.0)))
    return mean < -n_se * se
