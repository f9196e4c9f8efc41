"""Grow by folding (issue 3): the slides' four algorithms, proven on random data and networks.

Each block proves one "must be proven by tests" item of issue 3: function preservation by every
``init`` at any depth, the fold unit's hyperplane, the two fold-point searches (the ``"segment"``
one against a brute-force search), the typical-instance selection, deepening, degenerate
geometry, the ``growth_history_`` record, and a statistical test that one fold unit helps a
trained 2-2-2 network on the slides' 2-D tasks.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification, make_regression

from skfold import FoldGrowClassifier, FoldGrowRegressor, folding
from skfold.datasets import make_overlap_quadratic, make_sine
from skfold.folding import GrowthSettings
from skfold.folding import fold_point as fold_point_module
from skfold.folding import incoming as incoming_module
from skfold.folding import instances as instances_module
from skfold.folding.search_rows import InPlaceKMeans, ScratchRows, tolerance_by_columns
from skfold.growth import _already_folded, _row_key, broaden_layer, lies_behind_instance
from skfold.network import GrowableMLP, activated_segment, relu
from skfold.schedule import CANNOT_PAY
from skfold.tasks import CLASSIFICATION, REGRESSION, task_named

INITS = ["fold", "fold_direction", "gradmax", "random"]
FOLD_INITS = ["fold", "fold_direction"]
#: The columns DESIGN section 6 asks every growth record to have.
HISTORY_COLUMNS = ["epoch", "layer", "unit", "kind", "init", "instance_index", "x_t", "x_f",
                   "predicted", "true", "cluster_size", "cluster_mean_loss", "loss_before",
                   "loss_after", "fallback"]


# --------------------------------------------------------------------------- helpers
def _classification_data(seed, n_samples, n_features, n_classes):
    X, y = make_classification(
        n_samples=n_samples, n_features=n_features, n_informative=n_features, n_redundant=0,
        n_repeated=0, n_classes=n_classes, n_clusters_per_class=1, flip_y=0.1,
        random_state=seed)
    return X, y


def _regression_data(seed, n_samples, n_features, n_targets):
    X, y = make_regression(n_samples=n_samples, n_features=n_features, n_targets=n_targets,
                           noise=5.0, random_state=seed)
    y = np.sin(y / 40.0)  # non-linear, so a small network under-fits
    return X, y


def _fitted(Estimator, X, y, *, depth=1, seed=0, solver="lbfgs", max_iter=30, **params):
    """A small network trained briefly without growth, deepened to ``depth`` hidden layers."""
    est = Estimator(hidden_units=3, max_hidden_units=40, growth_schedule="none", solver=solver,
                    max_iter=max_iter, random_state=seed, **params).fit(X, y)
    for _ in range(depth - 1):
        folding.equivalent_network_deepening(est.network_)
    return est


def _task_data(task, data, n_outputs):
    """Estimator class and data of a task: ``n_outputs`` classes or regression targets."""
    args = (data["seed"], data["n_samples"], data["n_features"], n_outputs)
    if task == "classification":
        return (FoldGrowClassifier, *_classification_data(*args))
    return (FoldGrowRegressor, *_regression_data(*args))


def _grown_units(Estimator, X, y, *, n_units=2, **params):
    """A briefly trained estimator grown by ``n_units``, and the records of the units added."""
    est = _fitted(Estimator, X, y, **params)
    est.grow(X, y, n_units=n_units)
    return est, [e for e in est.growth_history_ if e["unit"] is not None]


def _through_x_t(event):
    """The fallbacks without a usable fold point: the hyperplane is normal to the loss
    gradient, just behind x_t."""
    return lies_behind_instance(event["fallback"])


def _unit_geometry(est, event):
    """Incoming weights, bias, ``h_t`` and ``h_f`` of the unit an event created (float64)."""
    layer, unit = event["layer"], event["unit"]
    v = est.network_.weights[layer][unit].detach().double().numpy()
    c = float(est.network_.biases[layer][unit].detach().double())
    if layer == 0:
        h_t, h_f = np.asarray(event["x_t"]), np.asarray(event["x_f"])
    else:
        h_t, h_f = np.asarray(event["h_t"]), np.asarray(event["h_f"])
    return v, c, h_t, h_f


def _segment_before_growth(est, event):
    """The activated segment of ``h_t``; a zero-outgoing unit does not change ``A``/``a``."""
    _, _, h_t, _ = _unit_geometry(est, event)
    return activated_segment(est.network_, h_t, event["layer"])


def _random_network(seed, n_features, hidden, n_outputs):
    gen = torch.Generator().manual_seed(seed)
    return GrowableMLP.initialize(n_features, hidden, n_outputs, generator=gen,
                                  dtype=torch.float64, device="cpu")


def _wide_inputs(seed, n_features, n=300):
    """Arbitrary inputs: far outside the training data as well as near it."""
    rng = np.random.RandomState(seed)
    return np.vstack([rng.normal(scale=1.0, size=(n, n_features)),
                      rng.normal(scale=20.0, size=(n, n_features))])


def _outputs(est, X):
    if hasattr(est, "predict_proba"):
        return {"decision_function": est.decision_function(X),
                "predict_proba": est.predict_proba(X), "predict": est.predict(X)}
    return {"predict": est.predict(X)}


def _assert_same_outputs(est, X, before):
    after = _outputs(est, X)
    for name, value in before.items():
        if name == "predict" and hasattr(est, "predict_proba"):
            # labels may only differ where two logits tie to rounding
            proba = np.sort(before["predict_proba"], axis=1)
            clear = proba[:, -1] - proba[:, -2] > 1e-9
            np.testing.assert_array_equal(after[name][clear], value[clear])
        else:
            np.testing.assert_allclose(after[name], value, rtol=1e-12, atol=1e-12,
                                       err_msg=name)


data_params = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "n_samples": st.integers(30, 80),
    "n_features": st.integers(2, 5),
})


# --------------------------------------------------------------------------- 1. function kept
@settings(deadline=None, max_examples=28)
@given(data=data_params, task=st.sampled_from(["classification", "regression"]),
       n_outputs=st.integers(1, 3), init=st.sampled_from(INITS), depth=st.integers(1, 2),
       solver=st.sampled_from(["lbfgs", "adam"]), n_units=st.integers(1, 3))
def test_growth_keeps_every_output(data, task, n_outputs, init, depth, solver, n_units):
    """decision_function / predict_proba / predict (or the regressor's predict) unchanged."""
    n_outputs = max(n_outputs, 2) if task == "classification" else min(n_outputs, 2)
    Estimator, X, y = _task_data(task, data, n_outputs)
    est = _fitted(Estimator, X, y, depth=depth, seed=data["seed"], solver=solver, init=init,
                  max_iter=30 if solver == "lbfgs" else 5)
    X_any = np.vstack([X, _wide_inputs(data["seed"], X.shape[1])])
    before = _outputs(est, X_any)
    sizes = est.hidden_layer_sizes_
    est.grow(X, y, n_units=n_units)
    grown = [e for e in est.growth_history_ if e["unit"] is not None]
    assert est.hidden_layer_sizes_ == (*sizes[:-1], sizes[-1] + len(grown))
    assert all(e["layer"] == depth - 1 for e in est.growth_history_)
    if init == "gradmax":  # as many units as the gradient has directions
        assert len(grown) <= n_units
        if grown and len(grown) < n_units:
            assert folding.GRADMAX_RANK in est.growth_history_[-1]["skipped"]
    elif task == "regression":
        assert len(grown) == n_units  # regression: every row is a candidate
    _assert_same_outputs(est, X_any, before)


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 10_000), hidden=st.lists(st.integers(1, 5), min_size=2, max_size=3),
       layer_pick=st.integers(0, 5), init=st.sampled_from(INITS),
       task=st.sampled_from(["classification", "regression"]))
