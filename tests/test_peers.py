"""benchmarks/_peers.py: gromo's TINY and GradMax as a growing one-hidden-layer estimator."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gromo")
torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from sklearn.datasets import make_moons  # noqa: E402

from _peers import GromoGrowingMLP  # noqa: E402


@pytest.fixture(scope="module")
def moons():
    return make_moons(200, noise=0.2, random_state=0)


@pytest.mark.parametrize("method", ["tiny", "gradmax"])
def test_grows_from_start_to_max_and_beats_chance(moons, method):
    X, y = moons
    est = GromoGrowingMLP(method, "classification", start_units=2, max_units=5,
                          grow_every=60, learning_rate=0.02, random_state=0).fit(X, y)
    assert est.hidden_layer_sizes_ == (5,)
    assert [h["units"] for h in est.growth_history_] == [3, 4, 5]
    assert len(est.loss_curve_) == 60 * 4
    assert est.score(X, y) > 0.75


def test_zero_amplitude_extension_leaves_the_function_unchanged(moons):
    X, y = moons
    est = GromoGrowingMLP("tiny", "classification", 2, 2, 30, 0.02, 0).fit(X, y)
    model = est.model_
    Xt = torch.as_tensor(X, dtype=torch.float32)
    target = torch.as_tensor(y)
    model.init_computation()
    torch.nn.functional.cross_entropy(model(Xt), target).backward()
    model.update_computation()
    model.compute_optimal_updates(maximum_added_neurons=1, compute_delta=False)
    model.reset_computation()
    model.select_update(0)
    model.set_scaling_factor(0.0)
    with torch.no_grad():
        np.testing.assert_allclose(model.extended_forward(Xt).numpy(), model(Xt).numpy(),
                                   atol=1e-6)


def test_regression_scores_r2(moons):
    X, _ = moons
    y = np.sin(2 * X[:, 0])
    y = (y - y.mean()) / y.std()
    est = GromoGrowingMLP("tiny", "regression", 2, 4, 80, 0.02, 0).fit(X, y)
    assert est.hidden_layer_sizes_ == (4,)
    assert est.predict(X).shape == y.shape
    assert est.score(X, y) > 0.5
