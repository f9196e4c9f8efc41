"""A stream that grows (issue 25 item 1): partial_fit's growth decisions at one epoch per call,
the reservoir of earlier rows its search reads, and held-out rows kept from the stream."""

import copy
import io
import json
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_classification

import skfold
from skfold import FoldGrowClassifier, FoldGrowRegressor, growth
from skfold.persistence import container, schema
from skfold.reservoir import Reservoir


def _task(seed=0):
    """A stream that needs more than the 2-unit seed: 20 chunks of 300 rows, test rows apart."""
    X, y = make_classification(n_samples=7000, n_features=8, n_informative=6, n_redundant=0,
                               n_clusters_per_class=3, random_state=seed)
    chunks = [(X[i:i + 300], y[i:i + 300]) for i in range(0, 6000, 300)]
    return chunks, X[6000:], y[6000:]


def _stream(est, chunks, passes=1):
    for _ in range(passes):
        for X, y in chunks:
            est.partial_fit(X, y, classes=[0, 1])
    return est


def _streamer(**params):
    """A stream from the slides' 2-unit seed (``"auto"`` would start at half the budget)."""
    return FoldGrowClassifier(**{"hidden_units": 2, "max_hidden_units": 12,
                                 "learning_rate_init": 0.01, "random_state": 0, **params})


@pytest.mark.parametrize("seed", [0, 1])
def test_a_stream_grows_and_beats_the_same_stream_without_growth(seed):
    chunks, X_test, y_test = _task(seed)
    grown = _stream(_streamer(), chunks, passes=2)
    fixed = _stream(_streamer(growth_schedule="none"), chunks, passes=2)
    assert fixed.hidden_layer_sizes_ == (2,)
    assert grown.hidden_layer_sizes_[0] > 2 and grown.n_growths_ >= 3
    units = [e for e in grown.growth_history_ if e["unit"] is not None]
    # made during partial_fit: one epoch per call, so a growth's epoch is a call's number
    assert len(units) == grown.hidden_layer_sizes_[0] - 2
    assert all(1 <= e["epoch"] <= grown.n_iter_ for e in units)
    # a phase lasts until its returns diminish: two calls at least, so that the last unit
    # acts before the next growth looks for a mistake to fold on
    epochs = [e["epoch"] for e in units]
    assert all(b - a >= 2 for a, b in zip(epochs, epochs[1:]))
    assert grown.score(X_test, y_test) > fixed.score(X_test, y_test) + 0.03


def test_growth_in_partial_fit_keeps_the_function_at_the_moment_of_growth(monkeypatch):
    chunks, X_test, _ = _task()
    changes, original = [], growth.grow_step

    def checking_grow_step(call, *data, **kwargs):
        net = call.state.network
        X = torch.as_tensor(X_test, dtype=net.weights[0].dtype)
        with torch.no_grad():
            before = net(X).clone()
        grew = original(call, *data, **kwargs)
        with torch.no_grad():
            after = call.state.network(X)
        if grew:
            changes.append(float((after - before).abs().max()))
        return grew

    monkeypatch.setattr(growth, "grow_step", checking_grow_step)
    est = _stream(_streamer(), chunks)
    assert len(changes) >= 3 and est.hidden_layer_sizes_[0] > 2
    assert max(changes) < 1e-5


def test_a_stream_is_deterministic_given_random_state():
    chunks, X_test, _ = _task()
    a, b = (_stream(_streamer(), chunks) for _ in range(2))
    assert a.hidden_layer_sizes_ == b.hidden_layer_sizes_
    for wa, wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(wa, wb)
    assert [e["instance_index"] for e in a.growth_history_] == [
        e["instance_index"] for e in b.growth_history_]


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_stream_copied_mid_way_continues_identically(how):
    chunks, X_test, _ = _task()
    est = _stream(_streamer(), chunks[:8])
    twin = (pickle.loads(pickle.dumps(est)) if how == "pickle" else copy.deepcopy(est))
    _stream(est, chunks[8:])
    _stream(twin, chunks[8:])
    assert est.hidden_layer_sizes_ == twin.hidden_layer_sizes_ and est.n_growths_ >= 3
    np.testing.assert_array_equal(est.predict_proba(X_test), twin.predict_proba(X_test))
    timeless = [[{k: v for k, v in e.items() if k != "search_seconds"}
                 for e in m.growth_history_] for m in (est, twin)]
    assert timeless[0] == timeless[1]
    # a clone is the parameters alone: streamed from the start it is the same model
    fresh = _stream(clone(est), chunks)
    np.testing.assert_array_equal(est.predict_proba(X_test), fresh.predict_proba(X_test))


