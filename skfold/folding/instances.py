"""Algorithm 1 of the slides: find the typical mis-predicted instance.

Loss-weighted k-means over a subsample of the training rows, in the input space of the layer
being grown; the worst cluster's mis-predicted member nearest its centre is ``x_t``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.utils.random import sample_without_replacement

from ..network import GrowableMLP, relu
from .failures import numerical
from .search_rows import InPlaceKMeans, row_chunks
from ..schedule import NOTHING_MISPREDICTED


def search_subsample(n_samples: int, size: int, rng: np.random.RandomState) -> np.ndarray:
    """Sorted row indices of at most ``size`` rows drawn without replacement, in O(``size``)."""
    if n_samples <= size:
        return np.arange(n_samples)
    return np.sort(sample_without_replacement(n_samples, size, random_state=rng))


class SearchSignals(NamedTuple):
    """What a growth step reads off the network on the search rows."""

    losses: np.ndarray  #: per-sample weighted loss, float64
    mispredicted: np.ndarray  #: bool; every row for regression
    predicted: np.ndarray  #: predicted class (classification) or output (regression)
    H: torch.Tensor  #: ``h_layer``, the input of the grown layer (None once a growth drops it)
    delta: torch.Tensor  #: ``dL/dz`` of the layer after it (``L``: the weighted mean loss)
    margins: np.ndarray | None = None  #: the right answer's margin (classification)
    offsets: torch.Tensor | None = None  #: the network's linear part on the rows, if it has one


def search_signals(network: GrowableMLP, layer: int, X, y, sample_weight, task) -> SearchSignals:
    """Losses, mis-predictions, ``H`` and ``delta`` on the rows ``X``, from one forward pass."""
    with torch.no_grad():
        H = network.hidden_input(X, layer)
        h_next = relu(torch.addmm(network.biases[layer], H, network.weights[layer].t()))
        z_next = torch.addmm(network.biases[layer + 1], h_next, network.weights[layer + 1].t())
        offsets = network.linear_output(X)
    z_next.requires_grad_(True)
    out = z_next
    if layer + 1 < network.n_hidden_layers:
        out = network.forward_from(relu(z_next), layer + 2)
    if offsets is not None:
        out = out + offsets
    weighted = task.per_sample_loss(out, y) * sample_weight
    (delta,) = torch.autograd.grad(weighted.sum() / sample_weight.sum(), z_next)
    losses = weighted.detach().double().cpu().numpy()
    mispredicted, predicted = task.predictions(out.detach(), y)
    return SearchSignals(losses, mispredicted, predicted, H, delta,
                         task.margins(out.detach(), y), offsets)


def find_typical_mispredicted_instance(H, losses, mispredicted, *, method="kmeans",
                                       n_clusters=8, excluded=None, rng=None):
    """Pick the typical mis-predicted instance among the rows of ``H`` (the slides' algorithm 1).

    Parameters
    ----------
    H : ndarray of shape (m, d)
        The search subsample in the input space of the layer being grown.
    losses : ndarray of shape (m,)
        Per-sample (weighted) losses, the k-means weights.
    mispredicted : ndarray of bool, shape (m,)
        Rows that may be chosen (classification: argmax != label; regression: all).
    method : {"kmeans", "max_loss", "random"}
        The slides' loss-weighted k-means, or (ablations) the single worst row or a random
        mis-predicted row.
    n_clusters : int
    excluded : ndarray of bool, shape (m,), optional
        Rows already folded on; they are skipped while other candidates remain.
    rng : RandomState, optional

    Returns
    -------
    index : int or None
        Row of ``H``; None when no row is mis-predicted (nothing to fold).
    info : dict
        ``cluster_size``, ``cluster_mean_loss``, ``cluster_rank`` (0 = worst) and
        ``n_clusters_used`` (``n_clusters`` clipped to the number of distinct rows) of the
        chosen cluster (kmeans), or the reason nothing was chosen.
    """
    picks = typical_instances(H, losses, mispredicted, 1, method=method,
                              n_clusters=n_clusters, excluded=excluded, rng=rng)
    return picks[0]


def typical_instances(H, losses, mispredicted, n, *, method="kmeans", n_clusters=8,
                      excluded=None, rng=None, restore=None):
    """Up to ``n`` distinct typical mis-predicted instances, best first, as ``(index, info)``
    pairs (see :func:`find_typical_mispredicted_instance`, whose pick is the first).

    ``restore``: a function that refills ``H`` (a C-contiguous float64 array) with its values
    exactly (:meth:`~skfold.folding.search_rows.ScratchRows.restore`). Given, the k-means
    clusters ``H`` in place instead of a copy of it (the same clusters), and calls it after.

    ``"kmeans"`` takes the member nearest the centre of each cluster in order of the clusters'
    mean loss, so that several units added in one growth fold on different regions; when
    ``n`` exceeds the clusters that hold a candidate, it goes round them again with the next
    nearest members. ``"max_loss"`` takes the ``n`` largest losses, ``"random"`` ``n``
    candidates at random. Returns ``[(None, {"skipped": ...})]`` when nothing is
    mis-predicted.
    """
    rng = np.random.RandomState(0) if rng is None else rng
    candidates = candidate_rows(mispredicted, excluded)
    if not candidates.any():
        return [(None, {"skipped": NOTHING_MISPREDICTED})]
    idx = np.flatnonzero(candidates)
    if method == "max_loss":
        order = idx[np.argsort(-np.asarray(losses)[idx], kind="stable")]
        return [(int(i), {}) for i in order[:n]]
    if method == "random":
        if n == 1:  # one draw, as before n was a parameter: fits stay reproducible
            return [(int(rng.choice(idx)), {})]
        return [(int(i), {}) for i in rng.choice(idx, size=min(n, idx.size), replace=False)]
    if method != "kmeans":
        raise ValueError(f"unknown instance_selection {method!r}")
    return _kmeans_picks(H, losses, candidates, n, n_clusters, rng, restore)


def _kmeans(H, weights, k, seed, restore):
    """Labels and centres of the loss-weighted k-means; in place when ``restore`` is given."""
    if restore is None:
        km = KMeans(n_clusters=k, n_init=1, random_state=seed)
    else:
        km = InPlaceKMeans(n_clusters=k, n_init=1, random_state=seed, copy_x=False)
    try:
        with numerical("the loss-weighted k-means"):
            km.fit(H, sample_weight=weights)
    finally:
        if restore is not None:
            restore()
    return km.labels_, km.cluster_centers_


def _kmeans_picks(H, losses, candidates, n, n_clusters, rng, restore=None):
    """:func:`typical_instances` for ``method="kmeans"``."""
    k = int(max(1, min(n_clusters, _count_distinct_rows(H, at_most=n_clusters))))
    weights = np.asarray(losses, dtype=np.float64)
    # Zero-loss rows still belong to a cluster; a tiny floor keeps KMeans' weighted
    # k-means++ seeding well defined when few rows carry any loss.
    weights = weights + max(weights.max(), 1.0) * 1e-9
    labels, centers = _kmeans(H, weights, k, rng.randint(2**31 - 1), restore)
    mean_loss = np.array([losses[labels == c].mean() if (labels == c).any() else -np.inf
                          for c in range(k)])
    queues = []  # per cluster with candidates, worst first: its candidates, nearest first
    for rank, c in enumerate(np.argsort(-mean_loss, kind="stable")):
        members = np.flatnonzero((labels == c) & candidates)
        if members.size:
            dist = _squared_distances(H, members, centers[c])
            info = {"cluster_size": int((labels == c).sum()),
                    "cluster_mean_loss": float(mean_loss[c]), "cluster_rank": rank,
                    "n_clusters_used": k}
            queues.append((members[np.argsort(dist, kind="stable")], info))
    picks, depth = [], 0
    while len(picks) < n and any(depth < len(members) for members, _ in queues):
        picks += [(int(members[depth]), dict(info)) for members, info in queues
                  if depth < len(members)][: n - len(picks)]
        depth += 1
    return picks


def candidate_rows(mispredicted, excluded=None):
    """Rows the typical instance may be: the mis-predicted ones, without those already folded
    on while others remain."""
    candidates = np.asarray(mispredicted, dtype=bool).copy()
    if excluded is not None and (candidates & ~excluded).any():
        candidates &= ~excluded
    return candidates


def margin_rows(margins, fraction, excluded=None):
    """Mistakes that are not yet errors: the ``fraction`` of rows (at least one) whose right
    answer is least ahead, without those already folded on while others remain."""
    n = max(1, int(np.ceil(fraction * len(margins))))
    candidates = np.zeros(len(margins), dtype=bool)
    candidates[np.argsort(margins, kind="stable")[:n]] = True
    return candidate_rows(candidates, excluded)


def _squared_distances(H, members, center):
    """``((H[members] - center) ** 2).sum(axis=1)``, a chunk of rows at a time (each row's sum
    is the same in a chunk as in the whole)."""
    return np.concatenate([((H[members[part]] - center) ** 2).sum(axis=1)
                           for part in row_chunks(len(members), H.shape[1])])


def _count_distinct_rows(H, at_most):
    """``min(at_most, number of distinct rows of H)`` (rows equal as numbers: ``-0.0`` is
    ``0.0``); it stops at the ``at_most``-th distinct row, usually among the first few, and
    copies one row at a time (``np.unique`` sorts a copy of them all)."""
    seen = set()
    for row in H:
        seen.add((np.asarray(row, dtype=np.float64) + 0.0).tobytes())
        if len(seen) >= at_most:
            return at_most
    return len(seen)
