"""The optimizers: old entries go on as if nothing grew, new ones start as fresh parameters."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skfold import FoldGrowRegressor
from skfold.network import GrowableMLP
from skfold.optimizers import FlatOptimizer


def _network(seed, n_in=3, hidden=4, n_out=2):
    return GrowableMLP.initialize(n_in, [hidden], n_out, generator=torch.Generator().manual_seed(
        seed), dtype=torch.float64, device="cpu")


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 10_000), before=st.integers(1, 40), after=st.integers(1, 10),
       solver=st.sampled_from(["adam", "sgd"]))
def test_a_grown_unit_trains_as_a_fresh_parameter_and_old_entries_as_if_nothing_grew(
        seed, before, after, solver):
    """A unit added after ``before`` steps: its entries follow torch's optimizer on a brand-new
    parameter (Adam: its own bias correction), the old entries follow one that never saw a
    growth, step for step."""
    torch.manual_seed(seed)  # the test's own gradients; skfold never touches the global RNG
    network = _network(seed)
    opt = FlatOptimizer(network, solver, learning_rate=0.01, momentum=0.9)
    old_w = network.weights[0].detach().clone().requires_grad_(True)
    make = ((lambda p: torch.optim.Adam(p, lr=0.01)) if solver == "adam"
            else (lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True)))
    reference_old = make([old_w])

    def grads_for(net):
        return [torch.randn_like(p) for p in net.parameters()]

    for _ in range(before):
        grads = grads_for(network)
        opt.step(grads)
        old_w.grad = grads[0].clone()
        reference_old.step()
    replaced = network.widen(0, torch.randn(1, 3, dtype=torch.float64),
                             torch.zeros(1, dtype=torch.float64))
    opt.bind(network, replaced)
    new_row = network.weights[0].detach()[4:].clone().requires_grad_(True)
    reference_new = make([new_row])
    for _ in range(after):
        grads = grads_for(network)
        opt.step(grads)
        old_w.grad, new_row.grad = grads[0][:4].clone(), grads[0][4:].clone()
        reference_old.step()
        reference_new.step()
    torch.testing.assert_close(network.weights[0].detach()[:4], old_w.detach(), rtol=1e-10,
                               atol=1e-12)
    torch.testing.assert_close(network.weights[0].detach()[4:], new_row.detach(), rtol=1e-10,
                               atol=1e-12)


def test_a_new_units_first_adam_step_moves_it_by_the_learning_rate_not_several_times_it():
    """With a shared step count (torch.optim.Adam over the grown tensor) a unit added after a
    thousand steps moves by about 3 learning rates on its first step; fresh, by one."""
    network = _network(0)
    opt = FlatOptimizer(network, "adam", learning_rate=1e-3)
    generator = torch.Generator().manual_seed(1)
    for _ in range(1000):
        opt.step([torch.randn(p.shape, generator=generator, dtype=p.dtype)
                  for p in network.parameters()])
    replaced = network.widen(0, torch.ones(1, 3, dtype=torch.float64),
                             torch.zeros(1, dtype=torch.float64))
    opt.bind(network, replaced)
    before = network.weights[1].detach()[:, 4].clone()
    opt.step([torch.ones_like(p) for p in network.parameters()])
    moved = (network.weights[1].detach()[:, 4] - before).abs()
    torch.testing.assert_close(moved, torch.full_like(moved, 1e-3), rtol=1e-6, atol=0)


def test_sgd_trains_a_deepened_network():
    """A deepened network's identity layer is a set of new parameters: SGD drives them too
    (torch's fused SGD once raised a TypeError on their missing momentum buffers)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(100, 1))
    y = np.sin(2 * X[:, 0])
    est = FoldGrowRegressor(solver="sgd", max_depth=2, growth_patience=1, max_hidden_units=7,
                            n_iter_no_change=5, max_iter=80, learning_rate_init=0.02,
                            random_state=1).fit(X, y)
    assert [e["kind"] for e in est.growth_history_][:2] == ["widen", "deepen"]
    assert len(est.hidden_layer_sizes_) == 2
    before = est.predict(X)
    est.partial_fit(X, y)  # the identity layer's momentum carries on
    assert not np.array_equal(est.predict(X), before)
    assert all(np.isfinite(c).all() for c in est.coefs_)


def test_a_grown_unit_of_a_fitted_estimator_takes_a_fresh_adams_first_step():
    """Through the estimator: one full-batch Adam step after ``grow`` moves the new unit's
    outgoing weights by the learning rate (a fresh parameter's first step), not by the
    several learning rates a step count shared with the old weights gives."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    est = FoldGrowRegressor(solver="adam", hidden_units=3, max_hidden_units=8, batch_size=80,
                            growth_schedule="none", learning_rate_init=1e-3, random_state=0)
    for _ in range(200):
        est.partial_fit(X, y)
    est.grow(X, y)
    before = est.coefs_[1][3].copy()  # the new unit's outgoing weights: zero
    est.partial_fit(X, y)  # one step: batch_size is the whole data
    np.testing.assert_allclose(np.abs(est.coefs_[1][3] - before), 1e-3, rtol=1e-4)


def test_growing_several_units_at_once_keeps_the_old_units_optimizer_state():
    """The fold init widens the layer once per unit; the old units' Adam moments must survive
    every widening, so their next step is the one they take after a one-unit growth (new
    units have zero outgoing weights, so the old units' gradients are the same). Once, a
    two-unit growth restarted them as fresh parameters."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    steps = []
    for n_units in (1, 2):
        est = FoldGrowRegressor(solver="adam", hidden_units=3, max_hidden_units=8,
                                batch_size=80, growth_schedule="none", learning_rate_init=1e-2,
                                random_state=0)
        for _ in range(50):
            est.partial_fit(X, y)
        est.grow(X, y, n_units=n_units)
        assert est.hidden_layer_sizes_ == (3 + n_units,)
        before = est.coefs_[0][:, :3].copy()
        est.partial_fit(X, y)
        steps.append(est.coefs_[0][:, :3] - before)
    np.testing.assert_allclose(steps[1], steps[0], rtol=1e-9, atol=1e-12)
