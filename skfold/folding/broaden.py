"""Algorithm 3 of the slides: hidden layer broaden.

A unit joins hidden layer ``l`` with zero outgoing weights, so the network's function is
exactly unchanged, and incoming weights whose hyperplane passes through the fold point ``x_f``,
active on ``x_t``'s side (DESIGN section 3). Where no such unit can help (no fold point, ``x_t``
on it, or a unit that would add nothing), its hyperplane goes just behind ``x_t``, normal to the
loss gradient there, and the record says which fallback was taken.
"""

from __future__ import annotations

import numpy as np
import torch

from .failures import numerical
from .incoming import fold_incoming

#: ``fallback`` of a fold unit that would add nothing (see :func:`adds_nothing`).
REDUNDANT_FOLD = "redundant_fold"
#: Fallback recorded when the fold point coincides with ``x_t`` (it sits on the boundary, or
#: on the face of its region nearest a boundary outside it). Appended to an earlier fallback
#: with ``+``.
THROUGH_INSTANCE = "instance_on_boundary"
#: Relative residual below which a unit's output is taken to be in the other units' span.
SPAN_TOLERANCE = 1e-6
#: How far behind ``x_t`` the fallback hyperplane lies, in units of the data's spread along its
#: normal (see :func:`input_gradient_incoming`).
FALLBACK_MARGIN = 0.05
#: Incoming rows shorter than this fraction of the longest are ignored by :func:`incoming_scale`.
NEGLIGIBLE_ROW = 1e-3
_EPS = 1e-9


def hidden_layer_broaden(network, layer, h_t, fold, target, signals, H_np, *, settings,
                         generator, offset=None, restore=None):
    """Add one unit to hidden layer ``layer`` that folds at the fold point (the slides'
    algorithm 3); the network's function is unchanged.

    Parameters
    ----------
    network : GrowableMLP
    layer : int
    h_t : ndarray
        The typical instance in the layer's input space.
    fold : tuple
        ``(h_f, fallback)`` from :func:`~skfold.folding.fold_point_search`.
    target : int or ndarray
        ``x_t``'s class index or target.
    signals : SearchSignals
        The search rows' ``delta``, for the ``"fold"`` init's ascent.
    H_np : ndarray
        The search rows' ``H`` in float64 NumPy (``signals.H`` may be None).
    settings : GrowthSettings
    generator : torch.Generator
    offset : torch.Tensor, optional
        The network's linear part on ``x_t`` when ``layer > 0`` (see
        :meth:`~skfold.network.GrowableMLP.forward_from`).
    restore : callable, optional
        Refills ``H_np`` exactly; given, the ascent uses ``H_np`` as its scratch space (see
        :func:`~skfold.folding.fold_incoming`). ``h_t`` must then not be a view of ``H_np``.

    Returns
    -------
    h_f : ndarray
        The point the unit's hyperplane passes through.
    fallback : str or None
    replaced : list
        ``(old_param, new_param, slices)`` for carrying optimizer state.
    """
    h_f, fallback = fold
    r = incoming_scale(network, layer)
    v = None
    if h_f is not None and np.linalg.norm(h_t - h_f) < 1e-9 * (1 + np.linalg.norm(h_t)):
        fallback = and_then(fallback, THROUGH_INSTANCE)
    elif h_f is not None:
        v, c = fold_incoming(h_t, h_f, r=r, H=H_np, delta=signals.delta,
                             refine=settings.init == "fold", generator=generator,
                             restore=restore)
        if adds_nothing(v, c, H_np, network.weights[layer].detach().double().cpu().numpy(),
                        network.biases[layer].detach().double().cpu().numpy()):
            fallback, v = and_then(fallback, REDUNDANT_FOLD), None
    if v is None:
        # no fold point, x_t on it, or a fold unit that would add nothing: a hyperplane
        # along the loss gradient at x_t (DESIGN section 2), just behind x_t so that x_t
        # activates the unit
        v, c, h_f = input_gradient_incoming(network, layer, h_t, target, settings.task, r=r,
                                            H=H_np, generator=generator, offset=offset)
    return h_f, fallback, add_unit(network, layer, v, c)


def and_then(fallback, another):
    """``fallback`` with ``another`` appended (``"+"``-joined; either may be None)."""
    return "+".join(f for f in (fallback, another) if f) or None


def add_unit(network, layer, v, c):
    """Widen by one unit with incoming ``v`` and bias ``c`` (float64 until the network's cast)."""
    return network.widen(layer, torch.as_tensor(v, dtype=torch.float64)[None],
                         torch.tensor([c], dtype=torch.float64))


