"""The training engine's fast paths keep their promises: every row once per epoch, no copy of the
training set, bounded chunks at predict time, scoped thread limits, a ReLU whose gradient at 0
is 1. (Their speed is measured by ``benchmarks/speed.py``, never asserted here.)"""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import skfold._base
import skfold.lbfgs as lbfgs
from skfold import FoldGrowClassifier, FoldGrowRegressor, numpy_objective
from skfold.fit_setup import to_tensor
from skfold.network import GrowableMLP, relu
from skfold.objective import objective, objective_and_gradient
from skfold.tasks import CLASSIFICATION, task_named
from skfold.training import Trainer, auto_batch_size


@settings(deadline=None, max_examples=30)
@given(n=st.integers(1, 300), batch_size=st.integers(1, 320), seed=st.integers(0, 2**16),
       task=st.sampled_from(["classification", "regression"]))
def test_epoch_loss_is_the_mean_over_every_row_exactly_once(n, batch_size, seed, task):
    gen = torch.Generator().manual_seed(seed)
    network = GrowableMLP.initialize(3, [5], 2, generator=gen, dtype=torch.float32, device="cpu")
    X = torch.randn(n, 3, generator=gen)
    y = (torch.randint(0, 2, (n,), generator=gen) if task == "classification"
         else torch.randn(n, 2, generator=gen))
    weights = torch.ones(n)
    # A step size far below float32's resolution: the weights cannot move during the epoch.
    trainer = Trainer(network, solver="sgd", learning_rate=1e-30, momentum=0.0, alpha=0.0,
                      batch_size=min(batch_size, n), task=task, generator=gen)
    with torch.no_grad():
        expected = task_named(task).per_sample_loss(network(X), y).double().mean().item()
    assert trainer.epoch(X, y, weights) == pytest.approx(expected, rel=1e-5, abs=1e-7)


@settings(deadline=None, max_examples=50)
@given(n=st.integers(1, 10**9))
def test_auto_batch_size_is_mlps_up_to_200k_rows_then_about_1000_steps(n):
    batch = auto_batch_size(n)
    assert 1 <= batch <= n
    if n < 201_000:
        assert batch == min(200, n)
    else:
        assert -(-n // batch) <= 1005  # steps per epoch


def test_float32_training_data_is_used_in_place_not_copied():
    X = np.random.RandomState(0).normal(size=(300, 4)).astype(np.float32)
    assert np.shares_memory(to_tensor(X, torch.float32, "cpu").numpy(), X)
    read_only = X.copy()
    read_only.flags.writeable = False  # as joblib's memmaps: must be copied, never shared
    assert not np.shares_memory(to_tensor(read_only, torch.float32, "cpu").numpy(), read_only)


@settings(deadline=None, max_examples=15)
@given(n=st.integers(1, 60), chunk=st.integers(1, 17), seed=st.integers(0, 100))
def test_predictions_do_not_depend_on_the_chunk_size(n, chunk, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    clf = _fitted_classifier()
    whole = clf.predict_proba(X)
    original = skfold._base.EVAL_CHUNK
    try:
        skfold._base.EVAL_CHUNK = chunk
        chunked = clf.predict_proba(X)
        chunked32 = clf.predict_proba(X.astype(np.float32))
    finally:
        skfold._base.EVAL_CHUNK = original
    np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-15)
    # float32 input is computed in float32, as MLPClassifier does: equal to float32 precision.
    np.testing.assert_allclose(chunked32, clf.predict_proba(X.astype(np.float32).astype(float)),
                               rtol=1e-4, atol=1e-6)


def test_float32_input_that_overflows_float32_falls_back_to_float64():
    reg = FoldGrowRegressor(solver="adam", max_iter=3, random_state=0, hidden_units=3,
                            growth_schedule="none")
    X = np.random.RandomState(0).normal(size=(50, 3))
    reg.fit(X, X.sum(axis=1))
    with torch.no_grad():
        for w in reg.network_.weights:
            w.fill_(1.0)  # every unit sums its inputs: 3 x 3e38 overflows float32
    huge = np.full((2, 3), 3e38, dtype=np.float32)
    in_float64 = reg.predict(huge.astype(np.float64))
    assert np.abs(in_float64).max() > np.finfo(np.float32).max  # so float32 must overflow
    np.testing.assert_array_equal(reg.predict(huge), in_float64)


_CLASSIFIER = []


def _fitted_classifier():
    if not _CLASSIFIER:
        X = np.random.RandomState(0).normal(size=(120, 3))
        y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int)
        _CLASSIFIER.append(FoldGrowClassifier(solver="adam", hidden_units=4, max_iter=20,
                                              growth_schedule="none", random_state=0).fit(X, y))
    return _CLASSIFIER[0]


