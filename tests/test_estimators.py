"""Estimator behaviour users rely on: schedules, accuracy, search, reproducibility, pickling."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_classification, make_moons, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

from skfold import FoldGrowClassifier, FoldGrowRegressor
from skfold import schedule as schedule_module
from skfold.history import events_of_last_growth
from skfold.objective import objective_and_gradient
from skfold.schedule import growth_paid
from skfold.tasks import CLASSIFICATION


@pytest.fixture(scope="module")
def moons():
    return make_moons(n_samples=500, noise=0.1, random_state=0)


@pytest.fixture(scope="module")
def sine():
    X = np.linspace(-3, 3, 300)[:, None]
    return X, np.sin(2 * X).ravel()


# --------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plateau_growth_from_two_units_fits_moons(moons, seed):
    X, y = moons
    # the slides' growth from a two-unit network (the linear seed is measured in benchmarks/)
    clf = FoldGrowClassifier(hidden_units=2, growth_schedule="plateau", linear_seed=False,
                             random_state=seed)
    clf.fit(X, y)
    assert clf.score(X, y) >= 0.97
    assert clf.hidden_layer_sizes_[0] > 2  # it had to grow to get there
    assert clf.n_growths_ >= 1


def test_plateau_growth_fits_1d_sine_regression(sine):
    X, y = sine
    reg = FoldGrowRegressor(hidden_units=2, random_state=0).fit(X, y)
    assert reg.score(X, y) >= 0.95
    assert reg.predict(X).shape == y.shape


def test_regressor_multi_output(sine):
    X, y = sine
    Y = np.column_stack([y, np.cos(X).ravel()])
    reg = FoldGrowRegressor(random_state=0, max_hidden_units=12).fit(X, Y)
    assert reg.predict(X).shape == Y.shape
    assert reg.n_outputs_ == 2
    assert reg.score(X, Y) > 0.8


def test_multilabel_targets_get_a_clear_error_and_work_through_multi_output_classifier():
    X, Y = make_multilabel_classification(n_samples=150, n_classes=3, random_state=0)
    clf = FoldGrowClassifier(random_state=0, max_hidden_units=4)
    for call in (lambda: clf.fit(X, Y), lambda: clf.partial_fit(X, Y, classes=[0, 1])):
        with pytest.raises(ValueError, match="multilabel.*MultiOutputClassifier"):
            call()
    fitted = FoldGrowClassifier(random_state=0, max_hidden_units=8).fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="multilabel"):
        fitted.grow(X, Y)
    wrapped = MultiOutputClassifier(clf).fit(X, Y)
    assert wrapped.predict(X).shape == Y.shape
    assert (wrapped.predict(X) == Y).mean() > 0.7


# --------------------------------------------------------------------------- schedules
def test_schedule_none_is_a_plain_mlp(moons):
    X, y = moons
    clf = FoldGrowClassifier(hidden_units=5, growth_schedule="none", random_state=0).fit(X, y)
    assert clf.hidden_layer_sizes_ == (5,)
    assert clf.growth_history_ == []
    assert [c.shape for c in clf.coefs_] == [(2, 5), (5, 2)]


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_fixed_schedule_grows_every_grow_every_epochs(moons, solver):
    X, y = moons
    clf = FoldGrowClassifier(growth_schedule="fixed", grow_every=7, max_hidden_units=6,
                             max_iter=60, solver=solver, random_state=0,
                             n_iter_no_change=1000).fit(X, y)
    epochs = [e["epoch"] for e in clf.growth_history_]
    assert epochs == [7 * (i + 1) for i in range(4)]
    assert clf.hidden_layer_sizes_ == (6,)


@settings(deadline=None, max_examples=12)
@given(max_units=st.integers(2, 7), per_growth=st.integers(1, 3),
       schedule=st.sampled_from(["plateau", "fixed"]), init=st.sampled_from(
           ["fold", "fold_direction", "gradmax", "random"]), depth=st.integers(1, 2))
def test_max_hidden_units_is_never_exceeded(max_units, per_growth, schedule, init, depth):
    X, y = make_moons(n_samples=120, noise=0.2, random_state=1)
    clf = FoldGrowClassifier(max_hidden_units=max_units, units_per_growth=per_growth,
                             growth_schedule=schedule, grow_every=3, init=init,
                             max_depth=depth, growth_patience=1, max_iter=80, random_state=0)
    clf.fit(X, y)
    assert sum(clf.hidden_layer_sizes_) <= max_units
    sizes = [e["hidden_layer_sizes"] for e in clf.growth_history_]
    assert all(sum(s) <= max_units for s in sizes)


def test_hidden_units_above_max_is_rejected():
    with pytest.raises(ValueError, match="max_hidden_units"):
        FoldGrowClassifier(hidden_units=8, max_hidden_units=4).fit([[0.0], [1.0]], [0, 1])


def test_partial_fit_grows_across_calls(moons):
    X, y = moons
    clf = FoldGrowClassifier(growth_schedule="fixed", grow_every=3, max_hidden_units=5,
                             growth_patience=5, random_state=0, learning_rate_init=0.01)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:100], y[:100])
    clf.partial_fit(X[:100], y[:100], classes=[0, 1])
    for i in range(1, 12):
        rows = slice((i * 100) % 500, (i * 100) % 500 + 100)
        clf.partial_fit(X[rows], y[rows])
    assert clf.n_iter_ == 12
    assert clf.hidden_layer_sizes_ == (5,)
    assert [e["epoch"] for e in clf.growth_history_] == [3, 6, 9]
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:10], np.full(10, 7))


def test_partial_fit_records_the_loss_after_each_growth_over_its_whole_phase(moons):
    """A growth's training phase spans several partial_fit calls: its loss_after is the best
    loss up to the next growth (or up to now, for the last one), not after one call."""
    X, y = moons
    clf = FoldGrowClassifier(growth_schedule="fixed", grow_every=4, max_hidden_units=5,
                             random_state=0, learning_rate_init=0.01)
    for _ in range(13):
        clf.partial_fit(X, y, classes=[0, 1])
    epochs = [e["epoch"] for e in clf.growth_history_] + [clf.n_iter_]
    assert epochs == [4, 8, 12, 13]
    curve = clf.loss_curve_  # epoch e's loss is curve[e - 1]
    for event, start, end in zip(clf.growth_history_, epochs, epochs[1:]):
        assert event["loss_after"] == pytest.approx(min(curve[start:end]), rel=1e-12)
    clf.partial_fit(X, y)  # the last phase goes on: its record follows it
    assert clf.growth_history_[-1]["loss_after"] == pytest.approx(min(clf.loss_curve_[12:]),
                                                                  rel=1e-12)


def test_in_final_model_says_which_grown_units_the_returned_network_has(moons):
    X, y = moons
    # early stopping returns the network of the best validation score, narrower than the last
    stopped = FoldGrowClassifier(early_stopping=True, random_state=1).fit(X, y)
    streamed = FoldGrowClassifier(growth_schedule="fixed", grow_every=2, max_hidden_units=5,
                                  random_state=0, learning_rate_init=0.01)
    for _ in range(7):
        streamed.partial_fit(X, y, classes=[0, 1])
    for clf in (stopped, streamed):
        width = clf.hidden_layer_sizes_[0]
        units = [e for e in clf.growth_history_ if e["unit"] is not None]
        assert units and all(e["in_final_model"] == (e["unit"] < width) for e in units)
    assert not all(e["in_final_model"] for e in stopped.growth_history_)
    assert all(e["in_final_model"] for e in streamed.growth_history_)


@pytest.mark.parametrize("again", ["grow", "warm_start"])
def test_a_unit_grown_at_a_dropped_units_place_is_the_only_one_in_the_model(again):
    # the records of dropped units used to count as in the model again once a later growth
    # (grow, or a warm-started fit) added a unit at their place
    X, y = make_moons(n_samples=300, noise=0.25, random_state=0)
    clf = FoldGrowClassifier(random_state=0).fit(X, y)  # its held-out rows drop two units
    width = clf.hidden_layer_sizes_[0]
    dropped = [e for e in clf.growth_history_ if e["unit"] is not None and e["unit"] >= width]
    assert dropped and not any(e["in_final_model"] for e in dropped)
    if again == "grow":
        clf.grow(X, y, n_units=len(dropped))
    else:
        clf.set_params(warm_start=True, early_stopping=False, growth_schedule="fixed",
                       grow_every=5, max_iter=5 * len(dropped) + 5).fit(X, y)
    kept = [(e["layer"], e["unit"]) for e in clf.growth_history_ if e["in_final_model"]]
    assert len(kept) == len(set(kept)) == clf.hidden_layer_sizes_[0] - clf.hidden_units_
    assert not any(e["in_final_model"] for e in dropped)


def test_records_of_a_dropped_layer_stay_out_of_the_model_when_the_layer_is_built_again():
    X, y = make_moons(n_samples=300, noise=0.25, random_state=0)
    clf = FoldGrowClassifier(max_depth=3, growth_patience=1, max_hidden_units=20,
                             random_state=0).fit(X, y)
    assert len(clf.hidden_layer_sizes_) == 1  # its deeper layers were dropped...
    assert any(e["kind"] == "deepen" for e in clf.growth_history_)
    for _ in range(3):
        clf.grow(X, y)  # ...and grow() builds them again
    sizes = clf.hidden_layer_sizes_
    assert len(sizes) == 3
    identity = {e["layer"]: e["width"] for e in clf.growth_history_ if e["kind"] == "deepen"}
    kept = [(e["layer"], e["unit"]) for e in clf.growth_history_ if e["in_final_model"]]
    # the units with a record: every unit but the seed's and the identity layers' own
    assert len(kept) == len(set(kept)) == sum(sizes) - clf.hidden_units_ - sum(
        identity[layer] for layer in range(1, len(sizes)))


def test_auto_solver_is_lbfgs_up_to_its_row_limit_and_adam_above(monkeypatch):
    from skfold import fit_setup

    monkeypatch.setattr(fit_setup, "AUTO_LBFGS_MAX_SAMPLES", 60)
    X, y = make_classification(n_samples=61, n_features=3, n_informative=2, n_redundant=0,
                               random_state=0)
    small = FoldGrowClassifier(max_iter=3, random_state=0).fit(X[:60], y[:60])
    large = FoldGrowClassifier(max_iter=3, random_state=0).fit(X, y)
    streamed = FoldGrowClassifier(random_state=0).partial_fit(X[:60], y[:60], classes=[0, 1])
    assert small.network_.weights[0].dtype == torch.float64  # L-BFGS trains in float64
    assert large.network_.weights[0].dtype == torch.float32  # Adam in float32
    assert streamed.network_.weights[0].dtype == torch.float32
    assert small.n_iter_ == 3 and large.n_iter_ == 3 and streamed.t_ == 60
    assert fit_setup.AUTO_LBFGS_MAX_SAMPLES == 60
    monkeypatch.undo()
    assert fit_setup.AUTO_LBFGS_MAX_SAMPLES == 100_000


def test_partial_fit_is_unavailable_for_lbfgs():
    assert not hasattr(FoldGrowClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(FoldGrowRegressor(solver="adam"), "partial_fit")


@pytest.mark.parametrize("n_classes, max_hidden_units, expected", [
    (2, 32, 2), (3, 32, 3), (10, 32, 10), (10, 6, 6)])
def test_auto_seed_width_is_one_unit_per_class(n_classes, max_hidden_units, expected):
    """The default seed has as many units as the output layer (at least 2, at most
    ``max_hidden_units``), so no class starts behind a rank bottleneck."""
    X, y = make_classification(n_samples=20 * n_classes, n_features=12, n_informative=8,
                               n_classes=n_classes, random_state=0)
    clf = FoldGrowClassifier(max_hidden_units=max_hidden_units, growth_schedule="none",
                             max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    assert clf.hidden_units_ == expected and clf.hidden_layer_sizes_ == (expected,)
    explicit = clone(clf).set_params(hidden_units=3, max_hidden_units=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert explicit.fit(X, y).hidden_units_ == 3


@pytest.mark.parametrize("n_outputs, expected", [(1, 2), (4, 4)])
def test_auto_seed_width_of_a_regressor_is_one_unit_per_output(n_outputs, expected):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = X @ rng.normal(size=(3, n_outputs))
    reg = FoldGrowRegressor(growth_schedule="none", max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y.ravel() if n_outputs == 1 else y)
    assert reg.hidden_units_ == expected


def test_warm_start_continues_from_the_grown_network(moons):
    X, y = moons
    clf = FoldGrowClassifier(max_hidden_units=4, random_state=0, warm_start=True).fit(X, y)
    sizes = clf.hidden_layer_sizes_
    n_iter = clf.n_iter_
    clf.set_params(max_hidden_units=6).fit(X, y)
    assert clf.n_iter_ > n_iter
    assert sum(clf.hidden_layer_sizes_) >= sum(sizes)
    cold = clone(clf).set_params(warm_start=False, max_hidden_units=2, hidden_units=2)
    assert cold.fit(X, y).hidden_layer_sizes_ == (2,)


def test_warm_start_trains_with_the_parameters_set_since_the_last_fit(moons):
    """set_params between warm-started fits takes effect, as with MLPClassifier."""
    X, y = moons
    clf = FoldGrowClassifier(growth_schedule="none", solver="adam", max_iter=20, linear_seed=False,
                             random_state=0, warm_start=True).fit(X, y)
    assert clf.n_iter_ == 20 and clf.network_.weights[0].dtype == torch.float32
    # a progress threshold no epoch can meet: the first epoch sets the reference, and the
    # plateau follows after exactly n_iter_no_change more
    clf.set_params(tol=1e9, n_iter_no_change=3).fit(X, y)
    assert clf.n_iter_ == 20 + 1 + 3
    # a step size too small to move the weights
    before = [c.copy() for c in clf.coefs_]
    clf.set_params(tol=1e-4, n_iter_no_change=10, learning_rate_init=1e-12).fit(X, y)
    assert all(np.allclose(a, b, rtol=0, atol=1e-6) for a, b in zip(before, clf.coefs_))
    # another solver, in its own precision, on from the same network: one L-BFGS iteration
    # lowers its loss
    carried_loss = log_loss(y, clf.predict_proba(X))
    clf.set_params(solver="lbfgs", max_iter=1, learning_rate_init=1e-3)
    assert clf.fit(X, y).network_.weights[0].dtype == torch.float64
    assert log_loss(y, clf.predict_proba(X)) < carried_loss


def test_early_stopping_can_be_switched_between_warm_started_fits(moons):
    X, y = moons
    clf = FoldGrowClassifier(max_iter=30, random_state=0, warm_start=True,
                             early_stopping=False).fit(X, y)
    assert clf.validation_scores_ is None
    clf.set_params(early_stopping=True).fit(X, y)
    assert len(clf.validation_scores_) > 0 and clf.best_loss_ is None
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    epochs_before = clf.n_iter_
    clf.set_params(early_stopping=False).fit(X, y)
    assert clf.best_loss_ == min(clf.loss_curve_[epochs_before:])


def test_partial_fit_trains_with_the_penalty_set_since_the_last_call(moons):
    X, y = moons
    clf = FoldGrowClassifier(growth_schedule="none", solver="sgd", random_state=0)
    for _ in range(5):
        clf.partial_fit(X, y, classes=[0, 1])
    norm = np.linalg.norm(clf.coefs_[0])
    clf.set_params(alpha=1e4)  # a penalty that shrinks the weights at every step
    for _ in range(5):
        clf.partial_fit(X, y)
    assert np.linalg.norm(clf.coefs_[0]) < 0.5 * norm


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_a_grown_network_cannot_be_warm_started_under_a_smaller_max_hidden_units(moons, solver):
    X, y = moons
    clf = FoldGrowClassifier(hidden_units=2, max_hidden_units=4, growth_schedule="fixed",
                             grow_every=1, solver=solver, max_iter=5, random_state=0).fit(X, y)
    assert clf.hidden_layer_sizes_ == (4,)
    clf.set_params(max_hidden_units=3)
    with pytest.raises(ValueError, match="4 hidden units, more than max_hidden_units=3"):
        clf.set_params(warm_start=True).fit(X, y)
    if solver == "adam":
        with pytest.raises(ValueError, match="does not shrink"):
            clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="already has 4 hidden units and max_hidden_units=3"):
        clf.grow(X, y)
    # the remedy the message names: a new network
    cold = clf.set_params(warm_start=False, growth_schedule="none").fit(X, y)
    assert cold.hidden_layer_sizes_ == (2,)


def test_grow_adds_units_without_changing_predictions(moons):
    X, y = moons
    clf = FoldGrowClassifier(max_hidden_units=10, growth_schedule="none",
                             random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert clf.grow(X, y, n_units=2) is clf
    assert clf.hidden_layer_sizes_ == (4,)
    np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=0, atol=1e-12)
    assert len(clf.growth_history_) == 2
    with pytest.raises(NotFittedError):
        FoldGrowClassifier().grow(X, y)


def test_units_of_one_growth_fold_on_different_clusters(moons):
    X, y = moons
    clf = FoldGrowClassifier(hidden_units=2, max_hidden_units=10, growth_schedule="none",
                             random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    clf.grow(X, y, n_units=3)
    np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=0, atol=1e-12)
    events = clf.growth_history_
    assert [e["unit"] for e in events] == [2, 3, 4]
    assert [e["cluster_rank"] for e in events] == sorted({e["cluster_rank"] for e in events})
    assert len({e["instance_index"] for e in events}) == 3
    # more units than mis-predicted rows: every unit is still added
    few = FoldGrowClassifier(hidden_units=2, max_hidden_units=30, growth_schedule="none",
                             random_state=0).fit(X[:40], y[:40])
    n_wrong = int((few.predict(X[:40]) != y[:40]).sum())
    few.grow(X[:40], y[:40], n_units=n_wrong + 2)
    assert few.hidden_layer_sizes_ == (2 + n_wrong + 2,)


def test_sample_weight_changes_the_fit():
    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    w = np.where(y == 1, 10.0, 0.1)
    a = FoldGrowClassifier(growth_schedule="none", random_state=0).fit(X, y)
    b = FoldGrowClassifier(growth_schedule="none", random_state=0).fit(X, y, sample_weight=w)
    assert (b.predict(X) == 1).mean() > (a.predict(X) == 1).mean()


def test_sample_weight_equals_repetition_without_growth():
    est = FoldGrowClassifier(growth_schedule="none", random_state=0, max_iter=200)
    check_sample_weight_equivalence_on_dense_data("FoldGrowClassifier", est)


def test_early_stopping_records_validation_scores(moons):
    X, y = moons
    clf = FoldGrowClassifier(early_stopping=True, random_state=0, solver="adam",
                             learning_rate_init=0.01, max_iter=100).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_validation_score_ > 0.8


# --------------------------------------------------------------------------- search
def test_pipeline_gridsearch_picks_a_best_estimator(moons):
    X, y = moons
    pipe = Pipeline([("scale", StandardScaler()),
                     ("clf", FoldGrowClassifier(random_state=0, max_iter=300))])
    grid = GridSearchCV(pipe, {"clf__max_hidden_units": [2, 8], "clf__n_clusters": [2, 8]},
                        cv=3, n_jobs=2)
    grid.fit(X, y)
    assert grid.best_params_["clf__max_hidden_units"] == 8
    assert grid.best_score_ > 0.9
    assert grid.best_estimator_[-1].hidden_layer_sizes_[0] <= 8


# --------------------------------------------------------------------------- reproducibility
def test_same_seed_same_predictions_and_no_global_rng_touched(moons):
    X, y = moons
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()
    a = FoldGrowClassifier(random_state=3, max_hidden_units=6).fit(X, y)
    b = FoldGrowClassifier(random_state=3, max_hidden_units=6).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    for ca, cb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(ca, cb)


# --------------------------------------------------------------------------- persistence
def _tensors_in(obj):
    """Every tensor in a nest of dicts, lists and tuples."""
    if torch.is_tensor(obj):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors_in(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _tensors_in(value)


@pytest.mark.parametrize("Estimator", [FoldGrowClassifier, FoldGrowRegressor])
def test_pickle_and_joblib_round_trip(tmp_path, moons, Estimator):
    X, y = moons
    est = Estimator(random_state=0, max_hidden_units=5, solver="adam", max_iter=30).fit(X, y)
    expected = est.predict(X)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), expected)
    joblib.dump(est, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict(X), expected)
    state = est.__getstate__()
    assert "network_" not in state
    tensors = list(_tensors_in(state))
    assert len(tensors) >= 4 and all(t.device.type == "cpu" for t in tensors)
    # a restored estimator keeps training where it stopped
    loaded.partial_fit(X, y)
    assert loaded.n_iter_ == est.n_iter_ + 1


def test_clone_of_fitted_estimator_is_unfitted(moons):
    X, y = moons
    est = FoldGrowClassifier(random_state=0, max_hidden_units=3).fit(X, y)
    fresh = clone(est)
    assert fresh.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        fresh.predict(X)


# --------------------------------------------------------------------------- device
def test_unavailable_cuda_raises_value_error_naming_the_device(moons):
    X, y = moons
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for device in ["cuda", "cuda:1"]:
        with pytest.raises(ValueError, match=f"device='{device}'"):
            FoldGrowClassifier(device=device).fit(X, y)
    with pytest.raises(ValueError, match="not a valid torch device"):
        FoldGrowClassifier(device="tpu-ish").fit(X, y)


def test_auto_device_runs_on_cpu_here(moons):
    X, y = moons
    clf = FoldGrowClassifier(max_hidden_units=3, random_state=0).fit(X, y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert clf.device_.startswith(expected)
    assert clf.get_params()["device"] == "auto"  # fit never changes a parameter


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize("Ours, Theirs, task", [
    (FoldGrowClassifier, MLPClassifier, "classification"),
    (FoldGrowRegressor, MLPRegressor, "regression"),
])
def test_every_fitted_attribute_of_scikit_learns_mlp_exists(moons, solver, Ours, Theirs, task):
    """Code written against MLPClassifier's / MLPRegressor's fitted attributes runs on ours."""
    X, y = moons
    target = y if task == "classification" else X[:, 0] * X[:, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = Theirs(solver=solver, max_iter=20, early_stopping=False,
                        random_state=0).fit(X, target)
        ours = Ours(solver=solver, max_iter=20, early_stopping=False, random_state=0).fit(X, target)
    public = [name for name in vars(theirs) if name.endswith("_") and not name.startswith("_")]
    assert "loss_" in public and "out_activation_" in public
    missing = [name for name in public if not hasattr(ours, name)]
    assert missing == []
    assert ours.loss_ == ours.loss_curve_[-1]
    assert ours.best_loss_ <= ours.loss_
    assert ours.out_activation_ == ("softmax" if task == "classification" else "identity")


def test_fit_does_not_warn_when_it_converges(moons):
    X, y = moons
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FoldGrowClassifier(random_state=0).fit(X, y)


def max_iter_warnings(est, X, y):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est.fit(X, y)
    return [str(w.message) for w in record if issubclass(w.category, ConvergenceWarning)]


def test_running_out_of_max_iter_while_growing_says_the_budget_set_the_width(moons):
    X, y = moons
    clf = FoldGrowClassifier(hidden_units=2, max_hidden_units=16, n_iter_no_change=2, early_stopping=False,
                             max_iter=40, random_state=0)
    [message] = max_iter_warnings(clf, X, y)
    width = clf.hidden_layer_sizes_[0]
    assert clf.n_growths_ > 0 and width < 16
    assert "the budget, not the data, set the network's width" in message
    assert "Raise max_iter" in message and "training loss was still falling" in message


@pytest.mark.parametrize("params", [
    dict(growth_schedule="none"),                          # nothing would grow
    dict(hidden_units=2, max_hidden_units=2),              # no room left to grow
])
def test_running_out_of_max_iter_without_growth_to_come_gives_mlps_warning(moons, params):
    X, y = moons
    [message] = max_iter_warnings(FoldGrowClassifier(max_iter=5, random_state=0, **params),
                                  X, y)
    assert message.startswith("FoldGrowClassifier: maximum iterations (max_iter) reached and "
                              "the optimization hasn't converged yet")
    assert "Raise max_iter to train it further" in message and "grow" not in message


def test_plateau_phase_is_capped_so_a_creeping_small_network_still_grows():
    from skfold.schedule import PHASE_CAP_FACTOR, GrowthSchedule

    schedule = GrowthSchedule(kind="plateau", grow_every=1, n_iter_no_change=3, tol=1e-4,
                              growth_patience=3)
    loss = 1.0
    for epoch in range(1, PHASE_CAP_FACTOR * 3 + 1):
        loss -= 1e-3  # always more than tol: never a plateau in the strict sense
        schedule.observe(loss)
        assert not schedule.converged
        assert schedule.wants_growth() == (epoch >= PHASE_CAP_FACTOR * 3)


def test_lbfgs_phase_ends_when_gradient_is_below_tol(moons):
    X, y = moons
    clf = FoldGrowClassifier(growth_schedule="none", hidden_units=8, solver="lbfgs",
                             tol=1e-2, random_state=0).fit(X, y)
    assert clf.n_iter_ < FoldGrowClassifier().max_iter
    X_t = torch.as_tensor(X, dtype=torch.float64)
    with torch.no_grad():
        _, grads = objective_and_gradient(clf.network_, X_t, torch.as_tensor(y), None,
                                          CLASSIFICATION, clf.alpha_)
    assert max(float(g.abs().max()) for g in grads) < 1e-2


@settings(deadline=None, max_examples=200)
@given(tol=st.sampled_from([0.0, 1e-4, 1e-2]), required=st.floats(0, 0.1),
       drop=st.floats(-0.05, 0.2), patience=st.integers(1, 4))
@example(tol=0.0, required=0.0, drop=1.1102477157527173e-306, patience=1)
def test_a_growth_pays_only_beyond_tol_and_its_required_gain(tol, required, drop, patience):
    from skfold.schedule import GrowthSchedule

    schedule = GrowthSchedule(kind="plateau", grow_every=1, n_iter_no_change=3, tol=tol,
                              growth_patience=patience)
    schedule.observe(1.0)
    schedule.on_growth(required_gain=required)
    loss_after = 1.0 - drop  # a drop below float resolution leaves the loss where it was
    schedule.observe(loss_after)
    paid = loss_after < 1.0 - max(tol, required)
    assert schedule.growth_stalled == (not paid and patience == 1)
    schedule.on_growth()  # settles the first growth
    assert schedule.fruitless_growths == (0 if paid else 1)


def _growth_paid(history, n_rows, k, tol):
    """Whether each growth in ``history`` paid, from the records a user sees: the next
    growth's loss_before is the best loss the growth led to."""
    growths = sorted({e["growth"] for e in history})
    by_growth = [[e for e in history if e["growth"] == g] for g in growths]
    paid = []
    for this, after in zip(by_growth, by_growth[1:]):
        need = max(tol, k * sum(e["instance_loss"] or 0.0 for e in this) / n_rows)
        assert this[0]["gain_needed"] == pytest.approx(need, rel=1e-12)
        paid.append(after[0]["loss_before"] < this[0]["loss_before"] - need)
    return paid