def test_widening_any_layer_of_a_deep_network_keeps_its_function(seed, hidden, layer_pick,
                                                                 init, task):
    """Widening a hidden layer that is not the last one (a deep layer's input space changes)."""
    rng = np.random.RandomState(seed)
    n_features, n_out = 3, 2 if task == "classification" else 1
    network = _random_network(seed, n_features, hidden, n_out)
    X = torch.as_tensor(rng.normal(scale=2.0, size=(60, n_features)))
    if task == "classification":
        y = torch.as_tensor(rng.randint(0, 2, size=60))
    else:
        y = torch.as_tensor(rng.normal(size=(60, 1)))
    X_any = torch.as_tensor(_wide_inputs(seed, n_features))
    before = network(X_any).detach().clone()
    layer = layer_pick % network.n_hidden_layers
    events, _ = broaden_layer(
        network, layer, X, y, torch.ones(60, dtype=torch.float64),
        settings=GrowthSettings(task=task_named(task), init=init, instance_selection="kmeans",
                                n_clusters=4, search_subsample=50, fold_point="segment"),
        n_units=2, rng=rng, generator=torch.Generator().manual_seed(seed), folded_rows=set())
    added = sum(e["unit"] is not None for e in events)
    assert network.hidden_sizes[layer] == hidden[layer] + added
    torch.testing.assert_close(network(X_any), before, rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- 2. the hyperplane
def _check_fold_hyperplane(est, event):
    v, c, h_t, h_f = _unit_geometry(est, event)
    assert np.all(np.isfinite(v)) and np.isfinite(c)
    scale = np.linalg.norm(v) * (1.0 + np.abs(h_f).max())
    assert abs(v @ h_f + c) <= 1e-9 * scale  # through the fold point
    assert v @ h_t + c > 0  # x_t activates the new unit (degenerate fallbacks included)
    u = (h_t - h_f) / np.linalg.norm(h_t - h_f)
    cos = v @ u / np.linalg.norm(v)
    if _through_x_t(event):  # no fold point: the hyperplane is normal to x_t - x_f
        assert cos == pytest.approx(1.0, abs=1e-9)
    else:  # the cone: at most 75 degrees away from x_t - x_f, so x_t is well inside
        assert cos >= np.cos(np.deg2rad(folding.FOLD_CONE_DEGREES)) - 1e-9


@settings(deadline=None, max_examples=16)
@given(data=data_params, task=st.sampled_from(["classification", "regression"]),
       init=st.sampled_from(FOLD_INITS), fold_point=st.sampled_from(["segment", "nearest"]),
       depth=st.integers(1, 2), selection=st.sampled_from(["kmeans", "max_loss", "random"]))
def test_fold_unit_is_zero_at_x_f_and_positive_at_x_t(data, task, init, fold_point, depth,
                                                      selection):
    Estimator, X, y = _task_data(task, data, 2 if task == "classification" else 1)
    est, events = _grown_units(Estimator, X, y, depth=depth, seed=data["seed"], init=init,
                               fold_point=fold_point, instance_selection=selection)
    for event in events:
        _check_fold_hyperplane(est, event)
        # x_t is a training row, and deep layers fold in that row's hidden representation
        np.testing.assert_array_equal(event["x_t"], X[event["instance_index"]])
        if event["layer"] > 0:
            h = est.network_.hidden_input(torch.as_tensor(X[[event["instance_index"]]]),
                                          event["layer"])
            np.testing.assert_allclose(event["h_t"], h[0].detach().numpy(), atol=1e-12)
            if fold_point == "segment" and event["fallback"] is None:
                assert np.all(np.asarray(event["h_f"]) >= -1e-9)  # a ReLU output is >= 0


# --------------------------------------------------------------------------- 3. "nearest"
@settings(deadline=None, max_examples=15)
@given(data=data_params, n_classes=st.integers(2, 4), depth=st.integers(1, 2))
def test_nearest_fold_point_ties_predicted_and_true_logits(data, n_classes, depth):
    _, X, y = _task_data("classification", data, n_classes)
    est, events = _grown_units(FoldGrowClassifier, X, y, depth=depth, seed=data["seed"],
                               fold_point="nearest", max_iter=10)
    for event in events:
        segment = _segment_before_growth(est, event)
        _, _, h_t, h_f = _unit_geometry(est, event)
        p, t = np.searchsorted(est.classes_, [event["predicted"], event["true"]])
        logits_t = segment.predict(h_t)
        assert np.argmax(logits_t) == p
        if p == t:  # a margin instance, right but barely: the tie is with the runner-up
            p = np.argsort(-logits_t)[1]
        if _through_x_t(event):
            continue
        logits = segment.predict(h_f)
        scale = 1.0 + np.abs(logits_t).max()
        assert abs(logits[p] - logits[t]) <= 1e-8 * scale
        # the projection: x_t - x_f is normal to the boundary (no nearer boundary point)
        w = segment.A[p] - segment.A[t]
        d = h_t - h_f
        np.testing.assert_allclose(np.linalg.norm(d) * np.linalg.norm(w), abs(d @ w),
                                   rtol=1e-8)


@settings(deadline=None, max_examples=12)
@given(data=data_params, n_targets=st.integers(1, 2), depth=st.integers(1, 2))
def test_nearest_regression_fold_point_hits_the_target(data, n_targets, depth):
    _, X, y = _task_data("regression", data, n_targets)
    est, events = _grown_units(FoldGrowRegressor, X, y, depth=depth, seed=data["seed"],
                               fold_point="nearest", max_iter=10)
    for event in events:
        if _through_x_t(event):
            continue
        segment = _segment_before_growth(est, event)
        _, _, h_t, h_f = _unit_geometry(est, event)
        np.testing.assert_allclose(event["true"], np.atleast_1d(y[event["instance_index"]]))
        # the network predicts the standardised target
        target = (np.atleast_1d(event["true"]) - est.target_mean_) / est.target_scale_
        residual = segment.predict(h_f) - target
        A = segment.A
        scale = 1.0 + np.abs(target).max() + np.abs(segment.predict(h_t)).max()
        if np.linalg.matrix_rank(A) == A.shape[0]:
            assert np.abs(residual).max() <= 1e-8 * scale  # the map hits the target
        else:  # rank-deficient: the least-squares crossing
            assert np.abs(A.T @ residual).max() <= 1e-8 * scale * np.abs(A).max()
        # minimum-norm correction: x_t - x_f lies in the row space of A
        d = h_t - h_f
        in_rows = A.T @ np.linalg.lstsq(A.T, d, rcond=None)[0]
        np.testing.assert_allclose(in_rows, d, atol=1e-8 * (1 + np.abs(d).max()))


# --------------------------------------------------------------------------- 4. "segment"
def _boundary_line(segment, h_t, task, target):
    """A point and unit direction of the 2-D fold boundary line of ``h_t``'s segment."""
    E, e = folding.boundary_equations(segment, h_t, task=task_named(task), target=target)
    w = E[0]
    x0 = w * (e[0] / (w @ w))
    direction = np.array([-w[1], w[0]]) / np.linalg.norm(w)
    return x0, direction


def _brute_force_nearest(segment, h_t, x0, direction, nonnegative, n=40_001):
    """Densely sample the boundary line; return the feasible sample nearest ``h_t``.

    The samples are spread over a long stretch of the line and, more densely, around the
    foot of ``h_t``'s perpendicular.
    """
    scale = 1.0 + np.abs(h_t).max() + np.abs(x0).max()
    foot = (h_t - x0) @ direction
    s = np.concatenate([np.linspace(-100.0 * scale, 100.0 * scale, n),
                        foot + np.linspace(-2.0 * scale, 2.0 * scale, n)])
    points = x0 + s[:, None] * direction
    slack = points @ (segment.signs[:, None] * segment.P).T + segment.signs * segment.p
    if nonnegative:
        slack = np.hstack([slack, points])
    tol = 1e-9 * (1 + np.abs(segment.P).max()) * scale
    ok = (slack >= -tol).all(axis=1)
    if not ok.any():
        return None, slack.min(axis=1).max()
    dist = np.linalg.norm(points[ok] - h_t, axis=1)
    return float(dist.min()), slack.min(axis=1).max()


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**31 - 1), hidden=st.lists(st.integers(1, 6), min_size=1,
                                                      max_size=2),
       task=st.sampled_from(["classification", "regression"]), n_classes=st.integers(2, 3),
       deep_input=st.booleans())