@settings(deadline=None, max_examples=40)
@given(values=st.lists(st.floats(-2.0**100, 2.0**100, allow_subnormal=False, width=32), min_size=1,
                       max_size=20),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_relu_is_max_zero_with_gradient_one_from_zero_up(values, dtype):
    z = torch.tensor(values, dtype=dtype, requires_grad=True)
    out = relu(z)
    out.sum().backward()
    assert torch.equal(out.detach(), z.detach().clamp_min(0.0))
    assert torch.equal(z.grad, (z.detach() >= 0).to(dtype))


def test_small_steps_run_on_one_thread_even_after_torch_set_num_threads():
    # In a child process: torch.set_num_threads changes the whole process for good.
    code = textwrap.dedent(r"""
        import re
        import torch
        from threadpoolctl import threadpool_info
        from skfold._threads import thread_limits
        pools = lambda: sorted((p["filepath"], p["num_threads"]) for p in threadpool_info())
        mkl = lambda: re.search(r"mkl_get_max_threads\(\) : (\d+)",
                                torch.__config__.parallel_info())
        torch.set_num_threads(1)
        torch.set_num_threads(2)  # as a "one thread here" block that restores 2 leaves it
        before = pools()
        with thread_limits(100, [3, 4, 2]):
            inside = torch.get_num_threads()
            inside_mkl = mkl().group(1) if mkl() else "1"
        with thread_limits(10**9, [500, 500, 2]):
            large = torch.get_num_threads()
        print(inside, inside_mkl, large, torch.get_num_threads(), pools() == before)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.split() == ["1", "1", "2", "2", "True"]


def test_a_small_fit_runs_every_forward_pass_on_one_thread():
    # Outside the limit, a forward pass spin-waits for a second thread whenever a core is busy
    # (10-18 ms on breast_cancer, most of a fit); a child process, as above.
    code = textwrap.dedent(r"""
        import numpy as np
        import torch
        from skfold import FoldGrowClassifier
        from skfold.network import GrowableMLP
        torch.set_num_threads(2)
        seen = []
        forward = GrowableMLP.forward
        def recording_forward(self, X):
            seen.append(torch.get_num_threads())
            return forward(self, X)
        GrowableMLP.forward = recording_forward
        rng = np.random.RandomState(0)
        X = rng.normal(size=(200, 3))
        y = (X[:, 0] * X[:, 1] > 0).astype(int)
        for solver in ("lbfgs", "adam"):
            FoldGrowClassifier(solver=solver, max_iter=30, random_state=0).fit(X, y)
        print(len(seen) > 0, sorted(set(seen)), torch.get_num_threads())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.split() == ["True", "[1]", "2"]


@settings(deadline=None, max_examples=20)
@given(n=st.integers(1, 50), seed=st.integers(0, 1000), alpha=st.floats(0, 1),
       task=st.sampled_from(["classification", "regression"]))
def test_objective_without_weights_equals_all_ones_weights(n, seed, alpha, task):
    gen = torch.Generator().manual_seed(seed)
    network = GrowableMLP.initialize(2, [3], 2, generator=gen, dtype=torch.float64, device="cpu")
    X = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    y = (torch.randint(0, 2, (n,), generator=gen) if task == "classification"
         else torch.randn(n, 2, generator=gen, dtype=torch.float64))
    ones = torch.ones(n, dtype=torch.float64)
    task = task_named(task)
    assert objective(network, X, y, None, task, alpha).item() == pytest.approx(
        objective(network, X, y, ones, task, alpha).item(), rel=1e-12)


@settings(deadline=None, max_examples=20)
@given(scale=st.floats(1e-3, 1e4), seed=st.integers(0, 100))
def test_binary_probabilities_are_the_softmax_of_the_logits(scale, seed):
    from scipy.special import softmax
    X = np.random.RandomState(seed).normal(scale=scale, size=(40, 3))
    clf = _fitted_classifier()
    margin = clf.decision_function(X)  # logit_1 - logit_0
    expected = softmax(np.column_stack([np.zeros_like(margin), margin]), axis=1)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))