@pytest.mark.parametrize("k, tol", [(0.0, 1e-3), (5.0, 1e-4), (20.0, 1e-4)])
def test_growth_stops_after_growth_patience_growths_that_fixed_only_their_instance(k, tol):
    """On noisy data, growth ends exactly when ``growth_patience`` growths in a row did not
    lower the loss by ``min_growth_gain`` times the folded instance's share (and ``tol``)."""
    X, y = make_moons(n_samples=300, noise=0.3, random_state=0)
    clf = FoldGrowClassifier(min_growth_gain=k, tol=tol, early_stopping=False,
                             random_state=0).fit(X, y)
    paid = _growth_paid(clf.growth_history_, X.shape[0], k, clf.tol)
    last_growth = events_of_last_growth(clf.growth_history_)
    # stopped by the rule under test: not by max_iter, max_hidden_units or a skipped growth
    assert all(e["unit"] is not None for e in last_growth)
    assert clf.n_iter_ < clf.max_iter and sum(clf.hidden_layer_sizes_) < clf.max_hidden_units
    # the growths before the last settle as recorded; the last is pending and did not pay
    runs = "".join("p" if p else "f" for p in paid)
    assert "f" * clf.growth_patience not in runs
    assert runs.endswith("f" * (clf.growth_patience - 1))
    assert growth_paid(last_growth[0]) is False