@example(seed=2619, hidden=[2, 2], task="regression", n_classes=2, deep_input=True)
def test_segment_fold_point_is_in_region_and_as_near_as_brute_force(seed, hidden, task,
                                                                    n_classes, deep_input):
    """2-D cases: compare with a dense search along the boundary line clipped to the region."""
    rng = np.random.RandomState(seed % 2**32)
    n_out = n_classes if task == "classification" else 1
    # deep_input: the 2-D space is a hidden layer's input (h >= 0) behind a 2-unit layer
    sizes = [2, *hidden] if deep_input else hidden
    network = _random_network(seed, 2, sizes, n_out)
    layer = 1 if deep_input else 0
    h_t = rng.uniform(0, 2, size=2) if deep_input else rng.normal(scale=2.0, size=2)
    segment = activated_segment(network, h_t, layer)
    out = segment.predict(h_t)
    if task == "classification":
        target = int(rng.choice([c for c in range(n_out) if c != np.argmax(out)]))
    else:
        target = out + rng.normal(scale=2.0, size=1)
    assume(folding.boundary_equations(segment, h_t, task=task_named(task),
                                      target=target) is not None)
    h_f, fallback = folding.fold_point_search(segment, h_t, task=task_named(task), target=target,
                                              method="segment", nonnegative=deep_input)
    assert h_f is not None and np.all(np.isfinite(h_f))
    x0, direction = _boundary_line(segment, h_t, task, target)
    brute, best_slack = _brute_force_nearest(segment, h_t, x0, direction, deep_input)
    scale = 1.0 + np.abs(h_t).max()
    slack = segment.region_slack(h_f)
    if deep_input:
        slack = np.concatenate([slack, h_f])
    # the fallback projects the unconstrained fold point, possibly far away (a nearly flat
    # segment), onto the region: its accuracy is relative to that point's magnitude
    projected = folding.nearest_point_on(
        *folding.boundary_equations(segment, h_t, task=task_named(task), target=target), h_t)
    region_scale = (1.0 + np.abs(projected).max() if fallback == "boundary_outside_segment"
                    else scale)
    assert slack.min() >= -1e-6 * region_scale * (1 + np.abs(segment.P).max())  # in the closure
    if fallback is None:
        # on the boundary ...
        E, e = folding.boundary_equations(segment, h_t, task=task_named(task), target=target)
        assert np.abs(E @ h_f - e).max() <= 1e-6 * scale * (1 + np.abs(E).max())
        # ... and no farther from x_t than the nearest feasible boundary point
        if brute is not None:
            assert np.linalg.norm(h_t - h_f) <= brute + 1e-6 * scale
    elif fallback == "boundary_outside_segment":
        # the fallback is taken only when the boundary truly misses the region's interior
        assert brute is None or best_slack <= 1e-6 * scale * (1 + np.abs(segment.P).max())
    else:
        pytest.fail(f"unexpected fallback {fallback!r} on a well-posed 2-D case")


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(1, 8), d=st.integers(10, 600))
def test_projection_onto_a_region_is_optimal_in_any_dimension(seed, m, d):
    """The fold point's QP, in its dual for wide inputs (up to 600 here; SLSQP's primal took
    seconds there) and its primal otherwise: the point is feasible and satisfies the KKT
    conditions, so it is the nearest one."""
    rng = np.random.RandomState(seed % 2**32)
    G = rng.normal(size=(m, d))
    inside = rng.normal(size=d)
    g = -G @ inside + rng.uniform(0, 1, size=m)  # inside satisfies G x + g > 0 ...
    E = rng.normal(size=(1, d))
    e = E @ inside  # ... and lies on the boundary E x = e
    target = inside + rng.normal(scale=3.0, size=d)
    x = fold_point_module._project(target, G, g, E, e)
    assert x is not None
    scale = 1.0 + np.abs(target).max()
    slack = G @ x + g
    assert slack.min() >= -1e-6 * scale and np.abs(E @ x - e).max() <= 1e-6 * scale
    # x - target = G^T lam + E^T mu with lam >= 0, and lam_i = 0 where constraint i is slack
    A = np.vstack([G, E])
    z, *_ = np.linalg.lstsq(A.T, x - target, rcond=None)
    assert np.abs(A.T @ z - (x - target)).max() <= 1e-6 * scale
    lam = z[:m]
    assert lam.min() >= -1e-6 * (1 + np.abs(z).max())
    assert np.abs(lam * slack).max() <= 1e-5 * scale * (1 + np.abs(z).max())


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(0, 6), d=st.integers(2, 300))
def test_projection_onto_an_empty_set_is_none(seed, m, d):
    """A boundary that misses the region (the slab 0 <= u.x <= 1 against u.x = 2, plus
    random constraints the slab's points may or may not meet) has no nearest point: the
    search reports it (and the fold point falls back) instead of returning an infeasible
    point. SLSQP stops at its iteration cap on such sets, the dual is unbounded."""
    rng = np.random.RandomState(seed % 2**32)
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    G = np.vstack([u, -u, rng.normal(size=(m, d))])
    g = np.concatenate([[0.0, 1.0], rng.uniform(0, 1, size=m)])
    E, e = u[None], np.array([2.0])
    target = rng.normal(scale=3.0, size=d)
    assert fold_point_module._project(target, G, g, E, e) is None


@settings(deadline=None, max_examples=10)
@given(data=data_params, task=st.sampled_from(["classification", "regression"]),
       depth=st.integers(1, 2))
def test_segment_fold_point_satisfies_region_inequalities_in_a_fit(data, task, depth):
    Estimator, X, y = _task_data(task, data, 3 if task == "classification" else 1)
    est, events = _grown_units(Estimator, X, y, depth=depth, seed=data["seed"],
                               fold_point="segment")
    for event in events:
        if event["fallback"] is not None:
            continue
        _, _, h_t, h_f = _unit_geometry(est, event)
        # the grown layer is the last one, so the region's rows are its units; the units
        # at and after this one did not exist when x_f was searched
        slack = _segment_before_growth(est, event).region_slack(h_f)[:event["unit"]]
        weights = est.network_.weights[-2].detach()
        scale = (1.0 + np.abs(h_t).max()) * (1.0 + float(weights.abs().max()))
        assert slack.min() >= -1e-6 * scale
        assert h_f.min() >= (-1e-9 if depth > 1 else -np.inf)


# --------------------------------------------------------------------------- 5. typical instance
@st.composite
def blobs(draw):
    """Far-apart blobs with their own loss level: the clusters any k-means must find."""
    n_blobs = draw(st.integers(2, 5))
    d = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed % 2**32)
    sizes = [draw(st.integers(3, 12)) for _ in range(n_blobs)]
    centers = rng.permutation(n_blobs)[:, None] * 1000.0 + rng.normal(size=(n_blobs, d))
    H = np.vstack([c + rng.normal(scale=0.1, size=(m, d)) for c, m in zip(centers, sizes)])
    blob = np.repeat(np.arange(n_blobs), sizes)
    levels = rng.uniform(0.1, 5.0, size=n_blobs)
    losses = levels[blob] * rng.uniform(0.5, 1.5, size=blob.size)
    mis_rate = draw(st.sampled_from([0.0, 0.3, 1.0]))
    mispredicted = rng.uniform(size=blob.size) < np.where(rng.uniform(size=n_blobs) < 0.5,
                                                          mis_rate, 0.5)[blob]
    mispredicted[draw(st.integers(0, blob.size - 1))] = True  # at least one candidate
    return H, losses, mispredicted, blob, seed


