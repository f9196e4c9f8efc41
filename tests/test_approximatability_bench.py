"""The approximatability benchmark: its batched trainer is skfold's, and it runs end to end."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import approximatability as bench  # noqa: E402
from _batched_mlp import BatchedMLP  # noqa: E402

from skfold.network import GrowableMLP  # noqa: E402
from skfold.objective import objective  # noqa: E402
from skfold.tasks import CLASSIFICATION  # noqa: E402


@pytest.mark.parametrize("init", ["fold", "gradmax"])
def test_batched_training_matches_skfold_trainer_through_a_growth(init):
    """Same init, same growth call, same Adam: the same loss at every step, before and after."""
    X, y, _, _ = bench.task_data("overlap_quadratic", 120)
    gap = bench.check_against_trainer(X, y, [0, 1, 2], init=init, steps=20,
                                      learning_rate=0.01, alpha=1e-4)
    assert gap < 1e-10


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**31 - 1), n_networks=st.integers(1, 4),
       n_features=st.integers(1, 4), n_hidden=st.integers(1, 5), n_classes=st.integers(2, 4),
       n_zero_units=st.integers(0, 2))
def test_written_out_gradient_is_autograds(seed, n_networks, n_features, n_hidden, n_classes,
                                           n_zero_units):
    """Objective and gradient of every network equal skfold's objective under autograd,
    including units with zero incoming weights and bias (GradMax's), where relu'(0) = 1."""
    rng = np.random.RandomState(seed % 2**32)
    X = torch.as_tensor(rng.normal(size=(30, n_features)))
    y = torch.as_tensor(rng.randint(n_classes, size=30))
    networks = []
    for i in range(n_networks):
        net = GrowableMLP.initialize(n_features, [n_hidden], n_classes,
                                     generator=torch.Generator().manual_seed(seed + i),
                                     dtype=torch.float64, device="cpu")
        for _ in range(n_zero_units):
            net.widen(0, torch.zeros(1, n_features), torch.zeros(1),
                      torch.as_tensor(rng.normal(size=(n_classes, 1))))
        networks.append(net)
    batch = BatchedMLP.from_networks(networks, alpha=0.3)
    onehot = torch.nn.functional.one_hot(y, n_classes).T.double()
    losses, grads = batch.value_and_grad(batch.params, X, onehot)
    for i, net in enumerate(networks):
        loss = objective(net, X, y, torch.ones(30, dtype=torch.float64), CLASSIFICATION, 0.3)
        expected = torch.autograd.grad(loss, [*net.weights, *net.biases])
        torch.testing.assert_close(losses[i], loss.detach(), rtol=1e-12, atol=1e-12)
        for got, want in zip(grads, expected):
            torch.testing.assert_close(got[i], want, rtol=1e-10, atol=1e-12)


def test_growing_a_batch_keeps_every_function_and_carries_adam_state():
    X, y, _, _ = bench.task_data("sine", 100, dtype=torch.float64)
    seeds = [3, 4, 5]
    parent = BatchedMLP.from_networks(bench.initial_networks(seeds, 2))
    parent.train(X, y, 20)
    for init in bench.INITS:
        grown, events = bench.grow_batch(parent, X, y, init, seeds)
        assert [e["init"] for e in events] == [init] * 3
        assert grown.params[0].shape == (3, 3, 2) and grown.step_count == parent.step_count
        torch.testing.assert_close(grown.logits(X), parent.logits(X), rtol=0, atol=1e-12)
        torch.testing.assert_close(grown.exp_avg[0][:, :2], parent.exp_avg[0])
        torch.testing.assert_close(grown.exp_avg_sq[1][:, :, :2], parent.exp_avg_sq[1])
        assert not grown.exp_avg[0][:, 2].any() and not grown.exp_avg_sq[1][:, :, 2].any()


def test_quick_run_writes_a_report_with_every_method(tmp_path):
    n_seeds = 8
    results = bench.main(["--quick", "--n-seeds", str(n_seeds), "--n-samples", "150",
                          "--steps-before", "60", "--steps-after", "60",
                          "--results-dir", str(tmp_path)])
    text = (tmp_path / "approximatability_quick.md").read_text()
    assert (tmp_path / "approximatability_quick.png").stat().st_size > 0
    assert [r["name"] for r in results] == list(bench.TASKS)
    for result in results:
        assert f"## {result['name']}" in text
        target, hit = bench.successes(result, tolerance=0.01)
        # the best run defines the target, so at least one run reaches it
        assert any(h.any() for h in hit.values())
        for method in bench.METHODS:
            assert result["train"][method].shape == (n_seeds,)
            assert f"| {bench.LABELS[method]} | {int(hit[method].sum())} / {n_seeds} |" in text
