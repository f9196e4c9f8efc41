"""The baseline inits beside folding: GradMax (Evci et al., 2022) and random incoming weights."""

from __future__ import annotations

import numpy as np
import torch

from .failures import numerical


def random_incoming(n_in, *, generator):
    """He-scaled random incoming weights, zero bias (the ``"random"`` baseline)."""
    v = torch.randn(n_in, generator=generator, dtype=torch.float64) * np.sqrt(2.0 / n_in)
    return v.numpy(), 0.0


#: Singular values below this fraction of the largest are rounding, not gradient: a binary
#: softmax's two delta columns are each other's negatives up to float64 rounding.
RANK_TOLERANCE = 1e-8
#: ``growth_history_["skipped"]`` of GradMax units beyond the gradient's rank.
GRADMAX_RANK = "gradmax: no further direction; the back-propagated gradient's rank is"


def gradmax_outgoing(network, layer, H, delta, n_units):
    """Evci et al.'s GradMax: outgoing weights = top singular vectors of ``E[delta h^T]``.

    The incoming weights are zero, so the new units output 0 everywhere and the function is
    unchanged; with ``relu'(0) = 1`` their incoming weights receive gradient
    ``(w_out . delta) h``. Only the directions with a non-zero singular value (the matrix's
    numerical rank, at most ``min(n_in, n_next)``: one for a binary classifier's softmax or a
    one-output regressor) carry gradient: at most that many columns are returned.
    """
    M = (delta.double().T @ H.double()) / H.shape[0]  # (n_next, n_in)
    with numerical("GradMax's SVD"):
        U, S, _ = torch.linalg.svd(M, full_matrices=False)
    rank = int((S > RANK_TOLERANCE * S.max()).sum()) if S.numel() and S.max() > 0 else 0
    existing = network.weights[layer + 1].detach().double().norm(dim=0)
    scale = float(existing.mean()) if existing.numel() else 1.0
    return U[:, :min(n_units, rank)] * scale  # (n_next, at most n_units)