def test_instance_index_in_a_stream_is_the_rows_place_in_the_stream():
    chunks, _, _ = _task()
    est = _stream(_streamer(), chunks)
    X_all = np.concatenate([X for X, _ in chunks])
    y_all = np.concatenate([y for _, y in chunks])
    units = [e for e in est.growth_history_ if e["unit"] is not None]
    assert units
    for e in units:
        np.testing.assert_allclose(X_all[e["instance_index"]], e["x_t"], rtol=1e-6)
        assert y_all[e["instance_index"]] == e["true"]
    # some typical instances come from the reservoir of earlier chunks, not the call's own
    calls_start = {e["epoch"]: 300 * (e["epoch"] - 1) for e in units}
    assert any(e["instance_index"] < calls_start[e["epoch"]] for e in units)


def test_the_search_reservoir_stays_within_search_subsample():
    chunks, _, _ = _task()
    est = _streamer(search_subsample=500)
    for i, (X, y) in enumerate(chunks):
        est.partial_fit(X, y, classes=[0, 1])
        assert len(est._state.stream.search) == min(500, 300 * (i + 1))
    est.set_params(search_subsample=100)  # lowered between calls: the sample shrinks
    est.partial_fit(*chunks[0])
    assert len(est._state.stream.search) == 100


@settings(deadline=None, max_examples=40)
@given(capacity=st.integers(1, 30),
       chunks=st.lists(st.integers(0, 40), min_size=1, max_size=12),
       seed=st.integers(0, 2**31 - 1))
def test_a_reservoir_holds_at_most_its_capacity_of_distinct_offered_rows(capacity, chunks,
                                                                          seed):
    reservoir = Reservoir(capacity, seed)
    offered = 0
    for size in chunks:
        rows = np.arange(offered, offered + size)
        reservoir.add(rows.astype(float)[:, None], rows)
        offered += size
        held = reservoir.columns[1]
        assert len(reservoir) == min(capacity, offered) == len(held)
        assert len(set(held.tolist())) == len(held) and (held < offered).all()
        np.testing.assert_array_equal(reservoir.columns[0][:, 0], held)
    assert reservoir.n_seen == offered


def test_a_reservoir_is_a_uniform_sample_of_the_stream():
    """Each of 60 rows, offered in chunks of uneven sizes, ends in a 10-row reservoir with
    probability 1/6: a chi-square test over 3000 streams (fails at p < 1e-4)."""
    sizes = [7, 1, 13, 2, 20, 5, 12]
    counts = np.zeros(sum(sizes))
    for seed in range(3000):
        reservoir, start = Reservoir(10, seed), 0
        for size in sizes:
            reservoir.add(np.arange(start, start + size))
            start += size
        counts[reservoir.columns[0]] += 1
    expected = np.full_like(counts, 3000 * 10 / len(counts))
    assert counts.sum() == 3000 * 10
    assert scipy.stats.chisquare(counts, expected).pvalue > 1e-4


def test_early_stopping_in_partial_fit_holds_rows_out_of_the_stream():
    chunks, X_test, y_test = _task()
    est = _stream(_streamer(early_stopping=True, validation_fraction=0.2), chunks)
    n_rows = sum(len(y) for _, y in chunks)
    assert len(est.validation_scores_) == est.n_iter_ == len(chunks)
    # a fifth of the rows were held out: not trained on
    assert 0.75 * n_rows < est.t_ < 0.85 * n_rows
    held = len(est._state.stream.validation)
    assert held == min(est.search_subsample, n_rows - est.t_)
    assert est.hidden_layer_sizes_[0] > 2
    # the default keeps today's semantics: every row trains, no validation scores
    plain = _stream(_streamer(), chunks)
    assert plain.validation_scores_ is None and plain.t_ == n_rows


