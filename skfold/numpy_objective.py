"""The training objective and its gradient in NumPy: the L-BFGS path on CPU.

The same computation as :func:`skfold.objective.objective_and_gradient`, for full-batch L-BFGS
on small data, where the time goes to per-operation overhead rather than arithmetic: a torch
operator costs several microseconds to dispatch, a NumPy one about one
(``benchmarks/results/design_notes.md``). The two implementations agree to rounding
(``tests/test_training_engine.py``).
"""

from __future__ import annotations

import numpy as np

#: ReLU passes ``z > -tiny`` (derivative 1 at exactly 0), as :func:`skfold.network.relu`.
_TINY = np.finfo(np.float64).tiny


def objective_and_gradient(weights, biases, X_columns, y, sample_weight, task, alpha,
                           offset=None):
    """Sample-weighted mean loss plus the L2 penalty, and its gradient, by back-propagation.

    Rows are columns here (``X_columns`` is ``X.T``, C-ordered): every reduction over the
    classes or the units of a row then runs across contiguous rows of the array, and every
    reduction over the samples along one, which NumPy does at full speed (reducing the short
    rows of an ``(n, 2)`` array is element by element).

    Parameters
    ----------
    weights, biases : list of ndarray
        ``weights[l]`` of shape ``(n_out_l, n_in_l)``, ``biases[l]`` of shape ``(n_out_l,)``;
        the last layer is the linear output.
    X_columns : ndarray of shape (n_features, n)
    y : ndarray of shape (n_outputs, n)
        The task's targets as columns (:meth:`~skfold.tasks.Task.numpy_targets`).
    sample_weight : ndarray of shape (n,) or None
        None stands for all-ones weights.
    task : Task
    alpha : float
        L2 penalty, scaled as scikit-learn's: ``alpha/2 * ||W||^2 / sum(sample_weight)``.
    offset : ndarray of shape (n_outputs, n) or None
        Added to the output: the network's linear part on the rows (a constant of the weights).

    Returns
    -------
    loss : float
    grads : list of ndarray
        One per parameter, weights first, then biases (``network.parameters()`` order).
    """
    inputs, preactivations = [X_columns], []
    h = X_columns
    for w, b in zip(weights[:-1], biases[:-1]):
        z = w @ h
        z += b[:, None]
        h = np.maximum(z, 0.0)  # equal to relu's output up to _TINY
        inputs.append(h)
        preactivations.append(z)
    out = weights[-1] @ h
    out += biases[-1][:, None]
    if offset is not None:
        out += offset
    n = X_columns.shape[1]
    losses, d_out = task.numpy_losses_and_output_gradient(out, y, summed=sample_weight is None)
    if sample_weight is None:
        sw_sum, data_loss = n, np.sum(losses) / n
        d_out /= n
    else:
        sw_sum = sample_weight.sum()
        data_loss = losses @ sample_weight / sw_sum
        d_out *= sample_weight / sw_sum
    penalty_scale = alpha / sw_sum
    loss = data_loss + 0.5 * penalty_scale * sum(np.vdot(w, w) for w in weights)
    grad_w, grad_b = [None] * len(weights), [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        grad = d_out @ inputs[layer].T
        grad += penalty_scale * weights[layer]
        grad_w[layer] = grad
        grad_b[layer] = d_out.sum(axis=1)
        if layer:
            d_out = weights[layer].T @ d_out
            # a product with the mask: half the time of a masked assignment
            d_out *= preactivations[layer - 1] > -_TINY
    return float(loss), grad_w + grad_b
