"""``outgoing_weights="line_search"``: a new unit joins with the outgoing weights that lower the
loss most along their gradient (TINY's amplitude), instead of zero; the function changes by an
improvement, never by a loss."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_friedman1, make_moons
from sklearn.metrics import log_loss, mean_squared_error
from skfold import FoldGrowClassifier, FoldGrowRegressor
from skfold.folding import line_search_outgoing, search_signals
from skfold.network import GrowableMLP
from skfold.tasks import task_named


def _fitted(Estimator, X, y, outgoing_weights):
    return Estimator(outgoing_weights=outgoing_weights, growth_schedule="none", hidden_units=2,
                     early_stopping=False, max_iter=30, random_state=0).fit(X, y)


@pytest.mark.parametrize("init", ["fold", "random"])
def test_a_line_searched_unit_lowers_the_training_loss_at_once(init):
    X, y = make_moons(n_samples=300, noise=0.2, random_state=0)
    clf = _fitted(FoldGrowClassifier, X, y, "line_search").set_params(init=init)
    before = log_loss(y, clf.predict_proba(X))
    clf.grow(X, y)
    assert clf.hidden_layer_sizes_ == (3,)
    after = log_loss(y, clf.predict_proba(X))
    assert after < before - 1e-4
    assert np.abs(clf.coefs_[-1][-1]).sum() > 0  # the new unit's outgoing weights


def test_with_zero_outgoing_weights_growth_leaves_the_function_as_it_was():
    X, y = make_moons(n_samples=300, noise=0.2, random_state=0)
    clf = _fitted(FoldGrowClassifier, X, y, "zero")
    before = clf.predict_proba(X)
    clf.grow(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), before, atol=1e-10)
    assert not clf.coefs_[-1][-1].any()


def test_a_line_searched_regressor_unit_lowers_the_squared_error():
    X, y = make_friedman1(n_samples=300, random_state=0)
    reg = _fitted(FoldGrowRegressor, X, y, "line_search")
    before = mean_squared_error(y, reg.predict(X))
    reg.grow(X, y)
    assert mean_squared_error(y, reg.predict(X)) < before


def test_the_line_search_moves_the_linear_seed_off_its_saddle():
    """From the linear seed the seed units' outgoing weights are zero, so their incoming
    weights get no gradient: the line search gives them outgoing weights before training."""
    X, y = make_moons(n_samples=400, noise=0.2, random_state=0)
    fits = {ow: FoldGrowClassifier(outgoing_weights=ow, linear_seed=True, early_stopping=False,
                                   growth_schedule="none", max_iter=1, random_state=0).fit(X, y)
            for ow in ("zero", "line_search")}
    # one L-BFGS iteration from each start: the zero start's units still add nothing
    assert np.abs(fits["line_search"].coefs_[-1]).sum() > np.abs(fits["zero"].coefs_[-1]).sum()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_units=st.integers(1, 3),
       task_name=st.sampled_from(["classification", "regression"]))
def test_the_line_search_never_raises_the_loss_on_its_rows(seed, n_units, task_name):
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_outputs = 3 if task_name == "classification" else 1
    task = task_named(task_name)
    net = GrowableMLP.initialize(4, [3], n_outputs, generator=generator, dtype=torch.float64,
                                 device="cpu")
    X = torch.as_tensor(rng.normal(size=(60, 4)))
    y = (torch.as_tensor(rng.integers(0, 3, 60)) if task_name == "classification"
         else torch.as_tensor(rng.normal(size=(60, 1))))
    w = torch.as_tensor(rng.uniform(0.5, 2.0, 60))
    signals = search_signals(net, 0, X, y, w, task)
    incoming = torch.as_tensor(rng.normal(size=(n_units, 4)))
    net.widen(0, incoming, torch.zeros(n_units), torch.zeros(n_outputs, n_units))

    def loss():
        with torch.no_grad():
            return float((task.per_sample_loss(net(X), y) * w).sum() / w.sum())

    before = loss()
    step = line_search_outgoing(net, 0, slice(3, 3 + n_units), X, y, w, task, signals.delta)
    assert loss() <= before + 1e-12
    assert (step > 0) == bool(net.weights[1][:, 3:].abs().sum() > 0)