def test_a_regressor_stream_grows_too():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(4000, 2))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1])
    est = FoldGrowRegressor(max_hidden_units=10, learning_rate_init=0.01, random_state=0)
    for i in range(0, 4000, 250):
        est.partial_fit(X[i:i + 250], y[i:i + 250])
    assert est.hidden_layer_sizes_[0] > 2
    units = [e for e in est.growth_history_ if e["unit"] is not None]
    for e in units:
        np.testing.assert_allclose(X[e["instance_index"]], e["x_t"], rtol=1e-6)


def _saved_and_loaded(est):
    buffer = io.BytesIO()
    skfold.save(est, buffer)
    buffer.seek(0)
    return skfold.load(buffer)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_model_file_saved_mid_stream_continues_identically(early_stopping):
    chunks, X_test, _ = _task()
    est = _stream(_streamer(early_stopping=early_stopping), chunks[:8])
    loaded = _saved_and_loaded(est)
    for model in (est, loaded):
        _stream(model, chunks[8:])
    assert est.n_growths_ >= 3
    np.testing.assert_array_equal(est.predict_proba(X_test), loaded.predict_proba(X_test))
    assert [e["instance_index"] for e in est.growth_history_] == [
        e["instance_index"] for e in loaded.growth_history_]
    if early_stopping:
        assert est.validation_scores_ == loaded.validation_scores_


def test_a_model_file_with_a_stream_out_of_bounds_is_refused():
    chunks, _, _ = _task()
    est = _stream(_streamer(search_subsample=500), chunks[:3])
    metadata, tensors = schema.encode(est)
    metadata = json.loads(json.dumps(metadata))
    metadata["state"]["stream"]["search"]["capacity"] = 100  # holds 500 rows
    raw = io.BytesIO()
    container.write(raw, metadata, tensors)
    with pytest.raises(ValueError, match="stream.search"):
        skfold.load(io.BytesIO(raw.getvalue()))
    metadata["state"]["stream"]["search"]["capacity"] = 500
    tensors["stream.search.position"] = tensors["stream.search.position"] + 1e6
    raw = io.BytesIO()
    container.write(raw, metadata, tensors)
    with pytest.raises(ValueError, match="stream.search.position"):
        skfold.load(io.BytesIO(raw.getvalue()))


def test_a_model_file_written_before_streams_kept_rows_still_loads():
    chunks, X_test, _ = _task()
    est = _stream(_streamer(), chunks[:4])
    metadata, tensors = schema.encode(est)
    metadata = json.loads(json.dumps(metadata))
    del metadata["state"]["stream"]
    for name in ("last_loss", "last_gain", "phase_gain"):
        del metadata["state"]["schedule"][name]
    tensors = {k: v for k, v in tensors.items() if not k.startswith("stream.")}
    raw = io.BytesIO()
    container.write(raw, metadata, tensors)
    old = skfold.load(io.BytesIO(raw.getvalue()))
    np.testing.assert_array_equal(old.predict_proba(X_test), est.predict_proba(X_test))
    _stream(old, chunks[4:])  # streams on, its reservoirs starting empty
    assert old.n_iter_ == len(chunks)


def _sparse_task(fmt, kind=sp.csr_matrix):
    """:func:`_task`, its small inputs zero, its chunks SciPy ``kind`` in format ``fmt``."""
    chunks, X_test, y_test = _task()
    sparse = [(kind(np.where(abs(X) < 0.7, 0, X)).asformat(fmt), y) for X, y in chunks]
    return sparse, X_test, y_test


def _sparse_parts(X):
    return X.data, X.indices, X.indptr


@pytest.mark.parametrize("fmt, kind, saved_after, early_stopping", [
    ("csr", sp.csr_matrix, 8, True), ("csr", sp.csr_matrix, 8, False),
    ("csc", sp.csc_matrix, 1, True), ("csc", sp.csr_array, 8, False),
    ("csc", sp.csr_array, 1, False)])
