"""The ``"fold"`` init's incoming weights: a hyperplane through ``x_f``, its direction refined.

The slides' "apply GradMax to W_A^new" cannot be taken literally (with zero outgoing weights the
incoming ones get no gradient); DESIGN section 3 reads it as maximising the gradient the new
unit's outgoing weights will receive, within a cone around ``x_t - x_f``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..network import relu
from .search_rows import as_numpy, row_chunks

#: Half-angle of the cone around ``x_t - x_f`` that the ``"fold"`` init's GradMax step keeps to.
FOLD_CONE_DEGREES = 75.0
#: Projected gradient-ascent steps of the ``"fold"`` init.
FOLD_ASCENT_STEPS = 25
#: A fold unit active on more than this share of the search rows is nearly linear there; it
#: gets :data:`FRESH_UNIT_NORM` instead of its siblings' norm (see :func:`fold_incoming`).
NEARLY_LINEAR_SHARE = 0.9
#: Expected norm of a freshly initialised unit's incoming weights (He: ``E ||v||^2 = 2``), as
#: the ``"random"`` init draws them.
FRESH_UNIT_NORM = float(np.sqrt(2.0))
#: Random cone directions scored before the ascent starts (see :func:`_best_cone_candidate`).
FOLD_CANDIDATES = 256
#: Rows per block when the candidates are scored.
CANDIDATE_CHUNK = 256
_EPS = 1e-9
_TINY = np.finfo(np.float64).tiny  # relu passes z > -tiny (see network.relu)


def gradmax_objective(v, H, h_f, delta):
    """``G(v) = || mean_i delta_i * relu(v . (h_i - h_f)) ||^2``: the squared gradient norm the
    new unit's outgoing weights receive once it exists."""
    act = relu((H - h_f) @ v)
    return ((delta * act[:, None]).mean(dim=0) ** 2).sum()


def _gradmax_objective_and_gradient(v, D, delta):
    """``G(v)`` and ``dG/dv`` with ``D = H - h_f`` (NumPy arrays), by hand."""
    pre = D @ v
    active = pre > -_TINY  # relu'(0) = 1, as :func:`relu`
    mean_out = delta.T @ (pre * active) / D.shape[0]
    weight = (delta @ mean_out) * active
    return float(mean_out @ mean_out), (2.0 / D.shape[0]) * (weight @ D)


def _into_cone(v, u0, r, cos_max):
    """Project ``v`` onto ``{||v|| = r, angle(v, u0) <= arccos(cos_max)}``."""
    along = v @ u0
    perp = v - along * u0
    perp_norm = np.linalg.norm(perp)
    norm = np.linalg.norm(v)
    if norm > 0 and along / norm >= cos_max:
        return v * (r / norm)
    if perp_norm < _EPS:
        return u0 * r
    sin_max = float(np.sqrt(1.0 - cos_max**2))
    return r * (cos_max * u0 + sin_max * perp / perp_norm)


def _cone_candidates(u0, r, cos_max, generator):
    """``r u0`` and :data:`FOLD_CANDIDATES` random vectors of length ``r`` in the cone
    ``angle(v, u0) <= arccos(cos_max)``, one per row.

    ``r [u0; cos u0 + sqrt(1 - cos^2) perp]``, ``perp`` the draws' unit parts normal to ``u0``,
    computed in place a chunk of rows at a time: two arrays of the candidates' size (the
    draws and the result, 20 MiB each at 10,000 inputs), not six.
    """
    d = u0.shape[0]
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    perp = torch.randn(FOLD_CANDIDATES, d, generator=gen, dtype=torch.float64).numpy()
    cos = cos_max + (1 - cos_max) * torch.rand(FOLD_CANDIDATES, 1, generator=gen,
                                               dtype=torch.float64).numpy()
    along = perp @ u0
    sin = np.sqrt(1 - cos**2)
    dirs = np.empty((FOLD_CANDIDATES + 1, d))
    np.multiply(r, u0, out=dirs[0])
    for part in row_chunks(FOLD_CANDIDATES, d):
        block = perp[part]
        block -= along[part, None] * u0
        block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-300)
        block *= sin[part]
        out = dirs[1:][part]
        np.multiply(cos[part], u0, out=out)
        out += block
        out *= r
    return dirs


def _scaled_float32(a):
    """``(a / max(|a|.max(), tiny)).astype(float32)``, a chunk of rows at a time."""
    scale = max(_abs_max(a), _TINY)
    out = np.empty(a.shape, dtype=np.float32)
    for part in row_chunks(*a.shape):
        np.divide(a[part], scale, out=out[part], casting="same_kind")  # in float64
    return out


def _abs_max(a):
    """``np.abs(a).max()`` without the temporary ``np.abs(a)``."""
    return max(float(a.max()), -float(a.min()))