@pytest.mark.parametrize("seed", [0, 1])
def test_a_growth_that_pays_late_in_its_phase_lets_growth_go_on(seed):
    """With ``growth_patience=1`` every growth's phase starts with growth stalled (its growth
    has not paid yet); one that pays before the phase ends must lead to another growth, and
    growth ends at the first one that does not pay."""
    X, y = make_moons(n_samples=300, noise=0.2, random_state=seed)
    clf = FoldGrowClassifier(hidden_units=2, growth_patience=1, random_state=seed).fit(X, y)
    firsts = [next(e for e in clf.growth_history_ if e["growth"] == g)
              for g in sorted({e["growth"] for e in clf.growth_history_})]
    paid = [growth_paid(e) for e in firsts]
    assert len(paid) >= 2 and all(paid[:-1]) and paid[-1] is False


def test_min_growth_gain_stops_noise_fitting_growth_early():
    X, y = make_moons(n_samples=300, noise=0.3, random_state=0)
    plain = FoldGrowClassifier(min_growth_gain=0, early_stopping=False, random_state=0).fit(X, y)
    default = FoldGrowClassifier(random_state=0).fit(X, y)
    assert sum(default.hidden_layer_sizes_) < sum(plain.hidden_layer_sizes_)
    # a gain no growth can bring: the first growth is skipped as one that cannot pay
    never = FoldGrowClassifier(min_growth_gain=1e9, hidden_units=2, random_state=0).fit(X, y)
    assert never.hidden_layer_sizes_ == (2,)
    assert [e["skipped"] for e in never.growth_history_] == [schedule_module.CANNOT_PAY]
    # ...unless the user asks for it
    never.grow(X, y)
    assert never.hidden_layer_sizes_ == (3,)


