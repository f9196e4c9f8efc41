"""Failures of training handled: divergence, interruption, growth that cannot be done, threads,
and reproducibility across processes."""

import os
import subprocess
import sys
import textwrap
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.optimize
import torch
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning

import skfold.folding.broaden as broaden_module
import skfold.folding.fold_point as fold_point_module
import skfold.growth as growth_module
import skfold.lbfgs as lbfgs
from skfold import FoldGrowClassifier, FoldGrowRegressor
from skfold.divergence import MAX_DIVERGENCES
from skfold.objective import objective
from skfold.tasks import CLASSIFICATION
from skfold.training import Trainer


@pytest.fixture(scope="module")
def moons():
    return make_moons(n_samples=300, noise=0.1, random_state=0)


def weights_of(est):
    return [w.detach().clone() for w in est.network_.weights] + [
        b.detach().clone() for b in est.network_.biases]


def same_weights(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def assert_finite_model(est, X):
    assert all(np.isfinite(c).all() for c in est.coefs_)
    assert all(np.isfinite(c).all() for c in est.intercepts_)
    out = est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)
    assert np.isfinite(out).all()


def divergence_warnings(record):
    return [w for w in record if issubclass(w.category, ConvergenceWarning)
            and "diverged" in str(w.message)]


class EpochHook:
    """Wraps ``Trainer.epoch``: records the weights after each epoch and can misbehave."""

    def __init__(self, monkeypatch, on_call=None):
        self.calls = 0
        self.after = []  # weights after each completed epoch
        self.before = []  # weights at the start of each epoch
        self.on_call = on_call
        original = Trainer.epoch

        def epoch(trainer, X, y, sw):
            self.calls += 1
            self.before.append([p.detach().clone() for p in trainer.network.weights]
                               + [p.detach().clone() for p in trainer.network.biases])
            if self.on_call is not None:
                result = self.on_call(self.calls, trainer)
                if result is not None:
                    return result
            loss = original(trainer, X, y, sw)
            self.after.append([p.detach().clone() for p in trainer.network.weights]
                              + [p.detach().clone() for p in trainer.network.biases])
            return loss

        monkeypatch.setattr(Trainer, "epoch", epoch)


def poison(trainer):
    """What a diverged step leaves behind: NaN weights and a NaN loss."""
    with torch.no_grad():
        for p in trainer.network.parameters():
            p.fill_(float("nan"))
    return float("nan")


# --------------------------------------------------------------------------- divergence
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_learning_rate_100_rolls_back_lowers_the_step_and_still_learns(moons, solver):
    """Adam/SGD at learning_rate_init=100 blow the loss up (to NaN for the regressor, by
    4000-fold for the classifier, whose units then all die): roll back, warn, recover."""
    X, y = moons
    target = X[:, 0] + X[:, 1] ** 2
    for est, yy, floor in [(FoldGrowClassifier(solver=solver, learning_rate_init=100,
                                               max_iter=60, random_state=0), y, 0.7),
                           (FoldGrowRegressor(solver=solver, learning_rate_init=100,
                                              max_iter=60, random_state=0), target, 0.3)]:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            est.fit(X, yy)
        [warning] = divergence_warnings(record)  # one per fit, however many divergences
        assert "lowered the learning rate tenfold" in str(warning.message)
        assert est._state.trainer.learning_rate < 100
        assert_finite_model(est, X)
        assert np.isfinite(est.loss_curve_).all()
        assert est.score(X, yy) > floor  # a model chance-level before roll-back existed


def test_divergence_rolls_back_to_the_best_weights_and_training_goes_on(moons, monkeypatch):
    X, y = moons
    hook = EpochHook(monkeypatch, lambda call, trainer: poison(trainer) if call == 4 else None)
    clf = FoldGrowClassifier(solver="adam", growth_schedule="none", max_iter=8, linear_seed=False,
                             learning_rate_init=0.01, random_state=0, n_iter_no_change=100)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf.fit(X, y)
    [warning] = divergence_warnings(record)
    assert "lowered the learning rate tenfold" in str(warning.message)
    assert clf._state.trainer.learning_rate == pytest.approx(0.001)
    # epochs 1-3 trained, 4 diverged, 5-8 trained on from the best of epochs 1-3
    assert hook.calls == 8 and len(clf.loss_curve_) == 7
    best = int(np.argmin(clf.loss_curve_[:3]))
    assert same_weights(hook.before[4], hook.after[best])
    assert_finite_model(clf, X)


