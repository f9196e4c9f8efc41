"""The growable network: function-preserving growth, exact activated segments, optimizer state."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skfold.network import GrowableMLP, activated_segment, relu
from skfold.objective import objective
from skfold.tasks import REGRESSION
from skfold.training import Trainer


def random_network(seed, n_features, hidden, n_outputs, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return GrowableMLP.initialize(n_features, hidden, n_outputs, generator=gen, dtype=dtype,
                                  device="cpu")


networks = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31 - 1),
    "n_features": st.integers(1, 6),
    "hidden": st.lists(st.integers(1, 6), min_size=1, max_size=3),
    "n_outputs": st.integers(1, 4),
})


def inputs(seed, n, d, scale=3.0):
    return torch.as_tensor(np.random.RandomState(seed).normal(scale=scale, size=(n, d)))


@settings(deadline=None, max_examples=60)
@given(net=networks, layer_pick=st.integers(0, 10), k=st.integers(1, 4),
       scale=st.floats(0.01, 100.0))
def test_widen_with_zero_outgoing_preserves_function(net, layer_pick, k, scale):
    network = random_network(**net)
    X = inputs(net["seed"], 50, net["n_features"])
    before = network(X).detach().clone()
    layer = layer_pick % network.n_hidden_layers
    gen = torch.Generator().manual_seed(1)
    n_in = network.weights[layer].shape[1]
    network.widen(layer, torch.randn(k, n_in, generator=gen, dtype=torch.float64) * scale,
                  torch.randn(k, generator=gen, dtype=torch.float64) * scale)
    assert network.hidden_sizes[layer] == net["hidden"][layer] + k
    torch.testing.assert_close(network(X), before, rtol=0, atol=1e-12)


@settings(deadline=None, max_examples=60)
@given(net=networks, layer_pick=st.integers(0, 10))
def test_deepen_preserves_function(net, layer_pick):
    network = random_network(**net)
    X = inputs(net["seed"], 50, net["n_features"])
    before = network(X).detach().clone()
    layer = layer_pick % network.n_hidden_layers
    network.deepen(layer)
    assert network.n_hidden_layers == len(net["hidden"]) + 1
    assert network.hidden_sizes[layer + 1] == network.hidden_sizes[layer]
    torch.testing.assert_close(network(X), before, rtol=0, atol=1e-12)


@settings(deadline=None, max_examples=60)
@given(net=networks, start=st.integers(0, 10))
def test_activated_segment_is_exact_inside_its_region(net, start):
    """The affine map reproduces the network on the region, and the region contains x."""
    network = random_network(**net)
    layer = start % network.n_hidden_layers
    X = inputs(net["seed"], 20, net["n_features"])
    H = network.hidden_input(X, layer).detach().numpy()
    rng = np.random.RandomState(net["seed"] % 1000)
    for h in H[:5]:
        segment = activated_segment(network, h, layer)
        assert np.all(segment.region_slack(h) >= -1e-9)
        out = network.forward_from(torch.as_tensor(h)[None], layer).detach().numpy()[0]
        np.testing.assert_allclose(segment.predict(h), out, rtol=1e-9, atol=1e-9)
        # nearby points that stay in the region follow the same affine map
        for _ in range(5):
            h2 = h + rng.normal(scale=1e-3, size=h.shape)
            if np.all(segment.region_slack(h2) > 0):
                out2 = network.forward_from(torch.as_tensor(h2)[None], layer).detach().numpy()
                np.testing.assert_allclose(segment.predict(h2), out2[0], rtol=1e-9, atol=1e-9)


def test_relu_derivative_at_zero_is_one():
    z = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    relu(z).sum().backward()
    assert z.grad.tolist() == [0.0, 1.0, 1.0]


def _adam_trainer(network):
    return Trainer(network, solver="adam", learning_rate=1e-2, momentum=0.9, alpha=0.0,
                   batch_size=16, task="regression", generator=torch.Generator().manual_seed(0))


def test_adam_state_of_old_parameters_survives_growth():
    network = random_network(0, 3, [4], 2, dtype=torch.float32)
    trainer = _adam_trainer(network)
    X = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))
    y = torch.randn(64, 2, generator=torch.Generator().manual_seed(2))
    sw = torch.ones(64)
    for _ in range(3):
        trainer.epoch(X, y, sw)
    # state_dict lists each key's state per parameter: weights first, then biases
    before = trainer.optimizer.state_dict()
    replaced = network.widen(0, torch.ones(2, 3), torch.zeros(2))
    trainer.after_growth(replaced)
    after = trainer.optimizer.state_dict()
    for key in ("exp_avg", "exp_avg_sq", "step"):
        torch.testing.assert_close(after[key][0][:4], before[key][0])  # the widened layer
        assert torch.all(after[key][0][4:] == 0)  # its new units start fresh
        torch.testing.assert_close(after[key][3], before[key][3])  # the untouched output bias
    # and training continues without error on the grown network
    loss = trainer.epoch(X, y, sw)
    assert np.isfinite(loss)


def test_objective_penalty_matches_sklearn_scaling():
    network = random_network(3, 2, [3], 1)
    X = torch.zeros(4, 2, dtype=torch.float64)
    y = network(X).detach()  # zero data loss
    sw = torch.full((4,), 0.5, dtype=torch.float64)
    expected = 0.5 * 2.0 * sum(float((w.detach() ** 2).sum()) for w in network.weights) / 2.0
    value = float(objective(network, X, y, sw, REGRESSION, alpha=2.0).detach())
    assert np.isclose(value, expected, rtol=1e-12)
