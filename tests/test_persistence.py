"""skfold.save / skfold.load: exact round trips, resumable training, and no code execution."""

import io
import json
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_moons
from sklearn.exceptions import NotFittedError

import safetensors.torch

import skfold
from skfold import FoldGrowClassifier, FoldGrowRegressor


@pytest.fixture(scope="module")
def moons():
    return make_moons(n_samples=200, noise=0.15, random_state=0)


def fit_quietly(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def round_trip(est, tmp_path, name="model.skfold"):
    path = tmp_path / name
    skfold.save(est, path)
    return skfold.load(path)


def saved_bytes(est):
    buffer = io.BytesIO()
    skfold.save(est, buffer)
    return buffer.getvalue()


def outputs(est, X):
    names = ["predict", "predict_proba", "decision_function"] if hasattr(
        est, "predict_proba") else ["predict"]
    return {n: getattr(est, n)(X) for n in names}


def assert_same_model(a, b, X):
    assert type(a) is type(b)
    for name, value in outputs(a, X).items():
        np.testing.assert_array_equal(outputs(b, X)[name], value, err_msg=name)
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(ca, cb)
    assert b.growth_history_ == a.growth_history_
    assert b.loss_curve_ == a.loss_curve_
    assert (b.n_iter_, b.t_, b.hidden_layer_sizes_) == (a.n_iter_, a.t_, a.hidden_layer_sizes_)


CASES = {
    "classifier, string labels, DataFrame, RandomState, adam": lambda X, y: (
        FoldGrowClassifier(solver="adam", max_hidden_units=5, max_iter=40,
                           learning_rate_init=0.02, growth_schedule="fixed", grow_every=10,
                           random_state=np.random.RandomState(3)),
        pd.DataFrame(X, columns=["left", "right"]), np.array(["no", "yes"])[y]),
    "classifier, lbfgs, early stopping, deepened": lambda X, y: (
        FoldGrowClassifier(solver="lbfgs", max_hidden_units=9, max_depth=2,
                           growth_patience=1, early_stopping=True, max_iter=150,
                           random_state=0), X, y),
    "regressor, two outputs, sgd": lambda X, y: (
        FoldGrowRegressor(solver="sgd", max_hidden_units=5, growth_schedule="fixed",
                          grow_every=5, max_iter=30, random_state=0), X,
        np.c_[X[:, 0] * y, X[:, 1]]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_loaded_estimator_predicts_identically_and_trains_on_identically(moons, tmp_path,
                                                                          case):
    est, X, y = CASES[case](*moons)
    fit_quietly(est, X, y)
    assert est.growth_history_, "the case must have grown, to test growth_history_"
    loaded = round_trip(est, tmp_path)
    assert_same_model(est, loaded, X)
    if hasattr(est, "classes_"):
        np.testing.assert_array_equal(loaded.classes_, est.classes_)
        assert loaded.classes_.dtype == est.classes_.dtype
    if hasattr(est, "feature_names_in_"):
        np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    params, loaded_params = est.get_params(), loaded.get_params()
    seed, loaded_seed = params.pop("random_state"), loaded_params.pop("random_state")
    assert loaded_params == params
    if isinstance(seed, np.random.RandomState):  # a RandomState parameter keeps its state
        assert all(np.array_equal(a, b)
                   for a, b in zip(seed.get_state(), loaded_seed.get_state()))
    else:
        assert loaded_seed == seed

    # Both go on training from the same state (weights, optimizer state, generators), bit
    # for bit: the original, never saved, and the loaded copy.
    for model in (est, loaded):
        if model.solver == "lbfgs":
            model.set_params(warm_start=True, max_iter=10)
            fit_quietly(model, X, y)
        else:
            model.partial_fit(X, y)
            model.partial_fit(X, y)
    assert_same_model(est, loaded, X)


def test_an_unfitted_estimator_is_not_saved(tmp_path):
    est = FoldGrowRegressor(max_hidden_units=7, init="gradmax", tol=1e-6)
    with pytest.raises(NotFittedError, match="get_params"):
        skfold.save(est, tmp_path / "model.skfold")
    assert not list(tmp_path.iterdir())


def test_file_object_and_format_are_as_documented(moons):
    X, y = moons
    est = fit_quietly(FoldGrowClassifier(max_hidden_units=4, random_state=0), X, y)
    buffer = io.BytesIO()
    skfold.save(est, buffer)
    raw = buffer.getvalue()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    meta = header.pop("__metadata__")
    assert meta["format"] == "skfold" and meta["format_version"] == "2"
    assert {entry["dtype"] for entry in header.values()} <= {"F64", "F32", "U8"}
    tensors = safetensors.torch.load(raw)  # any safetensors reader opens it
    assert set(tensors) == set(header) and "network.weight.0" in tensors

    def strict(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    metadata = json.loads(meta["metadata"], parse_constant=strict)
    assert metadata["estimator"] == "FoldGrowClassifier"
    assert metadata["skfold_version"] == skfold.__version__
    assert metadata["params"]["max_hidden_units"] == 4  # parameters are readable JSON
    buffer.seek(0)
    assert_same_model(est, skfold.load(buffer), X)


def test_pickle_and_joblib_still_work_on_a_loaded_model(moons, tmp_path):
    X, y = moons
    est = fit_quietly(FoldGrowClassifier(max_hidden_units=4, random_state=0), X, y)
    loaded = round_trip(est, tmp_path)
    assert_same_model(est, pickle.loads(pickle.dumps(loaded)), X)
    joblib.dump(loaded, tmp_path / "model.joblib")
    assert_same_model(est, joblib.load(tmp_path / "model.joblib"), X)


# --------------------------------------------------------------------------- GPU -> CPU
def test_a_model_fitted_for_cuda_loads_on_a_cpu_only_machine(moons, tmp_path):
    """The file holds CPU tensors whatever the device; the loaded model keeps the device
    parameter, and trains on the CPU once asked to."""
    X, y = moons
    est = fit_quietly(FoldGrowClassifier(solver="adam", max_hidden_units=4, max_iter=30,
                                         random_state=0), X, y)
    est.set_params(device="cuda")  # what a GPU-fitted model carries
    est.device_ = "cuda:0"
    loaded = round_trip(est, tmp_path)
    assert all(w.device.type == "cpu" for w in loaded.network_.weights)
    assert loaded.device_ == "cuda:0" and loaded.device == "cuda"
    assert_same_model(est, loaded, X)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            loaded.partial_fit(X, y)
    loaded.set_params(device="cpu").partial_fit(X, y)
    assert loaded.device_ == "cpu"
    assert np.isfinite(loaded.predict_proba(X)).all()


# --------------------------------------------------------------------------- untrusted files
class RunsCode:
    """Unpickling this object runs code: it writes ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('pwned')",)


def malicious_files(tmp_path, marker):
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(RunsCode(marker)))
    zipped = tmp_path / "torch.pt"
    torch.save({"model": RunsCode(marker)}, zipped)
    old = tmp_path / "lookalike.skfold"  # skfold 0.1's layout, an object among the tensors
    torch.save({"format": "skfold", "format_version": 1, "metadata": "{}",
                "tensors": {"t0": torch.zeros(2), "t1": RunsCode(marker)}}, old)
    return {"raw pickle": raw, "torch.save pickle": zipped, "skfold 0.1 lookalike": old}


def test_loading_a_malicious_file_refuses_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    files = malicious_files(tmp_path, marker)
    # the files are real exploits: unpickling them runs the code
    with open(files["raw pickle"], "rb") as f:
        pickle.load(f)
    assert marker.exists()
    marker.unlink()
    torch.load(files["torch.save pickle"], weights_only=False)
    assert marker.exists()
    marker.unlink()
    for kind, path in files.items():
        with pytest.raises(ValueError, match="[Rr]efusing to load"):
            skfold.load(path)
        assert not marker.exists(), f"{kind}: code ran on load"


def test_a_skfold_0_1_file_is_refused_naming_its_format_version(tmp_path):
    path = tmp_path / "old.skfold"
    torch.save({"format": "skfold", "format_version": 1, "metadata": "{}", "tensors": {}}, path)
    with pytest.raises(ValueError, match="format version 1"):
        skfold.load(path)


def test_a_joblib_dump_is_refused_by_load(moons, tmp_path):
    X, y = moons
    est = fit_quietly(FoldGrowClassifier(max_hidden_units=3, random_state=0), X, y)
    joblib.dump(est, tmp_path / "model.joblib")
    with pytest.raises(ValueError, match="pickle or joblib"):
        skfold.load(tmp_path / "model.joblib")


def test_other_files_give_a_clear_error(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "text").write_text("hello, not a model")
    safetensors.torch.save_file({"weight": torch.ones(3)}, tmp_path / "plain.safetensors")
    for name in ["empty", "text", "plain.safetensors"]:
        with pytest.raises(ValueError, match="not a skfold model file"):
            skfold.load(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        skfold.load(tmp_path / "missing")


@pytest.mark.parametrize("cut", [3, 50, -1])
def test_a_truncated_file_gives_the_same_clear_error_by_path_and_by_file_object(
        moons, tmp_path, cut):
    X, y = moons
    raw = saved_bytes(fit_quietly(FoldGrowClassifier(max_iter=20, random_state=0), X, y))
    (tmp_path / "cut.skfold").write_bytes(raw[:cut])
    for source in (tmp_path / "cut.skfold", io.BytesIO(raw[:cut])):
        with pytest.raises(ValueError, match="truncated|not a skfold model file"):
            skfold.load(source)


# --------------------------------------------------------------------------- saving safely
@pytest.mark.parametrize("seed", [np.int64(3), np.int32(3)])
def test_a_numpy_integer_seed_saves_as_the_int_it_is(moons, tmp_path, seed):
    # GridSearchCV over np.arange(n) sets random_state to a NumPy integer
    X, y = moons
    est = fit_quietly(FoldGrowClassifier(max_iter=20, random_state=seed), X, y)
    loaded = round_trip(est, tmp_path)
    assert loaded.random_state == 3 and type(loaded.random_state) is int
    assert_same_model(est, loaded, X)


def test_save_rejects_what_it_is_not_made_for(moons, tmp_path):
    with pytest.raises(TypeError, match="FoldGrowClassifier and FoldGrowRegressor"):
        skfold.save(object(), tmp_path / "x")
    assert not list(tmp_path.iterdir())  # nothing half-written is left behind


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_saved_file_gets_the_permissions_open_would_give_it(moons, tmp_path, umask):
    import os
    X, y = moons
    est = fit_quietly(FoldGrowClassifier(max_iter=10, random_state=0), X, y)
    previous = os.umask(umask)
    try:
        skfold.save(est, tmp_path / "model.skfold")
    finally:
        os.umask(previous)
    assert (tmp_path / "model.skfold").stat().st_mode & 0o777 == 0o666 & ~umask


def test_an_interrupted_save_leaves_the_previous_file_intact(moons, tmp_path, monkeypatch):
    import skfold.persistence.container as container
    X, y = moons
    est = fit_quietly(FoldGrowClassifier(max_hidden_units=3, random_state=0), X, y)
    path = tmp_path / "model.skfold"
    skfold.save(est, path)
    before = path.read_bytes()

    def dies_before_the_rename(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(container.os, "replace", dies_before_the_rename)
    with pytest.raises(KeyboardInterrupt):
        skfold.save(est, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.skfold"]
    monkeypatch.undo()
    assert_same_model(est, skfold.load(path), X)
