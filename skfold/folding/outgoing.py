"""The new units' outgoing weights chosen by a line search (``outgoing_weights="line_search"``).

A unit joins with zero outgoing weights, so the network's function is unchanged. The line
search instead sets them at once along the loss gradient with respect to them, as TINY (Verbitskiy
et al.) scales its new units by an amplitude ``gamma``: the outgoing weights become
``-step * g / |g|``, ``g = delta^T h_new`` (the back-propagated gradient at the next layer's
pre-activation against the new units' activations on the search rows), with the step of
:data:`STEP_FACTORS` (times the layer's mean outgoing-weight norm) that lowers the loss on those
rows most, or zero when none does. The function then changes by an improvement.
"""

from __future__ import annotations

import numpy as np
import torch

from ..network import relu
from ..objective import weighted_mean_loss

#: Steps tried, as multiples of the mean norm of the existing units' outgoing weights.
STEP_FACTORS = 2.0 ** np.arange(-10, 3)


@torch.no_grad()
def line_search_outgoing(network, layer: int, units: slice, X, y, sample_weight, task,
                         delta) -> float:
    """Set the outgoing weights of ``units`` of hidden layer ``layer`` (zero on entry) by the
    line search on the rows ``X``; ``delta`` is the gradient of the weighted mean loss with
    respect to layer ``layer + 1``'s pre-activation on those rows, taken before the units
    joined (they change nothing there). Returns the norm of the weights set (0: left zero).
    """
    w_in, b_in = network.weights[layer][units], network.biases[layer][units]
    h_new = relu(torch.addmm(b_in, network.hidden_input(X, layer), w_in.t()))
    gradient = delta.to(h_new.dtype).t() @ h_new  # (n_next, k)
    norm = float(gradient.norm())
    w_next = network.weights[layer + 1]
    if not np.isfinite(norm) or norm == 0.0:
        return 0.0
    others = w_next[:, :units.start]
    scale = float(others.norm(dim=0).mean()) if others.numel() else 1.0
    scale = scale if scale > 0 else 1.0
    direction = -gradient / norm

    def loss():
        return weighted_mean_loss(network(X), y, sample_weight, task)

    best_loss, best_step = loss(), 0.0
    for factor in STEP_FACTORS:
        step = float(factor) * scale
        w_next[:, units] = direction * step
        value = loss()
        if value < best_loss:
            best_loss, best_step = value, step
    w_next[:, units] = direction * best_step
    return best_step