def test_a_model_file_of_a_sparse_stream_keeps_its_rows_sparse_and_continues_identically(
        fmt, kind, saved_after, early_stopping):
    chunks, X_test, _ = _sparse_task(fmt, kind)
    est = _stream(_streamer(early_stopping=early_stopping), chunks[:saved_after])
    loaded = _saved_and_loaded(est)
    for name in ("search", "validation"):
        held, back = (getattr(m._state.stream, name).columns for m in (est, loaded))
        assert (held is None) == (not early_stopping and name == "validation")
        if held is not None:  # the same SciPy matrix, never densified
            assert sp.issparse(held[0]) and type(back[0]) is type(held[0])
            for a, b in zip((*_sparse_parts(held[0]), *held[1:]),
                            (*_sparse_parts(back[0]), *back[1:])):
                np.testing.assert_array_equal(a, b)
    if saved_after == 1:  # a first chunk is held as it was given
        assert type(est._state.stream.search.columns[0]) is type(chunks[0][0])
    for model in (est, loaded):
        _stream(model, chunks[saved_after:])
    assert est.n_growths_ >= 3
    np.testing.assert_array_equal(est.predict_proba(X_test), loaded.predict_proba(X_test))
    for a, b in zip(est.coefs_, loaded.coefs_):
        np.testing.assert_array_equal(a, b)
    timeless = [[{k: v for k, v in e.items() if k != "search_seconds"}
                 for e in m.growth_history_] for m in (est, loaded)]
    assert timeless[0] == timeless[1]
    assert est.validation_scores_ == loaded.validation_scores_


def _sparse_stream_file(change):
    """A file of a sparse stream (CSR) after ``change(search fields, tensors)``."""
    chunks, _, _ = _sparse_task("csr")
    est = _stream(_streamer(), chunks[:3])
    metadata, tensors = schema.encode(est)
    metadata = json.loads(json.dumps(metadata))
    tensors = {k: v.clone() for k, v in tensors.items()}
    change(metadata["state"]["stream"]["search"], tensors)
    raw = io.BytesIO()
    container.write(raw, metadata, tensors)
    return io.BytesIO(raw.getvalue())


def _set(name, value):
    return lambda fields, tensors: tensors.__setitem__(name, value(tensors[name]))


def _swap_first_rows(indptr):
    indptr = indptr.clone()
    indptr[1], indptr[2] = indptr[2].item(), indptr[1].item()
    return indptr


def _set_entry(at, value):
    def change(t):
        t = t.clone()
        t[at] = value
        return t
    return change


_PTR, _IND, _DATA = (f"stream.search.X.{part}" for part in ("indptr", "indices", "data"))


@pytest.mark.parametrize("change, message", [
    (_set(_PTR, lambda t: t[:-1].clone()), "tensor 'stream.search.X.indptr'"),
    (_set(_PTR, _swap_first_rows), "stream.search.X.indptr must not decrease"),
    (_set(_PTR, _set_entry(0, 1)), "stream.search.X.indptr must start at 0"),
    (_set(_PTR, _set_entry(-1, 1)), "stream.search.X.indptr must not decrease"),
    (_set(_PTR, lambda t: torch.minimum(t, t[-1] - 1)), "stream.search.X.indptr must end at"),
    (_set(_IND, _set_entry(0, 8)), r"stream.search.X.indices must lie in \[0, 8\)"),
    (_set(_IND, _set_entry(-1, -1)), r"stream.search.X.indices must lie in \[0, 8\)"),
    (_set(_IND, lambda t: t.to(torch.int32)), "tensor 'stream.search.X.indices'"),
    (_set(_IND, lambda t: t.to(torch.float64)), "tensor 'stream.search.X.indices'"),
    (_set(_DATA, lambda t: t.to(torch.float64)), "tensor 'stream.search.X.data'"),
    (_set(_DATA, _set_entry(0, float("nan"))), r"stream.search.X.data\[0\] holds NaN"),
    (_set(_DATA, _set_entry(-1, float("inf"))), r"stream.search.X.data\[0\] holds NaN"),
    (lambda f, t: f.__setitem__("nnz", f["nnz"] + 1),
     "tensor 'stream.search.X.(data|indices)'"),
    (lambda f, t: f.__setitem__("nnz", -1), "stream.search.nnz must be an integer >= 0"),
    (lambda f, t: f.__setitem__("nnz", None), "stream.search.nnz must be an integer"),
    (lambda f, t: f.__setitem__("x_format", "coo_matrix"), "stream.search.x_format"),
    (lambda f, t: f.__setitem__("x_format", None), "stream.search.nnz is for a sparse X"),
    (lambda f, t: f.__setitem__("x_format", "csc_matrix"), "tensor 'stream.search.X.indptr'"),
    (lambda f, t: (f.pop("x_format"), f.pop("nnz")), r"missing: \['stream.search.X'\]"),
])
def test_a_crafted_sparse_reservoir_is_refused_naming_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        skfold.load(_sparse_stream_file(change))