@pytest.mark.slow
def test_speed_benchmark_quick_writes_every_table(tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"
    subprocess.run([sys.executable, str(script), "--quick", "--results-dir", str(tmp_path)],
                   check=True, capture_output=True, text=True, timeout=600, cwd=script.parent)
    report = (tmp_path / "speed_quick.md").read_text()
    for part in ("1. Small data", "2. Large data", "2b. Large data", "3. Growth cost",
                 "4. predict_proba", "5. FLOP rate", "6. Threads", "MLPClassifier",
                 "| defaults (seed: a unit per class) |", "| seed width 2 (reference) |",
                 "| tol=1e-3 (reference) |", "| seed width 8 (reference) |",
                 "Where the default fits' iterations go"):
        assert part in report
    assert "nan" not in report.lower()


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 40), depth=st.integers(1, 3),
       task=st.sampled_from(["classification", "regression"]), weighted=st.booleans(),
       alpha=st.sampled_from([0.0, 1e-4, 0.7]), dtype=st.sampled_from([torch.float64,
                                                                     torch.float32]))
def test_hand_written_gradient_equals_autograd(seed, n, depth, task, weighted, alpha, dtype):
    """The training engine's back-propagation is the derivative of :func:`objective`, including
    rows exactly on a unit's hyperplane, where the ReLU's derivative is 1."""
    gen = torch.Generator().manual_seed(seed)
    n_out = 3
    network = GrowableMLP.initialize(4, [3] * depth, n_out, generator=gen, dtype=dtype,
                                     device="cpu")
    X = torch.randn(n, 4, generator=gen, dtype=dtype)
    with torch.no_grad():  # put row 0 exactly on unit 0's hyperplane: z = 0 there, exactly
        network.weights[0][0] = torch.tensor([1.0, 0.0, 0.0, 0.0])  # in any summation order
        network.biases[0][0] = -X[0, 0]
    y = (torch.randint(0, n_out, (n,), generator=gen) if task == "classification"
         else torch.randn(n, n_out, generator=gen, dtype=dtype))
    sw = torch.rand(n, generator=gen, dtype=dtype) + 0.1 if weighted else None
    loss = objective(network, X, y, sw, task_named(task), alpha)
    expected = torch.autograd.grad(loss, list(network.parameters()))
    with torch.no_grad():
        value, grads = objective_and_gradient(network, X, y, sw, task_named(task), alpha)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert value.item() == pytest.approx(loss.item(), rel=tol, abs=tol)
    assert len(grads) == len(expected)
    for g, e in zip(grads, expected):
        assert g.shape == e.shape and g.dtype == dtype
        torch.testing.assert_close(g, e, rtol=tol * 10, atol=tol * 10)

    if dtype != torch.float64:
        return
    # The NumPy back-propagation L-BFGS evaluates on CPU (rows as columns, always float64)
    # computes the same, the row on the hyperplane included.
    weights = [w.detach().double().numpy() for w in network.weights]
    biases = [b.detach().double().numpy() for b in network.biases]
    y_np = task_named(task).numpy_targets(y if task == "classification" else y.double(),
                                          network.weights[-1].shape[0])
    sw_np = None if sw is None else sw.double().numpy()
    np_value, np_grads = numpy_objective.objective_and_gradient(
        weights, biases, X.double().numpy().T.copy(), y_np, sw_np, task_named(task), alpha)
    assert np_value == pytest.approx(loss.item(), rel=tol, abs=tol)
    for g, e in zip(np_grads, expected):
        assert g.shape == tuple(e.shape)
        np.testing.assert_allclose(g, e.double().numpy(), rtol=tol * 10, atol=tol * 10)