def explode(trainer):
    """A mini-batch epoch whose loss, measured while its weights moved, looks the best so
    far, and whose last steps blew the weights up: the epoch's snapshot is exploded."""
    with torch.no_grad():
        for p in trainer.network.parameters():
            p.fill_(1e3)
    return 1e-6


def test_an_exploded_best_epoch_is_forgotten_not_returned_at_the_end(moons, monkeypatch):
    # the best epoch's weights diverged: the roll-back went to the start, but the end of the
    # fit used to return to that best epoch all the same (predictions in the thousands)
    X, y = moons
    EpochHook(monkeypatch, lambda call, trainer: explode(trainer) if call == 3 else None)
    reg = FoldGrowRegressor(solver="sgd", growth_schedule="none", early_stopping=False,
                            max_iter=12, n_iter_no_change=100, random_state=0)
    target = np.sin(3 * X[:, 0]) + X[:, 1] ** 2  # no linear fit: epoch losses far above 1e-6
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, target)
    assert_finite_model(reg, X)
    assert np.abs(reg.predict(X)).max() < 10 * np.abs(target).max()


def test_divergence_in_the_first_epoch_rolls_back_to_the_initial_network(moons, monkeypatch):
    X, y = moons
    hook = EpochHook(monkeypatch, lambda call, trainer: poison(trainer) if call == 1 else None)
    reg = FoldGrowRegressor(solver="sgd", growth_schedule="none", max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, X[:, 0])
    assert same_weights(hook.before[1], hook.before[0])
    assert_finite_model(reg, X)


