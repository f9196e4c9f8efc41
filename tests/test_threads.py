"""Fits in threads of one process (Dask's and Ray's thread workers) leave the process as they
found it and give what serial fits give."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_moons
from threadpoolctl import threadpool_info, threadpool_limits

from skfold import FoldGrowClassifier, FoldGrowRegressor


@pytest.fixture
def two_threads_everywhere():
    """BLAS/OpenMP pools and torch at two threads for the test, whatever the machine has."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    with threadpool_limits(limits=2):
        yield
    torch.set_num_threads(previous)


def _limits():
    return sorted((pool["filepath"], pool["num_threads"]) for pool in threadpool_info())


def _coefs(est):
    return [c.copy() for c in est.coefs_ + est.intercepts_]


def test_concurrent_fits_restore_the_thread_limits_they_found(two_threads_everywhere,
                                                              monkeypatch):
    """The first fit enters the one-thread limit, the second enters while it holds it, the
    first leaves, then the second: the process ends with the threads it started with."""
    import skfold.fit_loop as fit_loop

    X, y = make_moons(200, noise=0.2, random_state=0)
    before, torch_before = _limits(), torch.get_num_threads()
    first_inside, first_done = threading.Event(), threading.Event()
    train_loop = fit_loop.train_loop

    def ordered_train_loop(call, budget):
        if call.est.random_state == 0:  # the first fit
            first_inside.set()
        else:
            assert first_done.wait(timeout=60)  # the second trains once the first is done
        return train_loop(call, budget)

    monkeypatch.setattr(fit_loop, "train_loop", ordered_train_loop)

    def first():
        found = _limits()  # OpenMP's limits are per thread: seen from the worker itself
        FoldGrowClassifier(max_iter=20, random_state=0).fit(X, y)
        first_done.set()
        return found, _limits()

    def second():
        found = _limits()
        assert first_inside.wait(timeout=60)
        FoldGrowClassifier(max_iter=20, random_state=1).fit(X, y)
        return found, _limits()

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(first), pool.submit(second)]
        for future in futures:
            found, left = future.result()
            assert left == found
    assert _limits() == before
    assert torch.get_num_threads() == torch_before


@pytest.mark.parametrize("Estimator, solver", [(FoldGrowClassifier, "lbfgs"),
                                               (FoldGrowClassifier, "adam"),
                                               (FoldGrowRegressor, "sgd")])
def test_same_seed_clones_fitted_concurrently_equal_serial_fits(Estimator, solver):
    X, y = make_moons(200, noise=0.2, random_state=0)
    target = y if Estimator is FoldGrowClassifier else X[:, 0] * y
    models = [Estimator(solver=solver, max_iter=60, max_hidden_units=6, random_state=seed,
                        learning_rate_init=0.01) for seed in (0, 0, 1, 1)]
    serial = [_coefs(clone(m).fit(X, target)) for m in models]
    barrier = threading.Barrier(len(models))

    def fit(model):
        barrier.wait()
        return _coefs(model.fit(X, target))

    with ThreadPoolExecutor(max_workers=len(models)) as pool:
        concurrent = list(pool.map(fit, models))
    for got, expected in zip(concurrent, serial):
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))


@pytest.mark.parametrize("Estimator", [FoldGrowClassifier, FoldGrowRegressor])
def test_the_linear_seed_of_a_small_fit_runs_on_one_thread(two_threads_everywhere, monkeypatch,
                                                           Estimator):
    """The linear part of a small fit (its many tiny L-BFGS steps) runs on one thread, as the
    network's training does: a multi-threaded BLAS spin-waits through tiny steps when a core
    is busy. The threads are restored after the fit."""
    import skfold.linear_seed as linear_seed

    X, y = make_moons(300, noise=0.2, random_state=0)
    target = y if Estimator is FoldGrowClassifier else X[:, 0] * X[:, 1]
    seen = []
    fit_linear = linear_seed.fit_linear

    def watched(*args, **kwargs):
        seen.append(({(pool["filepath"], pool["num_threads"]) for pool in threadpool_info()},
                     torch.get_num_threads()))
        return fit_linear(*args, **kwargs)

    monkeypatch.setattr(linear_seed, "fit_linear", watched)
    before = _limits()
    est = Estimator(max_iter=20, random_state=0).fit(X, target)
    assert est.linear_coef_ is not None and seen
    assert all({n for _, n in pools} == {1} and torch_threads == 1
               for pools, torch_threads in seen), seen
    assert _limits() == before
