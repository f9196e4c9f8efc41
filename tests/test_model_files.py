"""Model files as an attacker or a damaged disk would hand them over: every one either loads to
a consistent estimator or gives a ``ValueError``; nothing reaches torch unchecked."""

import io
import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_moons

import skfold
from skfold import FoldGrowClassifier, FoldGrowRegressor
from skfold.persistence import container, schema

X, Y = make_moons(120, noise=0.25, random_state=0)
_MODELS = {}


def model(kind):
    """A small fitted model that grew (cached: the tests only read it)."""
    if kind not in _MODELS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "adam":
                est = FoldGrowClassifier(solver="adam", max_iter=30, growth_schedule="fixed",
                                         grow_every=8, max_hidden_units=5, random_state=0,
                                         learning_rate_init=0.02).fit(X, Y)
            elif kind == "lbfgs":
                est = FoldGrowClassifier(max_iter=60, random_state=0).fit(X, np.array(
                    ["no", "yes"], dtype=object)[Y])
            else:
                est = FoldGrowRegressor(solver="sgd", max_iter=20, growth_schedule="fixed",
                                        grow_every=5, max_hidden_units=4, random_state=0,
                                        learning_rate_init=0.01).fit(X, X[:, 0] * Y)
        _MODELS[kind] = est
    return _MODELS[kind]


def crafted(metadata, tensors):
    """A file of the given content with a valid digest: what an attacker can write."""
    buffer = io.BytesIO()
    container.write(buffer, metadata, tensors)
    return buffer.getvalue()


def parts(kind):
    metadata, tensors = schema.encode(model(kind))
    return json.loads(json.dumps(metadata)), dict(tensors)


def load_bytes(raw):
    return skfold.load(io.BytesIO(raw))


def outputs(est):
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)


# --------------------------------------------------------------------------- the reproducers
def test_an_adam_moment_of_the_wrong_shape_is_refused_before_torch_sees_it():
    metadata, tensors = parts("adam")
    tensors["optimizer.exp_avg.0"] = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="optimizer.exp_avg.0"):
        load_bytes(crafted(metadata, tensors))


@pytest.mark.parametrize("mutate, message", [
    (lambda m, t: t.__setitem__("network.weight.1", torch.zeros(2, 7)), "network.weight.1"),
    (lambda m, t: t.__setitem__("network.weight.0", t["network.weight.0"][:, :1].clone()),
     "network.weight.0"),
    (lambda m, t: (t.__setitem__("network.weight.1", torch.zeros(3, t["network.weight.1"]
                                                                 .shape[1])),
                   t.__setitem__("network.bias.1", torch.zeros(3))), "needs"),
    (lambda m, t: t.__setitem__("network.weight.0", t["network.weight.0"].to(torch.int64)),
     "declared"),
    (lambda m, t: t.__setitem__("network.bias.0", torch.tensor(1.0)), "network.bias.0"),
    (lambda m, t: t["network.weight.0"].__setitem__((0, 0), float("nan")), "NaN"),
    (lambda m, t: t["optimizer.exp_avg_sq.1"].__setitem__((0, 0), -1.0), "cannot reach"),
    (lambda m, t: m["fitted"].__setitem__("n_features_in_", 3), "declared as"),
    (lambda m, t: m["state"].__setitem__("hidden_layer_sizes", [2]), "declared as"),
    (lambda m, t: m["params"].__setitem__("solver", "newton"), "solver"),
    (lambda m, t: m["state"]["schedule"].__setitem__("kind", "never"), "schedule.kind"),
    (lambda m, t: m["state"].__setitem__("n_iter", 10**6), "n_iter_"),
    (lambda m, t: m.__setitem__("estimator", "Pipeline"), "Pipeline"),
    (lambda m, t: m["state"]["history"][0].__setitem__("epoch", "soon"), "epoch"),
    (lambda m, t: m["state"]["history"][0].__setitem__("exec", "print(1)"), "does not write"),
    (lambda m, t: t.__setitem__("extra", torch.zeros(3)), "unexpected"),
    (lambda m, t: t.pop("generator"), "missing"),
    (lambda m, t: t.__setitem__("generator", torch.zeros(5, dtype=torch.uint8)), "generator"),
])
def test_an_inconsistent_model_is_refused_with_a_value_error(mutate, message):
    metadata, tensors = parts("adam")
    mutate(metadata, tensors)
    with pytest.raises(ValueError, match=message):
        load_bytes(crafted(metadata, tensors))