def test_a_growth_that_cannot_pay_is_skipped_and_growth_stops():
    """breast_cancer: the seed leaves a few rows mis-predicted, each carrying more loss than
    the whole monitored loss divided by min_growth_gain / n, so no growth could pay: the fit
    records why and stops growing, where min_growth_gain=0 grows on them."""
    from sklearn.datasets import load_breast_cancer

    from skfold.schedule import CANNOT_PAY

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = FoldGrowClassifier(early_stopping=False, random_state=0).fit(X, y)
    last = clf.growth_history_[-1]
    assert last["skipped"] == CANNOT_PAY and last["unit"] is None
    assert [e for e in clf.growth_history_ if e.get("skipped")] == [last]
    plain = FoldGrowClassifier(min_growth_gain=0, early_stopping=False, random_state=0).fit(X, y)
    assert all(e.get("skipped") != CANNOT_PAY for e in plain.growth_history_)
    assert sum(plain.hidden_layer_sizes_) > sum(clf.hidden_layer_sizes_)


@pytest.mark.parametrize("n_iter_no_change", [5, 10])
def test_a_network_that_fits_every_row_trains_on_after_growth_finds_nothing_to_fold(
        n_iter_no_change):
    """Well-separated blobs: the seed classifies every training row right, so the growth step
    finds nothing mis-predicted. The loss is then below tol, where neither stopping test can
    see the weight decay still at work, so the last phase trains EXACT_FIT_PHASE_FACTOR x
    n_iter_no_change iterations before they apply (not only the plateau's n_iter_no_change),
    and the training objective keeps falling over it."""
    from sklearn.datasets import make_blobs

    from skfold.schedule import EXACT_FIT_PHASE_FACTOR

    X, y = make_blobs(300, centers=3, cluster_std=0.3, random_state=0)
    clf = FoldGrowClassifier(n_iter_no_change=n_iter_no_change, early_stopping=False,
                             random_state=0).fit(X, y)
    last = clf.growth_history_[-1]
    assert last["skipped"] == schedule_module.NOTHING_MISPREDICTED
    assert last["loss_before"] < clf.tol
    assert clf.n_iter_ - last["epoch"] >= EXACT_FIT_PHASE_FACTOR * n_iter_no_change
    assert clf.loss_ < last["loss_before"] / 2
    assert (clf.predict(X) == y).all()