def test_an_untouched_sparse_reservoir_file_loads():
    """The file the refusals above alter: loaded, its reservoir is the saved one."""
    loaded = skfold.load(_sparse_stream_file(lambda fields, tensors: None))
    assert loaded._state.stream.search.columns[0].format == "csr"


def test_early_stopping_on_chunks_too_small_to_hold_out_a_share():
    """Chunks of 3 rows hold out 0.3 rows on average: the first one holds out one, so that the
    monitored loss is a held-out one from the first call; so does a first chunk of one row,
    whose call then trains nothing (see the next test)."""
    X, y = make_classification(200, n_features=5, random_state=0)
    est = FoldGrowClassifier(early_stopping=True, random_state=0)
    for i in range(0, 60, 3):
        est.partial_fit(X[i:i + 3], y[i:i + 3], classes=[0, 1])
    assert len(est.validation_scores_) == est.n_iter_ == 20
    assert 60 - est.t_ == len(est._state.stream.validation) >= 1
    single = FoldGrowClassifier(early_stopping=True, random_state=0)
    for i in range(5):
        single.partial_fit(X[i:i + 1], y[i:i + 1], classes=[0, 1])
    assert single.t_ == single.n_iter_ < 5  # one row per call that trained
    assert len(single.validation_scores_) == single.n_iter_


def _classes(est):
    return {"classes": [0, 1]} if isinstance(est, FoldGrowClassifier) else {}


def test_learning_rate_init_auto_steps_ten_times_further_in_partial_fit_than_in_fit():
    chunks, _, _ = _task()
    X, y = chunks[0]
    for est in (FoldGrowClassifier(random_state=0), FoldGrowRegressor(random_state=0)):
        assert clone(est).partial_fit(X, y, **_classes(est)).learning_rate_ == 0.01
        assert clone(est).set_params(solver="adam", max_iter=3).fit(X, y).learning_rate_ == 0.001
        assert clone(est).set_params(learning_rate_init=0.05).partial_fit(
            X, y, **_classes(est)).learning_rate_ == 0.05
    assert FoldGrowRegressor(solver="sgd", random_state=0).partial_fit(X, y).learning_rate_ == 0.01
    # a fit's optimizer goes on in partial_fit, its step with it; L-BFGS takes no step
    fitted = FoldGrowClassifier(solver="adam", max_iter=3, random_state=0).fit(X, y)
    assert fitted.partial_fit(*chunks[1]).learning_rate_ == 0.001
    assert FoldGrowClassifier(random_state=0).fit(X, y).learning_rate_ is None


@pytest.mark.parametrize("seed", [0, 1])
def test_a_stream_at_the_default_step_learns_more_than_at_mlpclassifiers_step(seed):
    """Twenty Adam epochs at 0.001 are few: the default step gets further in the same calls
    (both from the slides' 2-unit seed, so that the step alone differs)."""
    chunks, X_test, y_test = _task(seed)
    default = _stream(_streamer(learning_rate_init="auto"), chunks)
    mlp_step = _stream(_streamer(learning_rate_init=0.001), chunks)
    assert default.score(X_test, y_test) > mlp_step.score(X_test, y_test) + 0.1