def test_two_class_labels_with_three_outputs_are_refused():
    metadata, tensors = parts("lbfgs")
    metadata["fitted"]["classes_"]["items"] = ["a", "b", "c"]
    metadata["fitted"]["classes_"]["shape"] = [3]
    with pytest.raises(ValueError, match="the model needs"):
        load_bytes(crafted(metadata, tensors))


def _with_header(raw, edit):
    """``raw`` with its header JSON edited by ``edit`` (the digest left as it was)."""
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + length])
    edit(header)
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + raw[8 + length:]


@pytest.mark.parametrize("version", [True, -7, 1, "1", "3", None, 2.0])
def test_a_format_version_other_than_2_is_refused(version):
    raw = crafted(*parts("adam"))
    edited = _with_header(raw, lambda h: h["__metadata__"].__setitem__("format_version",
                                                                      version))
    with pytest.raises(ValueError):
        load_bytes(edited)


def test_a_file_changed_after_it_was_saved_is_refused_by_its_digest():
    raw = bytearray(crafted(*parts("adam")))
    raw[-3] ^= 0xFF  # a byte of the last tensor
    with pytest.raises(ValueError, match="digest"):
        load_bytes(bytes(raw))


BOMB = textwrap.dedent("""
    import io, json, resource, sys
    import skfold
    raw = open(sys.argv[1], "rb").read()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + length])
    end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    # an unreferenced gigabyte, declared but not there (as a compressed archive would unpack)
    header["bomb"] = {"dtype": "F32", "shape": [2**28], "data_offsets": [end, end + 2**30]}
    text = json.dumps(header).encode()
    bomb = len(text).to_bytes(8, "little") + text + raw[8 + length:]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        skfold.load(io.BytesIO(bomb))
    except ValueError as exc:
        print("refused", exc)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, "MiB")
""")


def test_a_declared_gigabyte_is_refused_without_allocating_it(tmp_path):
    path = tmp_path / "model.skfold"
    skfold.save(model("adam"), path)
    out = subprocess.run([sys.executable, "-c", BOMB, str(path)], capture_output=True,
                         text=True, timeout=120, check=True).stdout.split("\n")
    assert out[0].startswith("refused") and "bomb" in out[0]
    assert int(out[1].split()[0]) < 50  # megabytes: nothing near the declared gigabyte


# --------------------------------------------------------------------------- properties
def _paths(obj, prefix=()):
    """Every path to a value in a nest of dicts and lists."""
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _paths(value, prefix + (i,))


def _replace(obj, path, value):
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


def _check_consistent_or_refused(raw):
    """Loads to an estimator whose every view works, or raises ValueError; nothing else."""
    try:
        est = load_bytes(raw)
    except ValueError:
        return None
    out = outputs(est)
    assert np.isfinite(out).all() and out.shape[0] == X.shape[0]
    sizes = est.hidden_layer_sizes_
    assert [c.shape[1] for c in est.coefs_[:-1]] == list(sizes)
    for layer, width in enumerate(sizes):
        for unit in range(width):
            assert isinstance(est.explain_unit(unit, layer)["summary"], str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # training on may refuse new settings, but only with a clear error
            est.set_params(warm_start=True, max_iter=2, verbose=0)
            est.fit(X, Y if hasattr(est, "classes_") and est.classes_.dtype.kind != "O"
                    else est.predict(X))
        except ValueError:
            pass
    return est


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=5), children, max_size=3), max_leaves=6)


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["adam", "lbfgs", "sgd"]), data=st.data(), value=json_values)
def test_any_crafted_metadata_loads_consistent_or_raises_value_error(kind, data, value):
    metadata, tensors = parts(kind)
    paths = [p for p in _paths(metadata) if p]
    path = data.draw(st.sampled_from(paths))
    _replace(metadata, path, value)
    _check_consistent_or_refused(crafted(metadata, tensors))


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["adam", "lbfgs", "sgd"]), data=st.data(),
       change=st.sampled_from(["dtype", "shape", "nan", "inf", "value", "drop", "add"]))