def _stuck_then_real_minimize(calls, n_stuck=2):
    """scipy's minimize whose first ``n_stuck`` runs 'fail their line search' at the start
    point (by default both the short and the first-iteration limit: a kink)."""
    import scipy.optimize
    real = scipy.optimize.minimize

    def fake(fun, x0, *args, **kwargs):
        calls.append((np.array(x0), kwargs["options"]["maxiter"], kwargs["options"]["maxls"]))
        if len(calls) <= n_stuck:
            value, grad = fun(x0)
            return scipy.optimize.OptimizeResult(x=np.array(x0), fun=value, jac=grad, nit=0,
                                                 status=2, message="ABNORMAL", success=False)
        return real(fun, x0, *args, **kwargs)
    return fake


def _xor_lbfgs(monkeypatch, n_stuck):
    """A trainer of a small XOR network whose first ``n_stuck`` SciPy runs fail at their start
    point, and ``train(stuck_gradient)``: 50 L-BFGS iterations. Returns ``(train, network,
    calls)``, ``calls`` the runs' ``(x0, maxiter, maxls)``."""
    gen = torch.Generator().manual_seed(0)
    network = GrowableMLP.initialize(2, [4], 2, generator=gen, dtype=torch.float64,
                                     device="cpu")
    X = torch.randn(60, 2, generator=gen, dtype=torch.float64)
    y = (X[:, 0] * X[:, 1] > 0).long()
    calls = []
    monkeypatch.setattr(lbfgs.scipy.optimize, "minimize",
                        _stuck_then_real_minimize(calls, n_stuck=n_stuck))
    trainer = Trainer(network, solver="lbfgs", learning_rate=1e-2, momentum=0.0, alpha=1e-4,
                      batch_size=60, task="classification", generator=gen)

    def train(stuck_gradient):
        return trainer.lbfgs(X, y, torch.ones(60, dtype=torch.float64), max_iter=50,
                             gtol=1e-8, callback=lambda loss, weights: False,
                             stuck_gradient=stuck_gradient)
    return train, network, calls


def _lbfgs_with_stuck_runs(monkeypatch, n_stuck, stuck_gradient):
    """:func:`_xor_lbfgs`'s runs and the iterations made by one call."""
    train, _, calls = _xor_lbfgs(monkeypatch, n_stuck)
    n_iter, _ = train(stuck_gradient)
    return calls, n_iter


@pytest.mark.parametrize("stuck_gradient, kicked", [(1e-4, True), (np.inf, False)])
def test_lbfgs_stuck_on_a_kink_is_kicked_by_adam_steps_and_resumed(monkeypatch, stuck_gradient,
                                                                   kicked):
    """A run that stops on a failed line search with a large gradient is moved by a few Adam
    steps (every weight by about the learning rate) and resumed with the rest of its budget."""
    calls, n_iter = _lbfgs_with_stuck_runs(monkeypatch, n_stuck=2, stuck_gradient=stuck_gradient)
    if not kicked:
        assert len(calls) == 2 and n_iter == 0
        return
    (start, budget0, _), (retried_from, _, _), (resumed_from, budget1, _) = calls
    assert np.array_equal(retried_from, start)
    assert budget0 == 50 and budget1 == 50  # the stuck run used none of its 50 iterations
    moved = np.abs(resumed_from - start)
    # 10 Adam steps of 1e-2: each weight with a gradient moves, by at most 10 x 1e-2 (+ slack)
    assert moved.max() <= 10 * 1e-2 * 1.01 and (moved > 1e-3).mean() > 0.5
    assert 0 < n_iter <= 50