@pytest.mark.parametrize("max_hidden_units", [3, 12, 32])
def test_a_stream_starts_from_half_the_budget_and_a_fit_from_one_unit_per_class(
        max_hidden_units):
    """``hidden_units="auto"``: in ``partial_fit`` half of ``max_hidden_units`` (a growth comes
    at most every other call; a narrow seed spends the stream growing), at least one unit
    per class; in ``fit``, one unit per class. An explicit width is kept in both."""
    chunks, _, _ = _task()
    X, y = chunks[0]
    none = dict(growth_schedule="none", max_hidden_units=max_hidden_units, random_state=0)
    streamed = FoldGrowClassifier(**none).partial_fit(X, y, classes=[0, 1])
    assert streamed.hidden_layer_sizes_ == (max(2, max_hidden_units // 2),)
    assert FoldGrowClassifier(**none).fit(X, y).hidden_layer_sizes_ == (2,)
    explicit = FoldGrowClassifier(hidden_units=3, **none).partial_fit(X, y, classes=[0, 1])
    assert explicit.hidden_layer_sizes_ == (3,)
    regressor = FoldGrowRegressor(**none).partial_fit(X, y.astype(float))
    assert regressor.hidden_layer_sizes_ == (max(2, max_hidden_units // 2),)
    # a stream begun by fit goes on with fit's network
    fitted = FoldGrowClassifier(**none).fit(X, y).partial_fit(X, y)
    assert fitted.hidden_layer_sizes_ == (2,)


@pytest.mark.parametrize("Estimator", [FoldGrowClassifier, FoldGrowRegressor])
def test_partial_fit_after_an_lbfgs_fit_goes_on_with_adam(Estimator):
    """``solver="auto"`` fits these rows with full-batch L-BFGS; ``partial_fit`` always trains
    with Adam (it used to take one L-BFGS iteration on each chunk). It starts from the fitted
    network and keeps its Adam state from call to call."""
    chunks, _, _ = _task()
    X, y = chunks[0]
    y = y if Estimator is FoldGrowClassifier else y.astype(float)
    est = Estimator(growth_schedule="none", max_iter=50, random_state=0).fit(X, y)
    assert est.solver_ == "lbfgs"
    fitted, width = est.predict(X), est.hidden_layer_sizes_
    est.partial_fit(X[:300], y[:300])
    assert est.solver_ == "adam" and est.learning_rate_ == 0.01
    assert est.hidden_layer_sizes_ == width
    # one Adam epoch moves the fitted function only a little: it went on from it
    if Estimator is FoldGrowClassifier:
        assert np.mean(est.predict(X) == fitted) > 0.9
    else:
        assert np.corrcoef(est.predict(X), fitted)[0, 1] > 0.9
    steps = est.t_
    est.partial_fit(X[:300], y[:300])
    assert est.solver_ == "adam" and est.t_ == steps + 300


def test_best_validation_score_is_the_best_defined_one_when_a_first_score_is_undefined():
    """A stream's first chunk of two rows holds one out, and R² on one row is undefined (NaN):
    ``best_validation_score_`` used to stay NaN for the rest of the stream."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(242, 3))
    y = X[:, 0] - 2 * X[:, 1]
    est = FoldGrowRegressor(early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # R² of one row: scikit-learn's UndefinedMetricWarning
        est.partial_fit(X[:2], y[:2])
        for start in range(2, 242, 40):
            est.partial_fit(X[start:start + 40], y[start:start + 40])
    scores = np.asarray(est.validation_scores_)
    assert np.isnan(scores[0]) and np.isfinite(scores[1:]).all()
    assert est.best_validation_score_ == scores[1:].max()


def test_a_stream_of_single_rows_holds_out_its_share_under_early_stopping():
    """A one-row chunk cannot be split: each is held out whole with probability
    ``validation_fraction`` (the first always, so that there is a held-out row) and that call
    trains nothing. Such a stream used to hold out no row at all, its fit the same as
    without ``early_stopping``."""
    X, y = make_classification(n_samples=400, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    est = FoldGrowClassifier(early_stopping=True, validation_fraction=0.3, random_state=0)
    trained = []
    for i in range(400):
        before = est.coefs_[0].copy() if i else None
        est.partial_fit(X[i:i + 1], y[i:i + 1], classes=[0, 1, 2])
        trained.append(i > 0 and not np.array_equal(est.coefs_[0], before))
    held = 400 - est.n_iter_  # a call trains one epoch unless its row is held out
    assert scipy.stats.binomtest(held - 1, 399, 0.3).pvalue > 1e-3  # the first, then 30 %
    assert len(est.validation_scores_) == est.n_iter_ and est.best_loss_ is None
    assert sum(trained) == est.n_iter_  # a call whose row was held out left the network alone