@settings(deadline=None, max_examples=60)
@given(case=blobs())
def test_kmeans_picks_the_central_mispredicted_member_of_the_worst_cluster(case):
    H, losses, mispredicted, blob, seed = case
    n_blobs = blob.max() + 1
    idx, info = folding.find_typical_mispredicted_instance(H, losses, mispredicted, method="kmeans",
                                              n_clusters=n_blobs,
                                              rng=np.random.RandomState(seed % 2**32))
    assert mispredicted[idx]
    mean_loss = np.array([losses[blob == b].mean() for b in range(n_blobs)])
    eligible = [b for b in range(n_blobs) if mispredicted[blob == b].any()]
    worst = max(eligible, key=lambda b: mean_loss[b])
    assert blob[idx] == worst  # worst mean loss among clusters with a mis-predicted member
    assert info["cluster_size"] == (blob == worst).sum()
    assert np.isclose(info["cluster_mean_loss"], mean_loss[worst])
    # the member nearest the (loss-weighted) centroid among the mis-predicted ones
    members = np.flatnonzero((blob == worst) & mispredicted)
    centroid = np.average(H[blob == worst], axis=0, weights=losses[blob == worst])
    dist = np.linalg.norm(H[members] - centroid, axis=1)
    assert np.linalg.norm(H[idx] - centroid) <= dist.min() + 1e-9


@settings(deadline=None, max_examples=60)
@given(case=blobs(), n=st.integers(1, 12))
def test_several_typical_instances_come_from_clusters_in_order_of_their_mean_loss(case, n):
    """``units_per_growth`` units fold on the typical instances of different clusters: the
    worst cluster's first, then the next worst's, and round again when clusters run out."""
    H, losses, mispredicted, blob, seed = case
    n_blobs = blob.max() + 1
    picks = folding.typical_instances(H, losses, mispredicted, n, method="kmeans",
                                      n_clusters=n_blobs, rng=np.random.RandomState(seed % 2**32))
    first = folding.find_typical_mispredicted_instance(H, losses, mispredicted, method="kmeans",
                                          n_clusters=n_blobs,
                                          rng=np.random.RandomState(seed % 2**32))
    assert picks[0] == first
    rows = [idx for idx, _ in picks]
    assert len(rows) == min(n, mispredicted.sum()) and len(set(rows)) == len(rows)
    assert mispredicted[rows].all()
    mean_loss = np.array([losses[blob == b].mean() for b in range(n_blobs)])
    eligible = sorted((b for b in range(n_blobs) if mispredicted[blob == b].any()),
                      key=lambda b: -mean_loss[b])
    first_round = [blob[idx] for idx in rows[: len(eligible)]]
    assert first_round == eligible[: len(first_round)]  # one per cluster, worst first
    for idx, info in picks:  # every pick is recorded with its own cluster
        assert info["cluster_size"] == (blob == blob[idx]).sum()
        assert np.isclose(info["cluster_mean_loss"], mean_loss[blob[idx]])
    for b in set(blob[rows]):  # within a cluster, nearer the centroid first
        centroid = np.average(H[blob == b], axis=0, weights=losses[blob == b])
        dist = [np.linalg.norm(H[idx] - centroid) for idx in rows if blob[idx] == b]
        assert dist == sorted(dist)


@pytest.mark.parametrize("method", ["max_loss", "random"])
def test_several_instances_by_max_loss_or_at_random_are_distinct_candidates(method):
    rng = np.random.RandomState(0)
    H, losses = rng.normal(size=(40, 3)), rng.uniform(size=40)
    mispredicted = rng.uniform(size=40) < 0.5
    rows = [idx for idx, _ in folding.typical_instances(H, losses, mispredicted, 5,
                                                        method=method, rng=rng)]
    assert len(set(rows)) == 5 and mispredicted[rows].all()
    if method == "max_loss":
        assert sorted(losses[rows]) == sorted(np.sort(losses[mispredicted])[-5:])


@settings(deadline=None, max_examples=40)
@given(case=blobs(), method=st.sampled_from(["kmeans", "max_loss", "random"]),
       n_excluded=st.integers(0, 60))
def test_instance_selection_skips_excluded_rows_while_others_remain(case, method, n_excluded):
    H, losses, mispredicted, blob, seed = case
    rng = np.random.RandomState(seed % 2**32)
    excluded = np.zeros(len(H), dtype=bool)
    excluded[rng.permutation(len(H))[:n_excluded]] = True
    idx, _ = folding.find_typical_mispredicted_instance(H, losses, mispredicted, method=method,
                                           n_clusters=blob.max() + 1, excluded=excluded, rng=rng)
    assert mispredicted[idx]
    if (mispredicted & ~excluded).any():
        assert not excluded[idx]
    if method == "max_loss":
        pool = mispredicted & ~excluded if (mispredicted & ~excluded).any() else mispredicted
        assert losses[idx] == losses[pool].max()