def test_lbfgs_first_step_gets_a_longer_line_search_before_any_kick(monkeypatch):
    """A run whose very first line search fails within the short limit (its step has no
    curvature to scale it) is retried from the same point with FIRST_LINE_SEARCH trials."""
    calls, n_iter = _lbfgs_with_stuck_runs(monkeypatch, n_stuck=1, stuck_gradient=1e-4)
    (start, _, short), (retried_from, budget, first) = calls[:2]
    assert short == lbfgs.LBFGS_MAX_LINE_SEARCH < first == lbfgs.FIRST_LINE_SEARCH
    assert np.array_equal(retried_from, start) and budget == 50  # no Adam kick in between
    assert 0 < n_iter <= 50


def test_lbfgs_does_not_rerun_from_where_its_line_search_just_failed(monkeypatch):
    """A run that ended on a failed line search, kick included, leaves L-BFGS nothing to do
    from that point: a second call from it (the network unchanged, as after a skipped
    growth) returns at once without a function evaluation; once the network moves, it runs."""
    train, network, calls = _xor_lbfgs(monkeypatch, n_stuck=4)
    assert train(1e-4) == (0, True)
    assert len(calls) == 4  # short and first-step limits, the Adam kick, both limits again
    evaluations = []
    real_objective = lbfgs.numpy_objective.objective_and_gradient
    monkeypatch.setattr(lbfgs.numpy_objective, "objective_and_gradient",
                        lambda *a: evaluations.append(1) or real_objective(*a))
    assert train(1e-4) == (0, True)
    assert len(calls) == 4 and not evaluations
    with torch.no_grad():
        network.weights[0][0, 0] += 0.1
    n_iter, _ = train(1e-4)
    assert len(calls) == 5 and n_iter > 0 and evaluations


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_lbfgs_cpu_objective_matches_the_torch_one_and_is_the_one_used(task, monkeypatch):
    """On CPU L-BFGS evaluates the NumPy back-propagation straight from its parameter vector;
    it gives the loss and gradient the torch path (used on a GPU) gives for the same vector."""
    gen = torch.Generator().manual_seed(3)
    network = GrowableMLP.initialize(3, [5, 4], 2, generator=gen, dtype=torch.float64,
                                     device="cpu")
    X = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    y = ((X[:, 0] > 0).long() if task == "classification"
         else torch.randn(50, 2, generator=gen, dtype=torch.float64))
    sw = torch.rand(50, generator=gen, dtype=torch.float64) + 0.5
    trainer = Trainer(network, solver="lbfgs", learning_rate=1e-3, momentum=0.0, alpha=0.3,
                      batch_size=50, task=task, generator=gen)
    params = list(network.parameters())
    loaded = []
    flat = lbfgs.FlatParameters(network)
    flat.load = loaded.append
    on_cpu = lbfgs.flat_objective(trainer, X, y, sw, flat)
    theta = np.random.default_rng(0).normal(size=sum(p.numel() for p in params))
    value, grad = on_cpu(theta)
    assert not loaded  # the CPU path reads theta itself: no copy into the network

    with torch.no_grad():
        for p, chunk in zip(params, torch.split(torch.from_numpy(theta), [p.numel()
                                                                          for p in params])):
            p.copy_(chunk.view_as(p))
        torch_value, torch_grads = objective_and_gradient(network, X, y, sw, task_named(task),
                                                          0.3)
    assert value == pytest.approx(float(torch_value), rel=1e-12)
    np.testing.assert_allclose(grad, torch.cat([g.reshape(-1) for g in torch_grads]).numpy(),
                               rtol=1e-10, atol=1e-12)

    used = []
    real = numpy_objective.objective_and_gradient
    monkeypatch.setattr(numpy_objective, "objective_and_gradient",
                        lambda *a, **k: used.append(1) or real(*a, **k))
    trainer.lbfgs(X, y, sw, max_iter=3, gtol=1e-8, callback=lambda loss, weights: False)
    assert used