def _best_cone_candidate(u0, r, cos_max, D, delta, generator):
    """Best of :func:`_cone_candidates` by ``G``.

    ``G`` is far from concave over the cone (a hinge that isolates the mis-predicted cluster
    and one parallel to the decision boundary are both local maxima), so the ascent starts from
    the best of a cheap global sample: one matrix product for all candidates.
    """
    dirs = _cone_candidates(u0, r, cos_max, generator)
    # Scored in float32: the pick only starts the float64 ascent. Scaling D or delta scales
    # every candidate's G alike: both are scaled to at most 1 first, so that float32 neither
    # overflows nor underflows on extreme data. D is scaled a chunk at a time, as scored.
    dirs32, delta32 = _scaled_float32(dirs), _scaled_float32(delta)
    scale = max(_abs_max(D), _TINY)
    grads = np.zeros((delta.shape[1], dirs.shape[0]), dtype=np.float32)
    D32 = np.empty((min(CANDIDATE_CHUNK, D.shape[0]), D.shape[1]), dtype=np.float32)
    # In row chunks whose activations stay in cache; the ReLU is taken in place.
    for start in range(0, D.shape[0], CANDIDATE_CHUNK):
        rows = slice(start, start + CANDIDATE_CHUNK)
        chunk = np.divide(D[rows], scale, out=D32[: min(CANDIDATE_CHUNK, D.shape[0] - start)],
                          casting="same_kind")
        pre = chunk @ dirs32.T
        grads += delta32[rows].T @ np.maximum(pre, 0.0, out=pre)  # (n_next, n_candidates)
    return dirs[int(np.argmax((grads.astype(np.float64) ** 2).sum(axis=0)))]


def _ascend(u0, r, D, delta, generator):
    """Projected gradient ascent of ``G`` on the sphere of radius ``r`` inside the cone."""
    cos_max = float(np.cos(np.deg2rad(FOLD_CONE_DEGREES)))
    v = _best_cone_candidate(u0, r, cos_max, D, delta, generator)
    best_v = v
    best_g, grad = _gradmax_objective_and_gradient(v, D, delta)
    step = 0.25 * r
    for _ in range(FOLD_ASCENT_STEPS):
        grad_norm = np.linalg.norm(grad)
        if grad_norm < 1e-14:
            break
        v = _into_cone(best_v + step * grad / grad_norm, u0, r, cos_max)
        value, v_grad = _gradmax_objective_and_gradient(v, D, delta)
        if value > best_g:
            best_v, best_g, grad = v, value, v_grad
        else:
            step *= 0.5
    return best_v


def fold_incoming(h_t, h_f, *, r, H=None, delta=None, refine=True, generator=None,
                  restore=None):
    """Incoming weights ``v`` and bias ``c`` of a fold unit (hyperplane through ``h_f``).

    Starts at ``v = r (h_t - h_f)/||h_t - h_f||``; with ``refine`` (the ``"fold"`` init) it then
    maximises :func:`gradmax_objective` by projected gradient ascent on the sphere of radius ``r``
    inside a cone of half-angle :data:`FOLD_CONE_DEGREES` around that direction, keeping the best
    iterate. ``c = -v . h_f`` always, so ``v . h_f + c = 0`` and ``v . (h_t - h_f) > 0``.
    The search rows ``H`` and ``delta`` (tensors or arrays, at most ``search_subsample`` rows)
    are taken to NumPy in float64: the ascent's many small operations are faster there. With
    ``restore`` (see :func:`~skfold.folding.typical_instances`) a float64 array ``H`` holds
    ``H - h_f`` while the ascent runs, instead of a copy, and ``restore`` refills it after.

    A unit active on more than :data:`NEARLY_LINEAR_SHARE` of the search rows gets the norm
    :data:`FRESH_UNIT_NORM` when ``r`` is larger (the same hyperplane; the function is
    unchanged either way, the outgoing weights being zero). DESIGN section 3 gives every unit
    its siblings' norm; a nearly linear one has folded nothing yet, and at that norm it stays
    put: its incoming weights get a gradient of the order of its outgoing weights, which start
    at zero (``benchmarks/results/issue4_findings.md``, weakness 5).
    """
    h_t = np.asarray(h_t, dtype=np.float64)
    h_f = np.asarray(h_f, dtype=np.float64)
    u0 = (h_t - h_f) / np.linalg.norm(h_t - h_f)
    v = r * u0
    try:
        D = None if H is None else _minus(H, h_f, in_place=restore is not None)
        if refine and H is not None:
            v = _ascend(u0, r, D, np.asarray(as_numpy(delta), dtype=np.float64), generator)
        if D is not None and r > FRESH_UNIT_NORM and np.mean(D @ v > 0) > NEARLY_LINEAR_SHARE:
            v = v * (FRESH_UNIT_NORM / np.linalg.norm(v))
    finally:
        if restore is not None:
            restore()
    return v, float(-(v @ h_f))


def _minus(H, h_f, in_place):
    """``H - h_f`` in float64; written into ``H`` itself when ``in_place`` and it can be."""
    if (in_place and isinstance(H, np.ndarray) and H.dtype == np.float64
            and H.flags.c_contiguous and H.flags.writeable):
        return np.subtract(H, h_f, out=H)
    return np.asarray(as_numpy(H), dtype=np.float64) - h_f
