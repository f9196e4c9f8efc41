"""The training objective: the task's loss, weighted by the samples, plus the L2 penalty.

:func:`objective` is the definition (through autograd); :func:`objective_and_gradient` is the
same computation with the gradient written out, the mini-batch solvers' fast path, and
:mod:`skfold.numpy_objective` its NumPy twin for L-BFGS on CPU. Both are tested against it.
"""

from __future__ import annotations

import torch

from .network import relu, relu_backward
from .sparse_rows import chunk_for

#: Rows per forward pass when a computation runs over a whole (possibly large) data set: small
#: enough for a chunk's hidden activations to stay in cache.
EVAL_CHUNK = 16384


def objective(network, X, y, sample_weight, task, alpha):
    """Sample-weighted mean loss plus scikit-learn's L2 penalty ``alpha/2 * ||W||^2 / sum(w)``.

    ``sample_weight=None`` stands for all-ones weights: the same value with fewer operations.
    """
    losses = task.per_sample_loss(network(X), y)
    if sample_weight is None:
        sw_sum, data_loss = X.shape[0], losses.mean()
    else:
        sw_sum = sample_weight.sum()
        data_loss = (losses * sample_weight).sum() / sw_sum
    penalty = sum((w * w).sum() for w in network.weights)
    return data_loss + 0.5 * alpha * penalty / sw_sum


def objective_and_gradient(network, X, y, sample_weight, task, alpha):
    """:func:`objective` and its gradient, by hand-written back-propagation without autograd.

    Returns ``(loss, grads)``: ``loss`` a 0-d tensor, ``grads`` one tensor per parameter in
    ``network.parameters()`` order (weights, then biases). The ReLU derivative follows
    :func:`~skfold.network.relu` (1 at exactly 0). The autograd engine's fixed cost per call
    dominates small steps, which this avoids; the gradient equals autograd's (tested).
    """
    weights, biases = list(network.weights), list(network.biases)
    inputs, preactivations = [X], []
    h = X
    for w, b in zip(weights[:-1], biases[:-1]):
        z = torch.addmm(b, h, w.t())
        h = relu(z)
        inputs.append(h)
        preactivations.append(z)
    out = network.plus_linear(torch.addmm(biases[-1], h, weights[-1].t()), X)
    n = X.shape[0]
    losses, d_out = task.losses_and_output_gradient(out, y)
    if sample_weight is None:
        sw_sum, data_loss = n, losses.mean()
        d_out = d_out / n
    else:
        sw_sum = sample_weight.sum()
        data_loss = (losses * sample_weight).sum() / sw_sum
        d_out = d_out * (sample_weight / sw_sum)[:, None]
    penalty_scale = alpha / sw_sum
    loss = data_loss + 0.5 * penalty_scale * sum((w * w).sum() for w in weights)
    grad_w, grad_b = [None] * len(weights), [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        if isinstance(penalty_scale, float):  # one fused op (a 0-d tensor can't be a beta)
            grad_w[layer] = torch.addmm(weights[layer], d_out.t(), inputs[layer],
                                        beta=penalty_scale)
        else:
            grad_w[layer] = d_out.t() @ inputs[layer] + penalty_scale * weights[layer]
        grad_b[layer] = d_out.sum(dim=0)
        if layer:
            d_out = relu_backward(d_out @ weights[layer], preactivations[layer - 1])
    return loss, grad_w + grad_b


def unless_all_ones(sample_weight):
    """``None`` for all-ones weights (see :func:`objective`), else the weights."""
    return None if bool((sample_weight == 1).all()) else sample_weight


def eval_slices(X):
    """The slices of ``X``'s rows that a pass over a whole data set takes one at a time:
    :data:`EVAL_CHUNK` rows, fewer for sparse rows on wide data (each is densified in turn)."""
    chunk = chunk_for(X, EVAL_CHUNK)
    return [slice(start, start + chunk) for start in range(0, X.shape[0], chunk)]


@torch.no_grad()
def outputs(network, X):
    """``network(X)`` a slice of :func:`eval_slices` at a time, without an autograd graph
    (one would keep every densified slice alive until the end)."""
    return torch.cat([network(X[part]) for part in eval_slices(X)])


def weighted_mean_loss(out, y, sample_weight, task) -> float:
    """The sample-weighted mean loss of the outputs ``out`` (as :func:`evaluate_loss`)."""
    losses = task.per_sample_loss(out, y).double()
    return float((losses * sample_weight.double()).sum() / sample_weight.double().sum())


@torch.no_grad()
def evaluate_loss(network, X, y, sample_weight, task) -> float:
    """Sample-weighted mean loss over a data set, in slices of bounded memory."""
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    for part in eval_slices(X):
        losses = task.per_sample_loss(network(X[part]), y[part])
        total += (losses.double() * sample_weight[part].double()).sum()
    return float(total / sample_weight.double().sum())