def test_repeated_divergence_stops_training_with_finite_weights(moons, monkeypatch):
    X, y = moons
    EpochHook(monkeypatch, lambda call, trainer: poison(trainer) if call > 2 else None)
    clf = FoldGrowClassifier(solver="adam", max_iter=50, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf.fit(X, y)
    [message] = [str(w.message) for w in divergence_warnings(record)]  # merged: one per fit
    assert clf._state.n_divergences == MAX_DIVERGENCES
    assert "stopped training" in message
    assert "maximum iterations" not in message and "max_iter" not in message
    assert clf.n_iter_ == 2
    assert_finite_model(clf, X)


def test_partial_fit_keeps_training_after_a_divergence(moons, monkeypatch):
    X, y = moons
    EpochHook(monkeypatch, lambda call, trainer: poison(trainer) if call == 2 else None)
    reg = FoldGrowRegressor(solver="adam", random_state=0)
    reg.partial_fit(X, X[:, 0])
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.partial_fit(X, X[:, 0])
    for _ in range(3):
        reg.partial_fit(X, X[:, 0])
    assert reg.n_iter_ == 4  # the diverged call trained no epoch, the others did
    assert_finite_model(reg, X)


def wrap_lbfgs_objectives(monkeypatch, wrapper):
    """Wrap both back-propagations L-BFGS may evaluate (NumPy on CPU, torch on a GPU)."""
    monkeypatch.setattr(lbfgs, "objective_and_gradient", wrapper(lbfgs.objective_and_gradient))
    monkeypatch.setattr(lbfgs.numpy_objective, "objective_and_gradient",
                        wrapper(lbfgs.numpy_objective.objective_and_gradient))


@pytest.mark.parametrize("every", [3, 1])
def test_lbfgs_meeting_a_non_finite_loss_rolls_back_and_warns(moons, monkeypatch, every):
    """L-BFGS-B ends its run at a non-finite trial point; that must not count as converged."""
    X, y = moons
    calls = []

    def flaky(original):
        def evaluate(*args, **kwargs):
            calls.append(1)
            value, grads = original(*args, **kwargs)
            return (value * float("nan") if len(calls) % every == 0 else value), grads
        return evaluate

    wrap_lbfgs_objectives(monkeypatch, flaky)
    clf = FoldGrowClassifier(solver="lbfgs", max_iter=60, linear_seed=False, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf.fit(X, y)
    [message] = [str(w.message) for w in divergence_warnings(record)]  # one per fit
    if every == 1:  # not one finite evaluation: stop at once, keep the initial network
        assert clf.n_iter_ == 0 and "stopped training" in message
        assert "did not train" not in message  # the divergence says why, once
    else:
        stopped = clf._state.n_divergences == MAX_DIVERGENCES
        assert ("stopped training" if stopped else "restarted L-BFGS") in message
    assert_finite_model(clf, X)


# --------------------------------------------------------------------------- interruption
def test_keyboard_interrupt_keeps_the_best_weights_and_a_usable_estimator(moons, monkeypatch):
    X, y = moons

    def interrupt(call, trainer):
        if call == 7:
            raise KeyboardInterrupt

    hook = EpochHook(monkeypatch, interrupt)
    clf = FoldGrowClassifier(solver="adam", growth_schedule="fixed", grow_every=3,
                             learning_rate_init=0.05, max_iter=100, random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    assert clf.n_iter_ == 6
    best = int(np.argmin(clf.loss_curve_))
    assert same_weights(weights_of(clf), hook.after[best])
    assert_finite_model(clf, X)
    assert clf.score(X, y) > 0.6
    # usable: it trains on (warm) and refits (cold)
    hook.on_call = None
    before = weights_of(clf)
    clf.partial_fit(X, y)
    assert not same_weights(weights_of(clf), before)
    assert clf.set_params(max_iter=20).fit(X, y).n_iter_ == 20


def test_keyboard_interrupt_during_growth_leaves_a_consistent_network(moons, monkeypatch):
    X, y = moons

    def interrupted_growth(network, layer, *args, **kwargs):
        network.widen(layer, torch.ones(1, network.weights[layer].shape[1]), torch.zeros(1))
        raise KeyboardInterrupt  # after widening, before the optimizer learnt of it

    monkeypatch.setattr(growth_module, "broaden_layer", interrupted_growth)
    clf = FoldGrowClassifier(solver="adam", growth_schedule="fixed", grow_every=4,
                             max_iter=50, random_state=0, learning_rate_init=0.01)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    assert clf.hidden_layer_sizes_ == (2,) and clf.n_iter_ == 4
    monkeypatch.undo()
    before = weights_of(clf)
    clf.partial_fit(X, y)  # the optimizer drives the network the estimator holds
    assert not same_weights(weights_of(clf), before)
    assert_finite_model(clf, X)


def test_keyboard_interrupt_inside_lbfgs_restores_the_best_iterate(moons, monkeypatch):
    X, y = moons
    calls = []

    def interrupted(original):
        def evaluate(*args, **kwargs):
            calls.append(1)
            if len(calls) == 25:
                raise KeyboardInterrupt
            return original(*args, **kwargs)
        return evaluate

    wrap_lbfgs_objectives(monkeypatch, interrupted)
    clf = FoldGrowClassifier(solver="lbfgs", growth_schedule="none", max_iter=200, early_stopping=False,
                             random_state=0, alpha=0.0)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    monkeypatch.undo()
    assert 0 < clf.n_iter_ < 25
    with torch.no_grad():
        loss = objective(clf.network_, torch.as_tensor(X), torch.as_tensor(y),
                         torch.ones(len(y), dtype=torch.float64), CLASSIFICATION, 0.0)
    assert float(loss) == pytest.approx(min(clf.loss_curve_), rel=1e-9)


# --------------------------------------------------------------------------- growth failing
def test_growth_with_nothing_mispredicted_is_skipped_and_recorded():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]] * 5)
    y = (X[:, 0] > 0).astype(int)
    clf = FoldGrowClassifier(growth_schedule="none", random_state=0, max_iter=300).fit(X, y)
    assert clf.score(X, y) == 1.0
    proba = clf.predict_proba(X)
    clf.set_params(margin_fraction=0.0)  # the slides' rule ("auto" folds on margins in grow)
    with pytest.warns(UserWarning, match="grow added no unit: no mis-predicted"):
        clf.grow(X, y)
    assert clf.hidden_layer_sizes_ == (2,)
    assert "no mis-predicted" in clf.growth_history_[-1]["skipped"]
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    # inside fit, the plateau schedule meets it once; growth then stops for the rest of the fit
    fitted = FoldGrowClassifier(random_state=0, max_iter=300, warm_start=True).fit(X, y)
    assert fitted.score(X, y) == 1.0
    assert len(fitted.growth_history_) == 1
    assert "no mis-predicted" in fitted.growth_history_[0]["skipped"]
    # ...but only for that call: a later fit on data it gets wrong grows again (three
    # boundaries on a line: more than the seed's two units can fit)
    rng = np.random.RandomState(0)
    X_bands = rng.uniform(-2, 2, size=(200, 1))
    y_bands = (np.floor(X_bands[:, 0]) % 2).astype(int)
    fitted.fit(X_bands, y_bands)
    assert any(e["unit"] is not None for e in fitted.growth_history_[1:])


