"""Algorithm 4 of the slides: equivalent network deepening, and the "dead layer" check."""

from __future__ import annotations

import torch

from ..network import GrowableMLP, relu


def equivalent_network_deepening(network: GrowableMLP) -> int:
    """Insert an identity layer after the deepest hidden layer (the function is unchanged);
    returns the new layer's index."""
    network.deepen(network.n_hidden_layers - 1)
    return network.n_hidden_layers - 1


@torch.no_grad()
def dead_units(network: GrowableMLP, X) -> dict:
    """Hidden units that no row of ``X`` activates, per layer (the slides' "dead layer" warning)."""
    dead = {}
    h = X
    for layer, (w, b) in enumerate(zip(network.weights[:-1], network.biases[:-1])):
        z = torch.addmm(b, h, w.t())
        never = torch.nonzero(~(z > 0).any(dim=0)).flatten().cpu().tolist()
        if never:
            dead[layer] = never
        h = relu(z)
    return dead
