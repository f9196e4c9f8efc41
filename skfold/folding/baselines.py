"""The baseline inits beside folding: GradMax (Evci et al., 2022) and random incoming weights."""

from __future__ import annotations

import numpy as np
import torch


def random_incoming(n_in, *, generator):
    """He-scaled random incoming weights, zero bias (the ``"random"`` baseline)."""
    v = torch.randn(n_in, generator=generator, dtype=torch.float64) * np.sqrt(2.0 / n_in)
    return v.numpy(), 0.0


def gradmax_outgoing(network, layer, H, delta, n_units):
    """Evci et al.'s GradMax: outgoing weights = top singular vectors of ``E[delta h^T]``.

    The incoming weights are zero, so the new units output 0 everywhere and the function is
    unchanged; with ``relu'(0) = 1`` their incoming weights receive gradient
    ``(w_out . delta) h``. At most ``min(n_in, n_next)`` directions are informative.
    """
    M = (delta.double().T @ H.double()) / H.shape[0]  # (n_next, n_in)
    U, _, _ = torch.linalg.svd(M, full_matrices=True)
    existing = network.weights[layer + 1].detach().double().norm(dim=0)
    scale = float(existing.mean()) if existing.numel() else 1.0
    cols = [U[:, i % U.shape[1]] for i in range(n_units)]
    return torch.stack(cols, dim=1) * scale  # (n_next, n_units)