@settings(deadline=None, max_examples=50)
@given(best_loss=st.floats(1e-6, 10.0), gain=st.floats(0.1, 50.0), n_rows=st.integers(1, 10**6))
def test_largest_payable_instance_loss_is_where_the_needed_gain_reaches_the_loss(
        best_loss, gain, n_rows):
    from skfold.schedule import GrowthSchedule

    schedule = GrowthSchedule(kind="plateau", grow_every=50, n_iter_no_change=10, tol=1e-4,
                              growth_patience=2, min_growth_gain=gain, best_loss=best_loss)
    limit = schedule.largest_payable_instance_loss(float(n_rows))
    needed = schedule.required_gain_for(limit, float(n_rows))
    assert needed == pytest.approx(best_loss, rel=1e-12)


@pytest.mark.parametrize("Est", [FoldGrowClassifier, FoldGrowRegressor])
def test_early_stopping_auto_holds_out_rows_once_twenty_would_be_held_out(Est):
    X, y = make_moons(n_samples=300, noise=0.3, random_state=0)
    target = y if Est is FoldGrowClassifier else X[:, 0] * X[:, 1]
    large = Est(max_iter=40, random_state=0).fit(X, target)
    assert large.get_params()["early_stopping"] == "auto"
    assert len(large.validation_scores_) == large.n_iter_ and large.best_loss_ is None
    small = Est(max_iter=40, random_state=0).fit(X[:150], target[:150])
    assert small.validation_scores_ is None and small.best_loss_ is not None
    bigger_share = Est(max_iter=40, validation_fraction=0.2, random_state=0).fit(
        X[:150], target[:150])
    assert len(bigger_share.validation_scores_) == bigger_share.n_iter_


