"""Algorithm 2 of the slides: the fold point search.

In ``x_t``'s activated linear segment the decision boundary (regression: the set where the
prediction equals the target) is affine; the fold point ``x_f`` is its point nearest ``x_t``,
kept inside the segment's region by default (DESIGN section 2).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from .failures import numerical

#: Inputs above which (and above the number of constraints) the fold point's QP is solved in
#: its dual (see :func:`_project`): the crossover measured against SLSQP's primal
#: (``benchmarks/results/growth_cost.md``).
DUAL_MIN_INPUTS = 100
#: ``fallback`` when ``x_t``'s segment is flat: no boundary, no fold point.
FLAT_SEGMENT = "flat_segment"


def boundary_equations(segment, h_t, *, task, target):
    """The fold boundary of ``x_t``'s segment as equalities ``E x = e``.

    Classification: the tie between the predicted and the true logit. Regression: the set
    where the segment's prediction equals the target. Returns ``(E, e)`` or None when the
    segment is flat (no boundary to fold towards).
    """
    return task.boundary_equations(segment, h_t, target)


def nearest_point_on(E, e, h_t):
    """Minimum-norm correction: the point of ``{x : E x = e}`` (least squares) nearest ``h_t``."""
    residual = E @ h_t - e
    with numerical("the fold point's projection"):
        return h_t - E.T @ (np.linalg.pinv(E @ E.T) @ residual)


def _region_constraints(segment, nonnegative):
    G = segment.signs[:, None] * segment.P
    g = segment.signs * segment.p
    if nonnegative:  # a deep layer's input is a ReLU output, so only h >= 0 is reachable
        d = G.shape[1]
        G, g = np.vstack([G, np.eye(d)]), np.concatenate([g, np.zeros(d)])
    return G, g


def _project(target, G, g, E=None, e=None, x0=None):
    """Nearest point to ``target`` in ``{x : G x + g >= 0, E x = e}``; None on failure (or
    when the set is empty).

    With more dimensions than constraints and than :data:`DUAL_MIN_INPUTS` (wide inputs) the
    dual is the smaller problem (``benchmarks/results/growth_cost.md``, last table). Otherwise
    SLSQP on the primal, from ``x0`` (default ``target``): with more constraints than
    dimensions the dual is degenerate (its Gram matrix has the rank of the dimension), and on
    narrow inputs SLSQP is the faster.
    """
    n_constraints = G.shape[0] + (0 if E is None else E.shape[0])
    if target.size > max(n_constraints, DUAL_MIN_INPUTS):
        x = _project_in_dual(target, G, g, E, e)
    else:
        constraints = [{"type": "ineq", "fun": lambda x: G @ x + g, "jac": lambda x: G}]
        if E is not None:
            constraints.append({"type": "eq", "fun": lambda x: E @ x - e, "jac": lambda x: E})
        # A feasible set takes a few iterations; an empty one (a boundary that misses the
        # region) takes every iteration allowed, so few are.
        with numerical("the fold point's QP"):
            x = scipy.optimize.minimize(
                lambda x: 0.5 * np.sum((x - target) ** 2), target if x0 is None else x0,
                jac=lambda x: x - target, constraints=constraints, method="SLSQP",
                options={"maxiter": 20, "ftol": 1e-12}).x
    scale = 1.0 + np.abs(target).max()
    ok = np.all(G @ x + g >= -1e-6 * scale)
    if E is not None:
        ok &= np.all(np.abs(E @ x - e) <= 1e-6 * scale)
    return x if ok and np.all(np.isfinite(x)) else None


def _project_in_dual(target, G, g, E=None, e=None):
    """:func:`_project` through its dual: with ``A = [G; E]`` and ``b = [g; -e]`` the nearest
    point is ``target + A^T z``, where ``z`` (``>= 0`` on the inequalities) minimises
    ``z^T A A^T z / 2 + z^T (A target + b)`` (L-BFGS-B; one variable per constraint). An empty
    set makes the dual unbounded, and the point it stops at violates a constraint."""
    A = G if E is None else np.vstack([G, E])
    b = g if E is None else np.concatenate([g, -e])
    gram, linear = A @ A.T, A @ target + b
    bounds = [(0.0, None)] * G.shape[0] + [(None, None)] * (A.shape[0] - G.shape[0])
    with numerical("the fold point's dual QP"):
        z = scipy.optimize.minimize(
            lambda z: (0.5 * z @ gram @ z + linear @ z, gram @ z + linear),
            np.zeros(A.shape[0]), jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-12}).x
    return target + A.T @ z


def _in_region(x, G, g):
    return bool(np.all(G @ x + g >= 0))


def fold_point_search(segment, h_t, *, task, target, method="segment", nonnegative=False):
    """Fold point ``x_f`` of ``x_t`` on its segment's boundary (the slides' algorithm 2).

    The slides' ``fold_point_search`` also finds ``x_t`` and its segment; here those are
    :func:`~skfold.folding.find_typical_mispredicted_instance` and
    :func:`~skfold.network.activated_segment`, and this function takes their results.

    Parameters
    ----------
    segment : ActivatedSegment
        The activated linear segment of ``h_t``.
    h_t : ndarray of shape (d,)
    task : Task
    target : int or ndarray
        True class index, or target vector.
    method : {"segment", "nearest"}
        ``"nearest"`` is the slides' unconstrained projection; ``"segment"`` the nearest boundary
        point inside the closure of the segment's region, or, if the boundary misses the region,
        the region's point nearest the unconstrained projection.
    nonnegative : bool
        The space is a ReLU output (a deep layer's input): restrict the region to ``h >= 0``.

    Returns
    -------
    h_f : ndarray of shape (d,) or None
        None when the segment is flat (degenerate: no boundary).
    fallback : str or None
        What was done instead of the exact recipe, if anything.
    """
    h_t = np.asarray(h_t, dtype=np.float64)
    eq = boundary_equations(segment, h_t, task=task, target=target)
    if eq is None:
        return None, FLAT_SEGMENT
    E, e = eq
    nearest = nearest_point_on(E, e, h_t)
    if method == "nearest":
        return nearest, None
    G, g = _region_constraints(segment, nonnegative)
    if _in_region(nearest, G, g):
        # The unconstrained nearest boundary point lies in the region, so it is the constrained
        # one too: no LP and QP needed.
        return nearest, None
    # A convex QP: started at the unconstrained projection, SLSQP usually solves it outright;
    # the LP gives a feasible start, or proof that the boundary misses the region.
    x_f = _project(h_t, G, g, E, e, x0=nearest)
    if x_f is not None:
        return x_f, None
    with numerical("the fold point's LP"):
        lp = scipy.optimize.linprog(np.zeros(h_t.size), A_ub=-G, b_ub=g, A_eq=E, b_eq=e,
                                    bounds=(None, None), method="highs")
    if lp.status == 0:
        x_f = _project(h_t, G, g, E, e, x0=lp.x)
        if x_f is not None:
            return x_f, None
        return lp.x, "qp_inexact"
    x_f = _project(nearest, G, g, x0=h_t)
    if x_f is None:
        return nearest, "qp_failed"
    return x_f, "boundary_outside_segment"