def test_any_crafted_tensor_loads_consistent_or_raises_value_error(kind, data, change):
    metadata, tensors = parts(kind)
    name = data.draw(st.sampled_from(sorted(tensors)))
    tensor = tensors[name]
    if change == "dtype":
        tensors[name] = tensor.to(data.draw(st.sampled_from(
            [torch.float32, torch.float64, torch.uint8])))
    elif change == "shape":
        tensors[name] = tensor.reshape(-1) if tensor.dim() > 1 else tensor[:-1].clone()
    elif change in ("nan", "inf", "value") and tensor.numel() and tensor.is_floating_point():
        tensor = tensor.clone()
        tensor.view(-1)[data.draw(st.integers(0, tensor.numel() - 1))] = {
            "nan": float("nan"), "inf": float("inf"),
            "value": data.draw(st.floats(-1e3, 1e3))}[change]
        tensors[name] = tensor
    elif change == "drop":
        del tensors[name]
    elif change == "add":
        tensors[name + ".copy"] = tensor.clone()
    _check_consistent_or_refused(crafted(metadata, tensors))


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["adam", "lbfgs", "sgd"]), data=st.data(),
       change=st.sampled_from(["flip", "cut", "insert"]))
def test_any_damage_to_a_file_loads_the_same_model_or_raises_value_error(kind, data, change):
    raw = bytearray(crafted(*parts(kind)))
    at = data.draw(st.integers(0, len(raw) - 1))
    if change == "flip":
        raw[at] ^= data.draw(st.integers(1, 255))
    elif change == "cut":
        raw = raw[:at]
    else:
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        est = load_bytes(bytes(raw))
    except ValueError:
        return
    np.testing.assert_array_equal(outputs(est), outputs(model(kind)))


def _distinct_paths(metadata):
    """Every path to a metadata value, lists cut to their first three entries."""
    seen, paths = set(), []
    for path in _paths(metadata):
        key = tuple("N" if isinstance(p, int) and p >= 3 else p for p in path)
        if path and key not in seen:
            seen.add(key)
            paths.append(path)
    return paths


REPLACEMENTS = [None, -1, 0, 1, 10**12, 1e300, -1.5, "x", "", [], {}, True, [1, 2], {"a": 1}]


def _sweep_metadata(kinds, values):
    for kind in kinds:
        for path in _distinct_paths(parts(kind)[0]):
            for value in values:
                metadata, tensors = parts(kind)
                _replace(metadata, path, value)
                _check_consistent_or_refused(crafted(metadata, tensors))


def test_every_metadata_field_replaced_loads_consistent_or_raises_value_error():
    _sweep_metadata(["adam"], [None, -1, 1e300, "x", [], True])


@pytest.mark.slow
def test_every_metadata_field_of_every_solver_replaced_by_any_kind_of_value():
    _sweep_metadata(["adam", "lbfgs", "sgd"], REPLACEMENTS)


def test_every_tensor_changed_loads_consistent_or_raises_value_error():
    dtypes = [torch.float32, torch.float64, torch.uint8, torch.int64]
    for kind in ["adam", "lbfgs", "sgd"]:
        for name in sorted(parts(kind)[1]):
            changes = [lambda t: t.to(d) for d in dtypes] + [
                lambda t: t.reshape(-1), lambda t: t.reshape(-1)[:-1].clone(),
                lambda t: t.reshape(-1)[0].clone()]
            if parts(kind)[1][name].is_floating_point():
                changes += [lambda t, v=v: t.clone().view(-1).index_fill_(0, torch.tensor([0]), v)
                            .view_as(t) for v in (float("nan"), float("inf"), 1e3, -5.0, 0.0)]
            for change in changes:
                metadata, tensors = parts(kind)
                tensors[name] = change(tensors[name])
                _check_consistent_or_refused(crafted(metadata, tensors))
            metadata, tensors = parts(kind)
            tensors[name + ".copy"] = tensors.pop(name)
            _check_consistent_or_refused(crafted(metadata, tensors))