def test_lbfgs_through_the_torch_path_reaches_the_numpy_paths_loss():
    """The torch evaluation (what a GPU runs; on CPU it serves float32 networks) drives L-BFGS
    to the same loss as the NumPy one."""
    losses = {}
    for dtype in (torch.float64, torch.float32):
        gen = torch.Generator().manual_seed(0)
        network = GrowableMLP.initialize(2, [6], 2, generator=gen, dtype=dtype, device="cpu")
        X = torch.randn(200, 2, generator=gen, dtype=torch.float64)
        y = (X[:, 0] * X[:, 1] > 0).long()
        trainer = Trainer(network, solver="lbfgs", learning_rate=1e-3, momentum=0.0,
                          alpha=1e-4, batch_size=200, task="classification", generator=gen)
        trainer.lbfgs(X.to(dtype), y, torch.ones(200, dtype=dtype), max_iter=30, gtol=1e-8,
                      callback=lambda loss, weights: False)
        with torch.no_grad():
            losses[dtype] = float(objective(network, X.to(dtype), y, None, CLASSIFICATION,
                                            1e-4))
    assert losses[torch.float32] == pytest.approx(losses[torch.float64], rel=0.05)
    assert losses[torch.float64] < 0.6 * np.log(2)  # it trained: well below chance


@pytest.mark.parametrize("load_each_iteration", [True, False])
def test_lbfgs_hands_each_iteration_its_own_weights(load_each_iteration):
    """The callback's ``weights()`` are that iteration's (a copy, not SciPy's iterate, which
    moves on); the network holds them each iteration only when asked, and holds the last
    iteration's when L-BFGS is stopped."""
    gen = torch.Generator().manual_seed(1)
    network = GrowableMLP.initialize(2, [5], 2, generator=gen, dtype=torch.float64,
                                     device="cpu")
    X = torch.randn(80, 2, generator=gen, dtype=torch.float64)
    y = (X[:, 0] * X[:, 1] > 0).long()
    trainer = Trainer(network, solver="lbfgs", learning_rate=1e-3, momentum=0.0, alpha=1e-4,
                      batch_size=80, task="classification", generator=gen)
    seen, held = [], []

    def callback(loss, weights):
        seen.append((loss, weights))
        held.append(network.weights[0].detach().clone())
        return len(seen) == 4

    n_iter, converged = trainer.lbfgs(X, y, torch.ones(80, dtype=torch.float64), max_iter=50,
                                      gtol=1e-8, callback=callback,
                                      load_each_iteration=load_each_iteration)
    assert n_iter == 4 and not converged
    snapshots = [weights() for _, weights in seen]
    for (loss, _), (ws, bs) in zip(seen, snapshots):
        copy = GrowableMLP([w.clone() for w in ws], [b.clone() for b in bs])
        with torch.no_grad():
            value = float(objective(copy, X, y, None, CLASSIFICATION, 1e-4))
        assert value == pytest.approx(loss, rel=1e-12)
    assert not torch.equal(snapshots[0][0][0], snapshots[-1][0][0])
    last_ws, last_bs = snapshots[-1]
    for p, v in zip(list(network.weights) + list(network.biases), last_ws + last_bs):
        assert torch.equal(p.detach(), v)
    loaded_each_time = all(torch.equal(h, ws[0]) for h, (ws, _) in zip(held, snapshots))
    assert loaded_each_time == load_each_iteration