def test_warm_start_fit_on_new_data_trains_on_it_not_on_the_old_best_loss():
    """A warm-started fit measures progress on its own data: a best loss kept from the
    earlier fit (almost 0 there) made every epoch look worse, and the fit ended by
    restoring the earlier network (0.43 training accuracy here)."""
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]] * 5)
    y = (X[:, 0] > 0).astype(int)
    clf = FoldGrowClassifier(random_state=0, max_iter=300, warm_start=True).fit(X, y)
    rng = np.random.RandomState(0)
    X_new = rng.uniform(-2, 2, size=(200, 1))
    y_new = (np.abs(X_new[:, 0]) > 1).astype(int)
    clf.fit(X_new, y_new)
    assert clf.score(X_new, y_new) >= 0.95


def test_growth_on_a_dead_network_falls_back_and_preserves_the_function(moons):
    X, y = moons
    clf = FoldGrowClassifier(growth_schedule="none", hidden_units=3, max_hidden_units=8,
                             linear_seed=False,
                             solver="adam", max_iter=5, random_state=0).fit(X, y)
    with torch.no_grad():  # every hidden unit dead: a flat segment, no fold boundary
        clf.network_.weights[0].zero_()
        clf.network_.biases[0].fill_(-1.0)
    proba = clf.predict_proba(X)
    clf.grow(X, y, n_units=2)
    assert clf.hidden_layer_sizes_ == (5,)
    events = clf.growth_history_[-2:]
    assert all(e["fallback"] in ("flat_segment", "instance_on_boundary") for e in events)
    np.testing.assert_allclose(clf.predict_proba(X), proba, atol=1e-12)
    clf.partial_fit(X, y)
    assert_finite_model(clf, X)


def raise_solver_error(*args, **kwargs):
    raise ValueError("simulated solver breakdown")


def unsolved_minimize(fun, x0, *args, **kwargs):
    return scipy.optimize.OptimizeResult(x=np.full_like(x0, np.nan), success=False,
                                         status=9, message="simulated failure")


@pytest.mark.parametrize("broken", ["minimize", "linprog"])
def test_qp_solver_raising_skips_the_growth_records_it_and_training_continues(moons,
                                                                             monkeypatch,
                                                                             broken):
    X, y = moons
    # the solvers must run
    monkeypatch.setattr(fold_point_module, "_in_region", lambda *args: False)
    if broken == "linprog":  # the LP runs once the QP alone has not been solved
        monkeypatch.setattr(scipy.optimize, "minimize", unsolved_minimize)
    monkeypatch.setattr(scipy.optimize, broken, raise_solver_error)
    clf = FoldGrowClassifier(solver="adam", growth_schedule="fixed", grow_every=3,
                             max_iter=12, random_state=0, learning_rate_init=0.01)
    with pytest.warns(RuntimeWarning, match="growth failed.*simulated solver breakdown"):
        clf.fit(X, y)
    assert clf.n_iter_ == 12
    assert clf.hidden_layer_sizes_ == (2,)
    skipped = [e["skipped"] for e in clf.growth_history_]
    assert len(skipped) == 3 and all("simulated solver breakdown" in s for s in skipped)
    assert_finite_model(clf, X)