# --------------------------------------------------------------------------- a sparse stream
#: The moons with a third of their inputs zero, in chunks of 30 rows, as CSR matrices.
SPARSE_CHUNKS = [(sp.csr_matrix(np.where(abs(X[i:i + 30]) < 0.5, 0, X[i:i + 30])), Y[i:i + 30])
                 for i in range(0, 120, 30)]


def sparse_stream_parts():
    """The content of a file of a classifier streamed CSR chunks, held-out rows kept."""
    if "sparse stream" not in _MODELS:
        est = FoldGrowClassifier(early_stopping=True, growth_schedule="fixed", grow_every=1,
                                 max_hidden_units=5, search_subsample=50, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for chunk, labels in SPARSE_CHUNKS[:3]:
                est.partial_fit(chunk, labels, classes=[0, 1])
        _MODELS["sparse stream"] = est
    metadata, tensors = schema.encode(_MODELS["sparse stream"])
    return json.loads(json.dumps(metadata)), {k: v.clone() for k, v in tensors.items()}


def _streams_on_or_refused(raw):
    """Loads to an estimator that takes the stream's next chunk, or raises ValueError."""
    try:
        est = load_bytes(raw)
    except ValueError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(*SPARSE_CHUNKS[3])
    assert np.isfinite(outputs(est)).all()
    return est


def _index_changes(tensor):
    """Entries an attacker could put in an index tensor: out of range, negative, shuffled."""
    changes = [lambda t, v=v, at=at: t.clone().index_fill_(0, torch.tensor([at]), v)
               for v in (-1, 0, 1, 7, 2**40) for at in (0, len(tensor) - 1)]
    return changes + [lambda t: t.flip(0).clone(), lambda t: t.clone() * 2]


def test_every_tensor_of_a_sparse_stream_changed_streams_on_or_raises_value_error():
    tensors = sparse_stream_parts()[1]
    names = sorted(name for name in tensors if name.startswith("stream."))
    assert {"stream.search.X.indptr", "stream.validation.X.data"} <= set(names)
    for name in names:
        changes = [lambda t, d=d: t.to(d) for d in (torch.float32, torch.float64, torch.int64,
                                                     torch.int32)]
        changes += [lambda t: t.reshape(-1)[:-1].clone(), lambda t: t.reshape(-1)[0].clone()]
        if tensors[name].is_floating_point():
            changes += [lambda t, v=v: t.clone().view(-1).index_fill_(0, torch.tensor([0]), v)
                        .view_as(t) for v in (float("nan"), float("inf"), 1e3, -5.0, 0.0)]
        else:
            changes += _index_changes(tensors[name])
        for change in changes:
            metadata, tensors = sparse_stream_parts()
            tensors[name] = change(tensors[name])
            _streams_on_or_refused(crafted(metadata, tensors))


def test_every_field_of_a_sparse_stream_replaced_streams_on_or_raises_value_error():
    metadata = sparse_stream_parts()[0]
    paths = _distinct_paths(metadata["state"]["stream"])
    assert ("search", "x_format") in paths and ("validation", "nnz") in paths
    for path in paths:
        for value in REPLACEMENTS + ["csc_matrix", "csr_array", "coo_matrix"]:
            metadata, tensors = sparse_stream_parts()
            _replace(metadata["state"]["stream"], path, value)
            _streams_on_or_refused(crafted(metadata, tensors))
    assert _streams_on_or_refused(crafted(*sparse_stream_parts())) is not None