def test_random_selection_covers_the_mispredicted_rows():
    rng = np.random.RandomState(0)
    H = rng.normal(size=(30, 2))
    mispredicted = np.zeros(30, dtype=bool)
    mispredicted[[3, 7, 11, 19]] = True
    picks = {folding.find_typical_mispredicted_instance(H, np.ones(30), mispredicted,
                                                        method="random", rng=rng)[0]
             for _ in range(60)}
    assert picks == {3, 7, 11, 19}


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 10_000), hidden=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       task=st.sampled_from(["classification", "regression"]), data=st.data())
def test_search_signals_agree_with_the_network_and_its_parameter_gradients(seed, hidden, task,
                                                                            data):
    """The growth step's one-pass signals: losses and predictions are the network's own, ``H``
    is the grown layer's input, and ``delta`` is dL/dz of the next layer, so that (chain rule)
    dL/db = sum of delta and dL/dW = delta^T relu(z_layer) for that layer's parameters."""
    layer = data.draw(st.integers(0, len(hidden) - 1))
    rng = np.random.RandomState(seed)
    n_out = 3 if task == "classification" else 2
    network = _random_network(seed, 4, hidden, n_out)
    X = torch.as_tensor(rng.normal(size=(40, 4)))
    if task == "classification":
        y = torch.as_tensor(rng.randint(0, n_out, size=40))
    else:
        y = torch.as_tensor(rng.normal(size=(40, n_out)))
    w = torch.as_tensor(rng.uniform(0.1, 2.0, size=40))
    signals = folding.search_signals(network, layer, X, y, w, task_named(task))

    out = network(X)
    per_row = task_named(task).per_sample_loss(out, y) * w
    np.testing.assert_allclose(signals.losses, per_row.detach().numpy(), rtol=1e-12)
    if task == "classification":
        predicted = out.argmax(dim=1)
        np.testing.assert_array_equal(signals.predicted, predicted.numpy())
        np.testing.assert_array_equal(signals.mispredicted, (predicted != y).numpy())
    else:
        np.testing.assert_allclose(signals.predicted, out.detach().numpy(), rtol=1e-12)
        assert signals.mispredicted.all()
    np.testing.assert_allclose(signals.H.numpy(), network.hidden_input(X, layer).detach().numpy())
    weight, bias = network.weights[layer + 1], network.biases[layer + 1]
    grad_w, grad_b = torch.autograd.grad(per_row.sum() / w.sum(), [weight, bias])
    h_next = relu(torch.addmm(network.biases[layer], signals.H,
                              network.weights[layer].t())).detach()
    np.testing.assert_allclose(signals.delta.sum(dim=0).numpy(), grad_b.numpy(), atol=1e-12)
    np.testing.assert_allclose((signals.delta.T @ h_next).numpy(), grad_w.numpy(), atol=1e-12)


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 10_000), above=st.booleans())
def test_growth_is_skipped_only_when_every_candidate_costs_more_than_it_could_pay(seed, above):
    """``max_instance_loss``: nothing is added (and the record says why) exactly when every
    mis-predicted candidate's loss reaches it; otherwise the unit is added as usual."""
    rng = np.random.RandomState(seed)
    network = _random_network(seed, 3, [4], 2)
    X = torch.as_tensor(rng.normal(scale=2.0, size=(60, 3)))
    y = torch.as_tensor(rng.randint(0, 2, size=60))
    w = torch.ones(60, dtype=torch.float64)
    losses, mispredicted, *_ = folding.search_signals(network, 0, X, y, w, CLASSIFICATION)
    assume(mispredicted.any())
    smallest = losses[mispredicted].min()
    limit = smallest * (1.5 if above else 1.0)  # above: one candidate could still pay
    before = network(X).detach().clone()
    events, _ = broaden_layer(
        network, 0, X, y, w,
        settings=GrowthSettings(task=CLASSIFICATION, init="fold", instance_selection="kmeans",
                                n_clusters=4, search_subsample=60, fold_point="segment"),
        n_units=1, rng=rng, generator=torch.Generator().manual_seed(seed), folded_rows=set(),
        max_instance_loss=limit)
    if above:
        assert events[0]["unit"] == 4 and network.hidden_sizes == (5,)
    else:
        assert events[0]["skipped"] == CANNOT_PAY and network.hidden_sizes == (4,)
    torch.testing.assert_close(network(X), before, rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", ["kmeans", "max_loss", "random"])
def test_nothing_mispredicted_returns_none_with_a_reason(method):
    H = np.random.RandomState(0).normal(size=(20, 3))
    idx, info = folding.find_typical_mispredicted_instance(H, np.ones(20), np.zeros(20, dtype=bool),
                                              method=method)
    assert idx is None and "no mis-predicted" in info["skipped"]


@settings(deadline=None, max_examples=5)
@given(seed=st.integers(0, 10_000), selection=st.sampled_from(["kmeans", "max_loss", "random"]),
       n_classes=st.integers(2, 3))
def test_grown_instances_are_mispredicted_and_never_picked_twice(seed, selection, n_classes):
    X, y = _classification_data(seed, 60, 3, n_classes)
    est = _fitted(FoldGrowClassifier, X, y, seed=seed, instance_selection=selection,
                  init="fold_direction", max_iter=15)
    wrong = np.flatnonzero(est.predict(X) != y)
    assume(wrong.size >= 2)
    n_units = min(wrong.size + 2, 12)
    for _ in range(n_units):  # one unit per call: the function (so the mistakes) never changes
        est.grow(X, y, n_units=1)
    picked = [e["instance_index"] for e in est.growth_history_]
    for event in est.growth_history_:
        i = event["instance_index"]
        assert event["true"] == y[i] and event["predicted"] == est.predict(X[[i]])[0] != y[i]
        np.testing.assert_array_equal(event["x_t"], X[i])
    first = picked[:wrong.size]
    assert len(set(first)) == len(first)  # no repeat while other mistakes remain
    assert set(first) <= set(wrong)
    if len(picked) > wrong.size:
        assert set(first) == set(wrong)


def test_grow_with_nothing_mispredicted_is_skipped_recorded_and_said():
    X, y = _classification_data(0, 60, 3, 2)
    est = _fitted(FoldGrowClassifier, X, y, init="fold", margin_fraction=0.0)
    sizes = est.hidden_layer_sizes_
    with pytest.warns(UserWarning, match="grow added no unit: no mis-predicted instance"):
        est.grow(X, est.predict(X))  # labels the network already gets right
    assert est.hidden_layer_sizes_ == sizes
    (event,) = est.growth_history_
    assert event["unit"] is None and "no mis-predicted" in event["skipped"]
    assert est.n_growths_ == 0


# --------------------------------------------------------------------------- 6. deepening
@settings(deadline=None, max_examples=8)
@given(data=data_params, task=st.sampled_from(["classification", "regression"]))
def test_equivalent_deepening_of_a_fitted_estimator_keeps_its_outputs(data, task):
    Estimator, X, y = _task_data(task, data, 3 if task == "classification" else 1)
    est = _fitted(Estimator, X, y, seed=data["seed"])
    X_any = np.vstack([X, _wide_inputs(data["seed"], X.shape[1])])
    before = _outputs(est, X_any)
    new_layer = folding.equivalent_network_deepening(est.network_)
    assert new_layer == 1 and est.hidden_layer_sizes_ == (3, 3)
    _assert_same_outputs(est, X_any, before)


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_with_max_depth_two_deepens_and_folds_in_the_new_layer(seed):
    X, y = make_sine(150, random_state=seed)
    # a tol no growth can beat: every growth is fruitless, so the second one deepens
    est = FoldGrowClassifier(hidden_units=2, max_depth=2, growth_patience=1,
                             max_hidden_units=12, max_iter=100, tol=10.0, n_iter_no_change=5,
                             random_state=seed)
    est.fit(X, y)
    kinds = [e["kind"] for e in est.growth_history_]
    assert "deepen" in kinds
    at = kinds.index("deepen")
    deepen = est.growth_history_[at]
    assert deepen["layer"] == 1 and len(est.hidden_layer_sizes_) == 2
    width = est.growth_history_[at - 1]["hidden_layer_sizes"][0]
    after = [e for e in est.growth_history_[at + 1:] if e["unit"] is not None]
    assert after and all(e["layer"] == 1 for e in after)
    first = after[0]
    # the fold happens in the new layer's input space h_1 (the width of layer 0) ...
    assert len(first["h_t"]) == len(first["h_f"]) == width
    assert min(first["h_t"]) >= 0 and min(first["h_f"]) >= -1e-9
    # ... on behalf of a real training row
    np.testing.assert_array_equal(first["x_t"], X[first["instance_index"]])
    assert first["unit"] == width  # the identity layer's width, plus one


# --------------------------------------------------------------------------- degenerate cases
def _overwrite(est, weights, biases):
    with torch.no_grad():
        for p, v in zip(list(est.network_.weights) + list(est.network_.biases),
                        list(weights) + list(biases)):
            p.copy_(torch.as_tensor(v, dtype=p.dtype))


@pytest.mark.parametrize("init", FOLD_INITS)
@pytest.mark.parametrize("fold_point", ["segment", "nearest"])
def test_flat_segment_falls_back_and_reports_dead_units(init, fold_point):
    """Every hidden unit is off everywhere: the segment is flat, both old units are dead."""
    X, y = _classification_data(3, 40, 2, 2)
    est = FoldGrowClassifier(hidden_units=2, growth_schedule="none", max_iter=2, init=init,
                             fold_point=fold_point, random_state=0).fit(X, y)
    _overwrite(est, [np.ones((2, 2)), np.ones((2, 2))], [[-1e3, -1e3], [0.0, 0.0]])
    before = _outputs(est, X)
    est.grow(X, y, n_units=2)
    _assert_same_outputs(est, X, before)
    for event in est.growth_history_:
        assert event["fallback"] == "flat_segment"
        _check_fold_hyperplane(est, event)
        assert {0, 1} <= set(event["dead_units"][0])


def test_instance_on_the_decision_boundary_falls_back():
    """logits = (relu(x0), relu(x1)): at (1, 1) they tie, argmax says 0, the label is 1."""
    X = np.array([[1.0, 1.0]] * 5 + [[2.0, 0.0]] * 5 + [[0.0, 2.0]] * 5)
    y = np.array([1] * 5 + [0] * 5 + [1] * 5)
    for fold_point in ["segment", "nearest"]:
        est = FoldGrowClassifier(hidden_units=2, growth_schedule="none", max_iter=1,
                                 fold_point=fold_point, random_state=0).fit(X, y)
        _overwrite(est, [np.eye(2), np.eye(2)], [[0.0, 0.0], [0.0, 0.0]])
        assert (est.predict(X) != y).sum() == 5
        before = _outputs(est, X)
        est.grow(X, y)
        _assert_same_outputs(est, X, before)
        (event,) = est.growth_history_
        assert event["fallback"] == "instance_on_boundary"
        np.testing.assert_array_equal(event["x_t"], [1.0, 1.0])
        _check_fold_hyperplane(est, event)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("n_distinct", [1, 3])
def test_duplicated_rows_and_fewer_points_than_clusters(task, n_distinct):
    rng = np.random.RandomState(0)
    X = np.repeat(rng.normal(size=(n_distinct, 3)), 10, axis=0)
    if task == "classification":
        y = np.arange(len(X)) % 2  # the same point carries both labels
        est = FoldGrowClassifier(n_clusters=8, growth_schedule="none", random_state=0,
                                 max_iter=20)
    else:
        y = rng.normal(size=len(X))
        est = FoldGrowRegressor(n_clusters=8, growth_schedule="none", random_state=0,
                                max_iter=20)
    est.fit(X, y)
    before = _outputs(est, X)
    est.grow(X, y, n_units=3)
    _assert_same_outputs(est, X, before)
    for event in est.growth_history_:
        if event["unit"] is None:
            assert event["skipped"]
            continue
        assert event["cluster_size"] <= len(X)
        assert event["n_clusters_used"] == min(8, n_distinct)
        _check_fold_hyperplane(est, event)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_fallback_hyperplane_stays_behind_x_t_on_identical_rows(scale):
    """Identical search rows have no spread along the loss gradient; the rounding left of it
    (one row a last bit off here, as BLAS may leave it) must not put the hyperplane on x_t."""
    X, y = _regression_data(0, 40, 3, 1)
    est = _fitted(FoldGrowRegressor, X, y)
    H = np.repeat(X[:1] * scale, 10, axis=0)
    H[0, 0] = np.nextafter(H[0, 0], np.inf)
    h_t = H[1].copy()
    v, c, h_f = folding.input_gradient_incoming(est.network_, 0, h_t, y[:1], REGRESSION, r=2.0,
                                                H=H, generator=torch.Generator().manual_seed(0))
    assert np.isclose(np.linalg.norm(v), 2.0) and np.isclose(v @ h_f + c, 0.0, atol=1e-9)
    assert np.linalg.norm(h_t - h_f) == pytest.approx(folding.FALLBACK_MARGIN)
    assert v @ h_t + c > 0


def test_regression_already_exact_falls_back_without_nan():
    X, y = _regression_data(0, 40, 2, 1)
    est = _fitted(FoldGrowRegressor, X, y)
    exact = est.predict(X)
    est.grow(X, exact, n_units=2)  # every row already sits on its target
    for event in est.growth_history_:
        assert event["fallback"] == "instance_on_boundary"
        _check_fold_hyperplane(est, event)
    np.testing.assert_allclose(est.predict(X), exact, rtol=0, atol=1e-12)


def test_dead_units_are_reported():
    X, y = _classification_data(1, 50, 2, 2)
    est = _fitted(FoldGrowClassifier, X, y)
    w = [p.detach().numpy().copy() for p in est.network_.weights]
    b = [p.detach().numpy().copy() for p in est.network_.biases]
    w[0][1] = 0.0
    b[0][1] = -1.0  # unit 1 never fires
    _overwrite(est, w, b)
    est.grow(X, y)
    dead = est.growth_history_[-1]["dead_units"]
    assert 1 in dead[0]
    z = X @ est.coefs_[0] + est.intercepts_[0]
    active = (z > 0).any(axis=0)
    for layer_units in dead.values():
        assert not active[layer_units].any()  # reported units really never fire
    assert set(np.flatnonzero(~active)) == set(dead[0])  # and every dead one is reported


def test_dead_unit_scan_covers_sorted_data():
    """Rows sorted along x0 and a unit that fires only beyond the median of x0: the scan is
    bounded by ``search_subsample`` rows, and they must span the data, not be its first rows
    (which all lie below the median here, where the unit is off)."""
    X, y = _classification_data(2, 400, 2, 2)
    order = np.argsort(X[:, 0])
    X, y = X[order], y[order]
    est = _fitted(FoldGrowClassifier, X, y, search_subsample=50)
    w = [p.detach().numpy().copy() for p in est.network_.weights]
    b = [p.detach().numpy().copy() for p in est.network_.biases]
    w[0][1] = [1.0, 0.0]
    b[0][1] = -np.median(X[:, 0])  # unit 1 fires on the upper half of the rows only
    _overwrite(est, w, b)
    est.grow(X, y)
    dead = est.growth_history_[-1]["dead_units"]
    assert 1 not in dead.get(0, [])


# --------------------------------------------------------------------------- growth_history_
def test_growth_history_reads_as_a_dataframe():
    X, y = make_sine(200, random_state=0)
    est = FoldGrowClassifier(hidden_units=2, max_depth=2, growth_patience=1,
                             max_hidden_units=12, max_iter=100, tol=10.0, n_iter_no_change=5,
                             random_state=0).fit(X, y)
    df = pd.DataFrame(est.growth_history_)
    assert len(df) == len(est.growth_history_) >= 3
    assert set(HISTORY_COLUMNS) <= set(df.columns)
    assert set(df["kind"]) == {"widen", "deepen"}
    widen = df[df["kind"] == "widen"]
    assert widen["instance_index"].notna().all()
    assert widen["predicted"].isin(est.classes_).all() and widen["true"].isin(est.classes_).all()
    assert (widen["predicted"] != widen["true"]).all()
    assert df["loss_before"].notna().all() and df["loss_after"].notna().all()
    assert (df["epoch"].diff().dropna() >= 0).all()
    assert (df.groupby("growth")["search_seconds"].nunique() == 1).all()


@pytest.mark.parametrize("early_stopping", [False, True])
def test_instance_index_is_the_callers_row(early_stopping):
    """Zero-weight rows are dropped and early stopping shuffles: the index still points to X."""
    X, y = make_sine(200, random_state=1)
    weight = np.where(np.arange(200) % 3 == 0, 0.0, 1.0)
    est = FoldGrowClassifier(growth_schedule="fixed", grow_every=4, max_hidden_units=5,
                             max_iter=20, early_stopping=early_stopping, random_state=0)
    est.fit(X, y, sample_weight=weight)
    events = [e for e in est.growth_history_ if e["instance_index"] is not None]
    assert events
    for event in events:
        np.testing.assert_array_equal(X[event["instance_index"]], event["x_t"])
        assert weight[event["instance_index"]] > 0 and y[event["instance_index"]] == event["true"]


# --------------------------------------------------------------------------- 7. statistics
def _one_fold_unit_gain(make, seed, n_samples, max_iter):
    """Training accuracy gained by growing a converged 2-2-2 by one fold unit and training on.

    The 2-2-2 is trained by L-BFGS until L-BFGS itself stops (``tol=0``), so that the gain is
    not just more training of an unfinished network.
    """
    X, y = make(n_samples, random_state=seed)
    # the slides' experiment: next to no penalty (alpha="auto" would be 1.0 on 60 rows)
    est = FoldGrowClassifier(hidden_units=2, growth_schedule="none", solver="lbfgs",
                             max_iter=max_iter, tol=0.0, n_iter_no_change=50, alpha=1e-4,
                             random_state=seed)
    est.fit(X, y)
    before = est.score(X, y)
    est.set_params(warm_start=True, max_hidden_units=3)
    est.grow(X, y)
    if est.n_growths_ == 0:  # nothing mis-predicted: nothing to gain (counted as no gain)
        assert before == 1.0
        return 0.0
    est.fit(X, y)
    return est.score(X, y) - before


def _assert_fold_unit_helps(make, seeds, n_samples, max_iter):
    gains = np.array([_one_fold_unit_gain(make, seed, n_samples, max_iter) for seed in seeds])
    assert gains.mean() > 0, gains
    # paired one-sided test over seeds: accuracy after the growth > accuracy before
    test = scipy.stats.wilcoxon(gains, alternative="greater", zero_method="zsplit")
    assert test.pvalue < 0.05, (gains, test)


@pytest.mark.parametrize("make", [make_sine, make_overlap_quadratic])
def test_one_fold_unit_raises_training_accuracy_of_a_trained_2_2_2(make):
    _assert_fold_unit_helps(make, range(20), n_samples=60, max_iter=2000)


@pytest.mark.slow
@pytest.mark.parametrize("make", [make_sine, make_overlap_quadratic])
def test_one_fold_unit_raises_training_accuracy_of_a_trained_2_2_2_many_seeds(make):
    _assert_fold_unit_helps(make, range(100, 140), n_samples=300, max_iter=5000)


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 600), d=st.integers(1, 12),
       n_next=st.integers(1, 4), scale=st.sampled_from([1e-40, 1e-3, 1.0, 1e3, 1e45]))