def test_qp_solver_returning_garbage_falls_back_and_the_growth_preserves_the_function(
        moons, monkeypatch):
    X, y = moons
    clf = FoldGrowClassifier(growth_schedule="none", solver="adam", max_iter=20,
                             max_hidden_units=6, random_state=0).fit(X, y)

    monkeypatch.setattr(scipy.optimize, "minimize", unsolved_minimize)
    # the solvers must run
    monkeypatch.setattr(fold_point_module, "_in_region", lambda *args: False)
    proba = clf.predict_proba(X)
    clf.grow(X, y, n_units=2)
    assert clf.hidden_layer_sizes_ == (4,)
    fallbacks = {e["fallback"] for e in clf.growth_history_}
    assert fallbacks <= {"qp_inexact", "qp_failed"} and fallbacks
    np.testing.assert_allclose(clf.predict_proba(X), proba, atol=1e-12)
    assert_finite_model(clf, X)


def test_growth_producing_non_finite_weights_is_undone(moons, monkeypatch):
    X, y = moons
    clf = FoldGrowClassifier(growth_schedule="none", solver="adam", max_iter=20,
                             max_hidden_units=6, random_state=0).fit(X, y)
    monkeypatch.setattr(broaden_module, "fold_incoming",
                        lambda h_t, h_f, **kw: (np.full(len(h_t), np.nan), 0.0))
    proba = clf.predict_proba(X)
    with pytest.warns(RuntimeWarning, match="non-finite"):
        clf.grow(X, y)
    assert clf.hidden_layer_sizes_ == (2,)
    assert "non-finite" in clf.growth_history_[-1]["skipped"]
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


# --------------------------------------------------------------------------- concurrency
@pytest.mark.parametrize("Estimator", [FoldGrowClassifier, FoldGrowRegressor])
def test_predict_from_8_threads_matches_serial_and_mutates_nothing(moons, Estimator):
    X, y = moons
    est = Estimator(max_hidden_units=8, random_state=0, max_iter=200).fit(X, y)
    methods = (["predict", "predict_proba", "decision_function"]
               if Estimator is FoldGrowClassifier else ["predict"])
    serial = {m: getattr(est, m)(X) for m in methods}
    state = dict(vars(est))
    params, weights = est.get_params(), weights_of(est)
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        return [(m, getattr(est, m)(X)) for _ in range(5) for m in methods[i % len(methods):]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    for result in results:
        for method, out in result:
            np.testing.assert_array_equal(out, serial[method])
    assert est.get_params() == params
    assert same_weights(weights_of(est), weights)
    assert vars(est).keys() == state.keys()
    for key, value in state.items():
        assert vars(est)[key] is value


# --------------------------------------------------------------------------- determinism
FIT_SCRIPT = textwrap.dedent("""
    import hashlib, sys, warnings
    import numpy as np
    from sklearn.datasets import make_moons
    from skfold import FoldGrowClassifier, FoldGrowRegressor
    warnings.simplefilter("ignore")
    X, y = make_moons(n_samples=200, noise=0.2, random_state=1)
    digest = hashlib.sha256()
    for est, target in [
            (FoldGrowClassifier(solver="adam", max_hidden_units=6, growth_schedule="fixed",
                                grow_every=5, max_iter=30, random_state=7), y),
            (FoldGrowClassifier(solver="lbfgs", max_hidden_units=5, max_iter=150,
                                random_state=7), y),
            (FoldGrowRegressor(solver="sgd", max_hidden_units=4, growth_schedule="fixed",
                               grow_every=4, max_iter=16, random_state=7), X[:, 0] * y)]:
        est.fit(X, target)
        for c in est.coefs_ + est.intercepts_:
            digest.update(np.ascontiguousarray(c).tobytes())
        digest.update(repr([e.get("instance_index") for e in est.growth_history_]).encode())
        print(est.hidden_layer_sizes_, len(est.growth_history_), file=sys.stderr)
    print(digest.hexdigest())
""")


def test_two_fresh_processes_fit_bit_identical_coefs():
    """Same random_state in two new interpreters (different hash seeds) -> same bytes."""
    procs = [subprocess.Popen([sys.executable, "-c", FIT_SCRIPT], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
             for seed in ("1", "2")]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outputs.append(out.strip())
    assert len(outputs[0]) == 64
    assert outputs[0] == outputs[1]
