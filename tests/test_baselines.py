"""Baselines that do what their names say: a fixed schedule is fixed, GradMax adds the
directions its gradient has, and every init grows and stops under one rule."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs, make_moons

import skfold.folding.fold_point as fold_point_module
from skfold import FoldGrowClassifier, FoldGrowRegressor, folding
from skfold.schedule import CANNOT_PAY, NOTHING_MISPREDICTED

X, Y = make_moons(500, noise=0.2, random_state=0)


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def _growth_epochs(est):
    return sorted({e["epoch"] for e in est.growth_history_ if e["unit"] is not None})


# --------------------------------------------------------------------------- "fixed"
def test_a_fixed_schedule_grows_every_grow_every_epochs_until_max_hidden_units():
    """No plateau, patience or gain test ends a phase or stops growth under "fixed"."""
    est = _fit(FoldGrowClassifier(growth_schedule="fixed", grow_every=50, solver="adam",
                                  max_hidden_units=12, learning_rate_init=0.01,
                                  min_growth_gain=1e9, growth_patience=1, random_state=0),
               X, Y)
    assert est.hidden_layer_sizes_ == (12,)
    assert _growth_epochs(est) == [50 * k for k in range(1, 11)]


def test_a_fixed_lbfgs_schedule_grows_at_most_every_grow_every_iterations_to_the_end():
    """L-BFGS iterations count as epochs; a phase ends sooner only when L-BFGS itself stops
    (it can train no further), never at a plateau: growth goes on to max_hidden_units."""
    est = _fit(FoldGrowClassifier(growth_schedule="fixed", grow_every=50, max_hidden_units=12,
                                  random_state=0), X, Y)
    assert est.hidden_layer_sizes_ == (12,)
    grown = [e["epoch"] for e in est.growth_history_ if e["unit"] is not None]
    # L-BFGS may stop at once after a growth, and the next growth then comes at that epoch
    assert len(grown) == 10 and np.all(np.diff([0] + grown) <= 50)


def test_a_fixed_schedule_skips_a_growth_with_nothing_mispredicted_and_tries_again():
    Xs, ys = make_blobs(120, centers=2, cluster_std=0.3, random_state=0)
    est = _fit(FoldGrowClassifier(growth_schedule="fixed", grow_every=5, hidden_units=2,
                                  max_iter=40, solver="adam", learning_rate_init=0.05,
                                  margin_fraction=0.0, random_state=0), Xs, ys)
    skipped = [e for e in est.growth_history_ if e["skipped"] == NOTHING_MISPREDICTED]
    assert len(skipped) >= 2 and len({e["epoch"] for e in skipped}) == len(skipped)
    assert est.n_iter_ == 40  # and training went on as scheduled


def test_a_fixed_schedule_never_deepens():
    est = _fit(FoldGrowClassifier(growth_schedule="fixed", grow_every=10, max_depth=3,
                                  growth_patience=1, max_hidden_units=6, random_state=0), X, Y)
    assert len(est.hidden_layer_sizes_) == 1


# --------------------------------------------------------------------------- GradMax
def test_gradmax_adds_only_as_many_units_as_the_gradient_has_directions():
    """A binary softmax's back-propagated gradient has rank 1: one unit, not three copies."""
    est = _fit(FoldGrowClassifier(init="gradmax", growth_schedule="none", hidden_units=2,
                                  max_iter=50, random_state=0), X, Y)
    est.set_params(max_hidden_units=10).grow(X, Y, n_units=3)
    added = [e for e in est.growth_history_ if e["unit"] is not None]
    assert len(added) == 1 and est.hidden_layer_sizes_ == (3,)
    assert folding.GRADMAX_RANK in est.growth_history_[-1]["skipped"]


def test_gradmax_units_of_one_growth_are_orthogonal_directions():
    X3, y3 = make_blobs(300, centers=4, cluster_std=3.0, random_state=0)
    est = _fit(FoldGrowClassifier(init="gradmax", growth_schedule="none", hidden_units=2,
                                  max_iter=30, random_state=0), X3, y3)
    est.set_params(max_hidden_units=10).grow(X3, y3, n_units=3)
    outgoing = est.coefs_[1][2:5]  # the new units' outgoing weights, one row each
    gram = outgoing @ outgoing.T
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0, atol=1e-8 * gram.max())


# --------------------------------------------------------------------------- one rule
@pytest.mark.parametrize("init", folding.INITS)
def test_every_init_stops_under_the_same_rule(init):
    """The typical instance decides when a growth may pay for every init: a gain no growth
    can bring skips the growth as one that cannot pay, whatever sets the new weights."""
    est = _fit(FoldGrowClassifier(init=init, min_growth_gain=1e9, hidden_units=2,
                                  random_state=0), X, Y)
    assert [e["skipped"] for e in est.growth_history_] == [CANNOT_PAY]


@pytest.mark.parametrize("init", folding.INITS)
def test_every_init_records_the_instance_its_growth_was_decided_on(init):
    est = _fit(FoldGrowClassifier(init=init, hidden_units=2, max_hidden_units=4, early_stopping=False,
                                  random_state=0), X, Y)
    grown = [e for e in est.growth_history_ if e["unit"] is not None]
    assert grown
    for event in grown:
        assert event["instance_index"] is not None and event["instance_loss"] > 0
        assert event["predicted"] != event["true"]
        assert (event["x_f"] is not None) == (init in ("fold", "fold_direction"))
        assert "to fix instance" in est.explain_unit(event["unit"])["summary"]


# --------------------------------------------------------------------------- the records
def test_loss_before_is_the_monitored_loss_just_before_the_growth():
    est = _fit(FoldGrowClassifier(solver="adam", growth_schedule="fixed", grow_every=20,
                                  max_hidden_units=5, learning_rate_init=0.01, random_state=0),
               X, Y)
    for event in est.growth_history_:
        assert event["loss_before"] == est.loss_curve_[event["epoch"] - 1]


def test_paid_is_the_schedules_decision():
    """A growth did not pay exactly when it counts towards growth_patience: growth stops
    after growth_patience growths in a row that did not pay."""
    Xn, yn = make_moons(300, noise=0.3, random_state=0)
    est = _fit(FoldGrowClassifier(random_state=0), Xn, yn)
    growths = {}
    for event in est.growth_history_:
        growths.setdefault(event["growth"], event)
    paid = [e["paid"] for e in growths.values()]
    assert all(p in (True, False) for p in paid)  # every growth settled at the end of fit
    assert paid[-est.growth_patience:] == [False] * est.growth_patience
    assert "FF" not in "".join("P" if p else "F" for p in paid[:-est.growth_patience])


def test_a_programming_error_in_the_growth_search_is_not_a_skipped_growth(monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError("a bug, not a numerical failure")

    monkeypatch.setattr(fold_point_module, "nearest_point_on", broken)
    with pytest.raises(TypeError, match="a bug"):
        _fit(FoldGrowRegressor(hidden_units=2, random_state=0), X, X[:, 0] * Y)


def test_gradmax_svd_failing_skips_the_growth_and_training_goes_on(monkeypatch):
    def fails(*args, **kwargs):
        raise torch.linalg.LinAlgError("simulated SVD failure")

    monkeypatch.setattr(torch.linalg, "svd", fails)
    with pytest.warns(RuntimeWarning, match="growth failed.*simulated SVD failure"):
        est = FoldGrowClassifier(init="gradmax", hidden_units=2, growth_schedule="fixed",
                                 grow_every=10, max_iter=30, random_state=0).fit(X, Y)
    assert est.hidden_layer_sizes_ == (2,) and est.n_iter_ == 30