def incoming_scale(network, layer) -> float:
    """Median norm of the layer's existing incoming rows: the new unit is as steep as its siblings
    (unless it is nearly linear on the search rows, see
    :func:`~skfold.folding.incoming.fold_incoming`).

    Rows shorter than :data:`NEGLIGIBLE_ROW` times the longest are left out: they belong to units
    that weight decay has switched off, and with two units (the slides' seed network) such a
    row would otherwise set the scale of the new unit to almost nothing, leaving it with no
    gradient. The median is the true one (mean of the two middle values), not torch's lower
    median.
    """
    norms = network.weights[layer].detach().double().norm(dim=1).cpu().numpy()
    norms = norms[norms >= NEGLIGIBLE_ROW * norms.max()] if norms.size else norms
    r = float(np.median(norms)) if norms.size else 1.0
    return r if r > _EPS else 1.0


def adds_nothing(v, c, H, weights, biases):
    """Whether the unit ``relu(v . h + c)`` would add nothing to its layer on the rows ``H``.

    It adds nothing when its output on the rows is a linear combination of the layer's other
    units' outputs (``weights``, ``biases``: NumPy, float64) and a constant, up to
    :data:`SPAN_TOLERANCE`: the next layer can already form that function, and on a plateau,
    where the gradient of every existing outgoing weight and bias is zero, so is the new
    unit's (up to the L2 penalty), whatever the loss. Two fold points do this: one beyond
    every row, when the layer is already affine on the data (1-D regression whose seed
    network is a line: the segment meets ``y_t`` far outside the data), and one on an
    existing unit's hyperplane, whose unit the new one would copy (1-D, when the boundary
    misses the region: the region's nearest point is the kink of the unit that bounds it).
    """
    pre = H @ v + c
    added = np.maximum(pre, 0.0)
    outputs = np.maximum(H @ weights.T + biases, 0.0)
    # A unit that splits the rows where no unit of the layer does puts a kink where the layer
    # has none: only a split shared with an existing unit, or none at all, can be in the span
    # (and the least squares below cost O(rows x units^2)). Rows on the unit's own hyperplane
    # count on either side: rounding decides theirs.
    active = pre > 0
    on_kink = np.abs(pre) <= 1e-9 * np.abs(pre).max()
    others_active = outputs > 0
    same = ((others_active == active[:, None]) | on_kink[:, None]).all(axis=0)
    mirrored = ((others_active != active[:, None]) | on_kink[:, None]).all(axis=0)
    if not ((active | on_kink).all() or same.any() or mirrored.any()):
        return False
    basis = np.hstack([np.ones((H.shape[0], 1)), outputs])
    with numerical("the span test's least squares"):
        coef = np.linalg.lstsq(basis, added, rcond=None)[0]
    return bool(np.linalg.norm(added - basis @ coef) <= SPAN_TOLERANCE * np.linalg.norm(added))


def input_gradient_incoming(network, layer, h_t, target, task, *, r, H, generator,
                            offset=None):
    """Degenerate-geometry fallback: a hyperplane normal to the loss gradient, just behind ``h_t``.

    The direction ``u`` is the gradient of ``x_t``'s loss with respect to the layer's input
    (random where it vanishes, as on a flat segment). DESIGN section 2 puts the hyperplane
    through ``x_t`` itself; skfold moves it back along ``u`` by :data:`FALLBACK_MARGIN` times
    the spread of the search rows ``H`` along ``u``, so that ``x_t`` activates the unit as
    section 3 asks. Exactly through ``x_t``, the unit outputs 0 at ``x_t``, gives its loss no
    first-order help, and leaves a training row on a ReLU kink, where L-BFGS's line searches
    fail.

    Returns ``(v, c, h_f)``: ``v = r u``, ``c = -v . h_f`` and ``h_f = h_t - margin u``.
    """
    param = network.weights[layer]
    h = torch.as_tensor(h_t, dtype=param.dtype, device=param.device)[None].requires_grad_(True)
    y = task.single_target(target, param)
    loss = task.per_sample_loss(network.forward_from(h, layer, offset), y).sum()
    (grad,) = torch.autograd.grad(loss, h)
    g = grad[0].double().cpu()
    if not torch.isfinite(g).all() or g.norm() < 1e-12:
        g = torch.randn(g.shape, generator=generator, dtype=torch.float64)
    u = (g / g.norm()).numpy()
    along = np.asarray(H, dtype=np.float64) @ u
    spread = float(np.std(along))
    if not spread > _EPS * np.abs(along).max():
        # identical rows: what is left of the spread is rounding (BLAS need not round equal
        # rows alike), and a margin of it would put the hyperplane through x_t
        spread = 1.0
    h_f = np.asarray(h_t, dtype=np.float64) - FALLBACK_MARGIN * spread * u
    v = r * u
    return v, float(-(v @ h_f)), h_f