def test_fold_ascent_starts_from_the_best_cone_candidate(seed, n, d, n_next, scale):
    """The candidates are scored in float32; the one picked has the largest ``G`` of them all
    in float64 up to float32 rounding, and lies in the cone at radius ``r``."""
    rng = np.random.RandomState(seed)
    D = scale * rng.normal(size=(n, d))
    delta = rng.normal(size=(n, n_next))
    u0 = rng.normal(size=d)
    u0 /= np.linalg.norm(u0)
    r, cos_max = 1.7, float(np.cos(np.deg2rad(folding.FOLD_CONE_DEGREES)))
    picked = incoming_module._best_cone_candidate(u0, r, cos_max, D, delta,
                                          torch.Generator().manual_seed(seed))
    candidates = incoming_module._cone_candidates(u0, r, cos_max,
                                                  torch.Generator().manual_seed(seed))
    G = [incoming_module._gradmax_objective_and_gradient(v, D, delta)[0] for v in candidates]
    assert any(np.array_equal(picked, v) for v in candidates)
    best = incoming_module._gradmax_objective_and_gradient(picked, D, delta)[0]
    assert best >= max(G) * (1 - 1e-4)
    assert np.linalg.norm(picked) == pytest.approx(r)
    assert picked @ u0 / r >= cos_max - 1e-12


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 60), d=st.integers(1, 6),
       n_next=st.integers(1, 4))
