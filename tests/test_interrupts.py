"""Ctrl-C at any line of a fit: the estimator is the previous model unchanged, or the best
network of this fit with a warning; never a half-built one.

The interruption is injected with ``sys.settrace`` at the n-th line skfold executes, for n
spread over the whole call (validation, set-up, training, growth, the hand-over at the end).
Lines that open a ``with`` block are left out: a trace can raise there after ``__enter__``
returned and before the block is protected, which a real Ctrl-C cannot (Python handles
signals on entering a function and on a loop's jump back, not between the two).
"""

import linecache
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_moons
from sklearn.exceptions import NotFittedError
from threadpoolctl import ThreadpoolController, threadpool_info

from skfold import FoldGrowClassifier, _threads


def _skfold_frame(frame):
    return "/skfold/" in frame.f_code.co_filename.replace("\\", "/")


def _opens_with_block(frame):
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return line.startswith("with ")


def _run_traced(call, interrupt_at=None):
    """Run ``call()``; count the lines skfold executes, raising KeyboardInterrupt at line
    ``interrupt_at``. Returns ``(lines counted, (function, line) interrupted or None, whether
    the interruption reached the caller)``."""
    count, where = [0], [None]

    def local(frame, event, arg):
        if event == "line" and not _opens_with_block(frame):
            count[0] += 1
            if count[0] == interrupt_at:
                where[0] = (frame.f_code.co_name,
                            linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip())
                raise KeyboardInterrupt
        return local

    def tracer(frame, event, arg):
        return local if _skfold_frame(frame) else None

    sys.settrace(tracer)
    try:
        call()
    except KeyboardInterrupt:
        return count[0], where[0], True
    finally:
        sys.settrace(None)
    return count[0], where[0], False


def _restoring_thread_limits(where):
    """Whether the interruption hit the lines that restore the thread limits (nothing can
    guard those)."""
    return where is not None and (where[0] in ("_restore", "_release_shared")
                                  or where[1].startswith("_restore("))


def _undo_what_restoring_left(threads):
    """Put the process's thread limits back to ``threads`` after an interruption of the
    restoring lines, so that the tests after this one start as the process started."""
    _threads._holders = 0
    if _threads._shared_limiter is not None:
        _threads._shared_limiter.restore_original_limits()
        _threads._shared_limiter = None
    controller = ThreadpoolController()
    for filepath, n_threads in threads[0]:
        controller.select(filepath=filepath).limit(limits=n_threads)
    torch.set_num_threads(threads[1])


def _thread_limits():
    return sorted((pool["filepath"], pool["num_threads"]) for pool in threadpool_info())


def _data(n_features=2, seed=0):
    X, y = make_moons(80, noise=0.2, random_state=seed)
    if n_features > 2:
        X = np.hstack([X, np.random.RandomState(seed).normal(size=(80, n_features - 2))])
    return X, y


def _assert_consistent(est, X, y):
    """A usable model: outputs finite, shapes and records agree, and it trains on."""
    proba = est.predict_proba(X)
    assert np.isfinite(proba).all()
    sizes = est.hidden_layer_sizes_
    assert [c.shape[1] for c in est.coefs_[:-1]] == list(sizes)
    for event in est.growth_history_:
        if event.get("unit") is not None:
            expected = event["layer"] < len(sizes) and event["unit"] < sizes[event["layer"]]
            assert event["in_final_model"] == expected
    est.set_params(warm_start=True, max_iter=3).fit(X, y)
    assert np.isfinite(est.predict_proba(X)).all()


SCENARIOS = {
    # fit of a new estimator
    "fresh fit": lambda: (FoldGrowClassifier(solver="adam", max_iter=12, grow_every=4,
                                             growth_schedule="fixed", max_hidden_units=4,
                                             learning_rate_init=0.02, random_state=0),
                          None),
    # refit of a fitted model on other data (3 features): an interrupted refit keeps the old one
    "refit": lambda: (FoldGrowClassifier(solver="lbfgs", max_iter=15, max_hidden_units=4,
                                         random_state=0), _data(2)),
    "warm start": lambda: (FoldGrowClassifier(solver="adam", max_iter=10, warm_start=True,
                                              growth_schedule="fixed", grow_every=3,
                                              max_hidden_units=5, learning_rate_init=0.02,
                                              random_state=0), _data(2)),
    "partial_fit": lambda: (FoldGrowClassifier(solver="adam", max_iter=10, random_state=0),
                            _data(2)),
}


def _prepare(name):
    est, prefit = SCENARIOS[name]()
    X, y = _data(3 if name == "refit" else 2, seed=1)
    if prefit is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name == "partial_fit":
                for _ in range(3):
                    est.partial_fit(*prefit, classes=[0, 1])
            else:
                est.fit(*prefit)
    if name == "partial_fit":
        return est, lambda: est.partial_fit(X, y), X, y
    return est, lambda: est.fit(X, y), X, y


def _lines_of(name):
    _, call, _, _ = _prepare(name)
    return _run_traced(call)[0]  # an uninterrupted call: how many lines it takes


def _check_interruption(name, at):
    est, call, X, y = _prepare(name)
    before = dict(vars(est))
    X_old = _data(2, seed=1)[0]
    expected = est.predict_proba(X_old) if "_state" in before else None
    threads = (_thread_limits(), torch.get_num_threads())
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _, where, raised = _run_traced(call, interrupt_at=at)
    assert torch.is_grad_enabled()  # the process is left as it was found
    # the fit may catch an interruption of the restoring lines too: they are exempt either way
    if not _restoring_thread_limits(where):
        assert (_thread_limits(), torch.get_num_threads()) == threads
    else:
        _undo_what_restoring_left(threads)
    if raised:  # nothing of this call was kept
        assert not any("interrupted" in str(w.message) for w in record)
        assert vars(est).keys() == before.keys()
        assert all(vars(est)[k] is v for k, v in before.items())
        if expected is not None:
            np.testing.assert_array_equal(est.predict_proba(X_old), expected)
        else:
            with pytest.raises(NotFittedError):
                est.predict(X)
    else:  # ended normally, or with the best network of the call and a warning
        _assert_consistent(est, X, y)


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize("fraction", [0.0005, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97, 0.995])
def test_an_interruption_anywhere_leaves_the_previous_model_or_the_best_one_with_a_warning(
        name, fraction):
    _check_interruption(name, max(1, int(fraction * _lines_of(name))))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_an_interruption_at_any_of_200_lines_of_a_call(name):
    total = _lines_of(name)
    for at in np.unique(np.linspace(1, total, 200).astype(int)):
        _check_interruption(name, int(at))


def test_an_interruption_before_any_epoch_propagates_and_keeps_the_estimator_unfitted():
    est = FoldGrowClassifier(solver="adam", random_state=0)
    X, y = _data()
    _, _, raised = _run_traced(lambda: est.fit(X, y), interrupt_at=50)
    assert raised
    assert not hasattr(est, "n_features_in_") and not hasattr(est, "classes_")
    with pytest.raises(NotFittedError):
        est.predict(X)
    est.fit(X, y)  # and a later fit works
    assert est.score(X, y) > 0.7