@pytest.mark.parametrize("Est", [FoldGrowClassifier, FoldGrowRegressor])
def test_early_stopping_auto_holds_nothing_out_from_ten_thousand_rows(Est):
    X, y = make_moons(n_samples=10_000, noise=0.3, random_state=0)
    target = y if Est is FoldGrowClassifier else X[:, 0] * X[:, 1]
    large = Est(max_iter=3, random_state=0).fit(X, target)
    assert large.validation_scores_ is None and large.best_loss_ is not None
    assert large.linear_coef_ is None  # no held-out rows, no linear seed ("auto")
    below = Est(max_iter=3, random_state=0).fit(X[:9_999], target[:9_999])
    assert len(below.validation_scores_) == below.n_iter_
    assert np.any(below.linear_coef_)
    forced = Est(max_iter=3, early_stopping=True, random_state=0).fit(X, target)
    assert len(forced.validation_scores_) == forced.n_iter_


def test_early_stopping_auto_holds_nothing_out_in_partial_fit_or_a_fixed_schedule():
    X, y = make_moons(n_samples=400, noise=0.3, random_state=0)
    streamed = FoldGrowClassifier(random_state=0).partial_fit(X, y, classes=[0, 1])
    assert streamed.validation_scores_ is None
    fixed = FoldGrowClassifier(growth_schedule="fixed", grow_every=10, max_hidden_units=5,
                               max_iter=60, random_state=0).fit(X, y)
    assert fixed.validation_scores_ is None and fixed.hidden_layer_sizes_ == (5,)