def test_fold_ascent_gradient_is_the_derivative_of_the_gradmax_objective(seed, n, d, n_next):
    gen = torch.Generator().manual_seed(seed)
    H = torch.randn(n, d, generator=gen, dtype=torch.float64)
    h_f = torch.randn(d, generator=gen, dtype=torch.float64)
    delta = torch.randn(n, n_next, generator=gen, dtype=torch.float64)
    v = torch.randn(d, generator=gen, dtype=torch.float64).requires_grad_(True)
    expected = folding.gradmax_objective(v, H, h_f, delta)
    (expected_grad,) = torch.autograd.grad(expected, v)
    value, grad = incoming_module._gradmax_objective_and_gradient(
        v.detach().numpy(), (H - h_f).numpy(), delta.numpy())
    assert value == pytest.approx(expected.item(), rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(grad, expected_grad.numpy(), rtol=1e-10, atol=1e-14)


@settings(deadline=None, max_examples=60)
@given(n=st.integers(1, 80), d=st.integers(1, 4), n_values=st.integers(1, 5),
       at_most=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_distinct_row_count_caps_the_clusters_exactly(n, d, n_values, at_most, seed):
    """k-means gets ``min(n_clusters, distinct rows)`` clusters, also when the duplicates come
    late (the count looks at the first rows first)."""
    H = np.random.RandomState(seed).randint(0, n_values, size=(n, d)).astype(np.float64)
    expected = min(at_most, np.unique(H, axis=0).shape[0])
    assert instances_module._count_distinct_rows(H, at_most) == expected


@settings(deadline=None, max_examples=60)
@given(n=st.integers(1, 50), d=st.integers(1, 4), n_folded=st.integers(0, 6),
       seed=st.integers(0, 2**16))
def test_already_folded_rows_are_found_exactly(n, d, n_folded, seed):
    """The typical instance is never picked twice: the vectorised look-up agrees with a
    row-by-row one, duplicates and signed zeros included."""
    rng = np.random.RandomState(seed)
    X = rng.choice([-1.0, -0.0, 0.0, 0.5], size=(n, d))
    folded = {_row_key(row) for row in X[rng.randint(0, n, size=n_folded)]}
    folded.add(_row_key(rng.normal(size=d)))  # a folded row not in this subsample
    expected = np.array([_row_key(row) in folded for row in X])
    np.testing.assert_array_equal(_already_folded(X, folded), expected)


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 6), hidden=st.integers(1, 8),
       task=st.sampled_from(["classification", "regression"]))
def test_segment_shortcut_gives_the_solvers_fold_point(seed, d, hidden, task):
    """When the nearest boundary point lies in the region, ``"segment"`` returns it without
    the LP and QP: the solvers, forced to run, find the same point."""
    from unittest import mock
    rng = np.random.RandomState(seed % 2**32)
    network = _random_network(seed, d, [hidden], 2 if task == "classification" else 1)
    h_t = rng.normal(size=d)
    segment = activated_segment(network, h_t, 0)
    out = segment.predict(h_t)
    target = int(1 - np.argmax(out)) if task == "classification" else out + rng.normal(size=1)
    assume(folding.boundary_equations(segment, h_t, task=task_named(task),
                                      target=target) is not None)
    h_f, fallback = folding.fold_point_search(segment, h_t, task=task_named(task), target=target)
    G, g = fold_point_module._region_constraints(segment, False)
    assume(fallback is None and fold_point_module._in_region(h_f, G, g))
    with mock.patch.object(fold_point_module, "_in_region", lambda *args: False):
        solved, solved_fallback = folding.fold_point_search(segment, h_t, task=task_named(task),
                                                            target=target)
    assume(solved_fallback is None)
    scale = 1.0 + np.abs(h_t).max() + np.abs(h_f).max()
    np.testing.assert_allclose(solved, h_f, atol=1e-5 * scale)


@settings(deadline=None, max_examples=50)
@given(seed=st.integers(0, 2**16), d=st.integers(1, 4), n_units=st.integers(1, 5),
       scale=st.floats(1e-3, 1e3))
def test_adds_nothing_recognises_units_already_in_the_layers_span(seed, d, n_units, scale):
    """A new kink among the data adds a function; a copy of a unit, or an affine unit next to
    an affine one along the same direction, does not. A mirror image adds the unit's affine
    part, so it counts as new."""
    rng = np.random.RandomState(seed)
    H = rng.normal(size=(50, d))
    used = set()

    def offset_through_a_middle_row(w):
        """Bias of a hyperplane of normal w through a row with rows on both sides of it, a
        different row each time (different kinks, also in one dimension)."""
        row = next(r for r in np.argsort(H @ w)[10:40] if r not in used)
        used.add(row)
        return -float(H[row] @ w)

    W = rng.normal(size=(n_units, d))
    b = np.array([offset_through_a_middle_row(w) for w in W])
    v = rng.normal(size=d)
    c = offset_through_a_middle_row(v)
    # a kink of its own: the new unit splits the rows unlike every existing unit and its
    # mirror image by more than the two rows on the kinks (else the two are near copies)
    new_split, old_splits = H @ v + c > 0, H @ W.T + b > 0
    assume(np.minimum((old_splits != new_split[:, None]).sum(axis=0),
                      (old_splits == new_split[:, None]).sum(axis=0)).min() >= 3)
    assert not folding.adds_nothing(v, c, H, W, b)
    j = rng.randint(n_units)
    assert folding.adds_nothing(scale * W[j], scale * b[j], H, W, b)
    assert not folding.adds_nothing(-scale * W[j], -scale * b[j], H, W, b)
    beyond = -(H @ v).min() + 0.1 * np.abs(H @ v).max()  # every row active: affine on H
    assert not folding.adds_nothing(v, beyond, H, W, b)
    affine = np.vstack([W, v])  # with an existing unit affine on H along v
    assert folding.adds_nothing(scale * v, scale * beyond, H, affine, np.append(b, beyond))


def _sine_1d():
    rng = np.random.RandomState(0)
    x = rng.uniform(-3, 3, size=300)
    y = np.sin(2 * x) + rng.normal(scale=0.1, size=300)
    return ((x - x.mean()) / x.std())[:, None], (y - y.mean()) / y.std()


@pytest.mark.parametrize("random_state", [1, 2, 3, 4])
def test_one_dimensional_sine_grows_past_a_line(random_state):
    """These fits' seed networks are a line on the data. Its segment meets a mis-predicted
    row's target beyond the data, or its region ends at an existing kink, so a fold unit
    there would add nothing (affine on the data, or a copy of a unit); the fallback bends at
    x_t instead (without it these fits ended at R^2 0.16-0.28 after three fruitless growths)."""
    X, y = _sine_1d()
    est = FoldGrowRegressor(random_state=random_state).fit(X, y)
    assert est.score(X, y) > 0.85
    assert any(folding.REDUNDANT_FOLD in (e["fallback"] or "").split("+")
               for e in est.growth_history_)


@pytest.mark.parametrize("random_state", [1, 3])
def test_a_fold_that_would_bend_no_data_falls_back_to_a_unit_that_does(random_state):
    X, y = _sine_1d()
    est = FoldGrowRegressor(growth_schedule="none", linear_seed=False,
                            random_state=random_state).fit(X, y)
    before = _outputs(est, X)
    est.grow(X, y)
    _assert_same_outputs(est, X, before)
    (event,) = est.growth_history_
    assert folding.REDUNDANT_FOLD in event["fallback"].split("+")
    _check_fold_hyperplane(est, event)
    weights = est.network_.weights[0].detach().double().numpy()
    biases = est.network_.biases[0].detach().double().numpy()
    assert not folding.adds_nothing(weights[-1], biases[-1], X, weights[:-1], biases[:-1])


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 6), offset=st.floats(0.0, 4.0),
       r=st.floats(0.3, 20.0), refine=st.booleans())
def test_a_nearly_linear_fold_unit_gets_a_fresh_units_norm(seed, d, offset, r, refine):
    """The fold unit keeps its siblings' norm ``r`` unless it is active on more than
    NEARLY_LINEAR_SHARE of the search rows and ``r`` exceeds FRESH_UNIT_NORM; either way its
    hyperplane passes through ``x_f`` with ``x_t`` on the active side."""
    rng = np.random.RandomState(seed)
    H = rng.normal(size=(300, d))
    h_f = -offset * np.eye(d)[0]  # far out along -e1: the unit is active on nearly every row
    h_t = h_f + 0.5 * np.eye(d)[0]
    delta = torch.as_tensor(rng.normal(size=(300, 2)))
    v, c = folding.fold_incoming(h_t, h_f, r=r, H=torch.as_tensor(H), delta=delta,
                                 refine=refine, generator=torch.Generator().manual_seed(seed))
    share = np.mean(H @ v + c > 0)
    nearly_linear = r > folding.FRESH_UNIT_NORM and share > folding.NEARLY_LINEAR_SHARE
    assert np.linalg.norm(v) == pytest.approx(folding.FRESH_UNIT_NORM if nearly_linear else r)
    assert v @ h_f + c == pytest.approx(0.0, abs=1e-9 * (1 + r * offset))
    assert v @ h_t + c > 0
    if not refine:  # the direction is x_t - x_f: which rows are active is known beforehand
        assert nearly_linear == (r > folding.FRESH_UNIT_NORM
                                 and np.mean(H[:, 0] > -offset) > folding.NEARLY_LINEAR_SHARE)


# --------------------------------------------------------------------------- search rows held once
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (120, 2), (300, 1), (600, 2500), (2000, 1049)])
def test_in_place_kmeans_clusters_as_kmeans_on_a_copy(shape):
    """The growth's k-means on its one float64 array (no copy, no np.var temporary) gives
    scikit-learn's clusters bit for bit, and the array is refilled exactly."""
    from sklearn.cluster import KMeans
    from sklearn.cluster._kmeans import _tolerance
    rng = np.random.RandomState(shape[0])
    source = (rng.exponential(size=shape) * (rng.rand(*shape) < 0.3)).astype(np.float32)
    weights = rng.exponential(size=shape[0])
    k = min(5, shape[0])
    H = ScratchRows(lambda rows: source[rows], shape)
    expected = KMeans(n_clusters=k, n_init=1, random_state=3).fit(
        source.astype(np.float64), sample_weight=weights)
    assert tolerance_by_columns(H.array, 1e-4) == _tolerance(H.array, 1e-4)
    got = InPlaceKMeans(n_clusters=k, n_init=1, random_state=3, copy_x=False).fit(
        H.array, sample_weight=weights)
    np.testing.assert_array_equal(got.labels_, expected.labels_)
    np.testing.assert_array_equal(got.cluster_centers_, expected.cluster_centers_)
    assert got.n_iter_ == expected.n_iter_
    H.restore()
    np.testing.assert_array_equal(H.array, source.astype(np.float64))


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**16), n=st.integers(2, 400), d=st.sampled_from([1, 2, 5, 3000]),
       n_next=st.integers(1, 3))
def test_search_steps_on_scratch_rows_compute_what_they_computed_on_copies(seed, n, d, n_next):
    """k-means picks and the fold init's ascent give the same result whether they copy the
    search rows or use the growth's float64 array as scratch space, which they leave as
    they found it."""
    rng = np.random.RandomState(seed)
    source = rng.normal(size=(n, d)).astype(np.float32)
    H = ScratchRows(lambda rows: source[rows], (n, d))
    losses, mispredicted = rng.exponential(size=n), rng.rand(n) < 0.5
    mispredicted[0] = True
    copied = folding.typical_instances(source.astype(np.float64), losses, mispredicted, 2,
                                       rng=np.random.RandomState(seed))
    in_place = folding.typical_instances(H.array, losses, mispredicted, 2,
                                         rng=np.random.RandomState(seed), restore=H.restore)
    assert in_place == copied
    h_t, h_f = H.array[0].copy(), H.array[0] - rng.normal(size=d)
    delta = torch.as_tensor(rng.normal(size=(n, n_next)).astype(np.float32))
    expected = folding.fold_incoming(h_t, h_f, r=1.3, H=torch.as_tensor(source), delta=delta,
                                     generator=torch.Generator().manual_seed(seed))
    got = folding.fold_incoming(h_t, h_f, r=1.3, H=H.array, delta=delta, restore=H.restore,
                                generator=torch.Generator().manual_seed(seed))
    np.testing.assert_array_equal(got[0], expected[0])
    assert got[1] == expected[1]
    np.testing.assert_array_equal(H.array, source.astype(np.float64))


@pytest.mark.parametrize("d", [1, 3, 5000])
def test_cone_candidates_computed_in_place_are_the_formulas(d):
    """The candidates, computed a chunk of rows at a time in place, are the formula's bits."""
    rng = np.random.RandomState(d)
    u0 = rng.normal(size=d)
    u0 /= np.linalg.norm(u0)
    r, cos_max = 1.7, float(np.cos(np.deg2rad(folding.FOLD_CONE_DEGREES)))
    gen = torch.Generator().manual_seed(d)
    raw = torch.randn(incoming_module.FOLD_CANDIDATES, d, generator=gen,
                      dtype=torch.float64).numpy()
    cos = cos_max + (1 - cos_max) * torch.rand(incoming_module.FOLD_CANDIDATES, 1,
                                               generator=gen, dtype=torch.float64).numpy()
    perp = raw - (raw @ u0)[:, None] * u0
    perp /= np.maximum(np.linalg.norm(perp, axis=1, keepdims=True), 1e-300)
    expected = r * np.vstack([u0[None], cos * u0 + np.sqrt(1 - cos**2) * perp])
    got = incoming_module._cone_candidates(u0, r, cos_max, torch.Generator().manual_seed(d))
    np.testing.assert_array_equal(got, expected)
