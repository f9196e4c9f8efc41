"""Reading a file's metadata and tensors back into an estimator, checking every value."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import torch

from ..fit_state import FitState
from ..network import GrowableMLP
from .._estimators import FoldGrowClassifier
from ..optimizers import STATE_KEYS
from ..schedule import ENDS_GROWTH, GrowthSchedule
from ..training import Trainer
from . import checks, codec, records, streams
from .schema import ESTIMATORS, PLAIN_FIELDS, SOLVER_DTYPES, STATE_FIELDS, _layer_names, _rng


def declared_layout(metadata):
    """The architecture the metadata declares: class, inputs, outputs, widths, solver."""
    metadata = checks.mapping(metadata, "the metadata", (
        "estimator", "skfold_version", "torch_version", "sklearn_version", "params",
        "random_state", "fitted", "state"))
    for name in ("skfold_version", "torch_version", "sklearn_version"):
        checks.text(metadata[name], name)
    if metadata["estimator"] not in ESTIMATORS:
        raise ValueError(f"the file holds a {metadata['estimator']!r}; skfold loads only "
                         f"{sorted(ESTIMATORS)}")
    cls = ESTIMATORS[metadata["estimator"]]
    fitted, state = metadata["fitted"], metadata["state"]
    if not isinstance(fitted, dict) or not isinstance(state, dict):
        raise ValueError("the metadata's fitted attributes and state must be objects")
    n_features = checks.integer(fitted.get("n_features_in_"), "n_features_in_", low=1)
    if cls is FoldGrowClassifier:
        classes = codec.decode(fitted.get("classes_"))
        n_outputs = len(classes) if isinstance(classes, np.ndarray) and classes.ndim == 1 else 0
        checks.labels(classes, n_outputs)
    else:
        n_outputs = checks.integer(fitted.get("n_outputs_"), "n_outputs_", low=1)
    best = state.get("best_hidden_layer_sizes")
    return SimpleNamespace(
        cls=cls, n_features=n_features, n_outputs=n_outputs,
        hidden=checks.sizes(state.get("hidden_layer_sizes"), "hidden_layer_sizes"),
        best=None if best is None else checks.sizes(best, "best_hidden_layer_sizes"),
        solver=checks.one_of(state.get("solver"), "solver", SOLVER_DTYPES),
        linear=checks.boolean(state.get("linear_part"), "linear_part"),
        n_folded=checks.integer(state.get("n_folded_rows"), "n_folded_rows"),
        stream=streams.declared(codec.decode(state.get("stream"))))


def _layer_shapes(n_features, hidden, n_outputs):
    sizes = [n_features, *hidden, n_outputs]
    return ([(b, a) for a, b in zip(sizes[:-1], sizes[1:])] + [(b,) for b in sizes[1:]])


def expected_tensors(metadata):
    """``{name: (dtype, shape)}`` of every tensor the declared model has, and no other."""
    layout = declared_layout(metadata)
    dtype = SOLVER_DTYPES[layout.solver]
    shapes = _layer_shapes(layout.n_features, layout.hidden, layout.n_outputs)
    expected = {name: (dtype, shape)
                for name, shape in zip(_layer_names("network", len(layout.hidden) + 1), shapes)}
    for key in STATE_KEYS.get(layout.solver, ()):
        expected.update({f"optimizer.{key}.{i}": (dtype, shape) for i, shape in enumerate(shapes)})
    if layout.best is not None:
        best = _layer_shapes(layout.n_features, layout.best, layout.n_outputs)
        expected.update({name: (dtype, shape) for name, shape in
                         zip(_layer_names("best", len(layout.best) + 1), best)})
    if layout.linear:
        expected["network.linear"] = (dtype, (layout.n_outputs, layout.n_features))
    expected["generator"] = ("U8", tuple(torch.Generator().get_state().shape))
    if layout.n_folded:
        expected["folded_rows"] = ("F64", (layout.n_folded, layout.n_features))
    y_shape = ((lambda rows: (rows,)) if layout.cls is FoldGrowClassifier
               else (lambda rows: (rows, layout.n_outputs)))
    expected.update(streams.expected_tensors(layout.stream, layout.n_features, y_shape))
    return expected


def decode(metadata, tensors):
    """The estimator of a file whose tensors matched :func:`expected_tensors`."""
    layout = declared_layout(metadata)
    est = layout.cls.__new__(layout.cls)
    names = set(layout.cls().get_params()) - {"random_state"}
    params = checks.mapping(codec.decode(metadata["params"]), "params", names)
    random_state = metadata["random_state"]
    if isinstance(random_state, dict):
        random_state = _rng(random_state, "random_state")
    est.__dict__.update(params, random_state=random_state)
    est._check_params()  # scikit-learn's parameter constraints
    _fitted_attributes(est, metadata["fitted"], layout)
    est._state = _fit_state(est, layout, codec.decode(metadata["state"]), tensors)
    est.device_ = checks.text(metadata["fitted"]["device_"], "device_")
    return est


def _fitted_attributes(est, fitted, layout):
    keys = {"n_features_in_", "feature_names_in_", "device_"} | (
        {"classes_"} if layout.cls is FoldGrowClassifier
        else {"n_outputs_", "y_ndim", "y_mean", "y_scale"})
    checks.mapping(fitted, "the fitted attributes", keys)
    est.n_features_in_ = layout.n_features
    names = fitted["feature_names_in_"]
    if names is not None:
        if not (isinstance(names, list) and len(names) == layout.n_features
                and all(isinstance(n, str) for n in names)):
            raise ValueError("feature_names_in_ must be n_features_in_ strings")
        est.feature_names_in_ = np.array(names, dtype=object)
    if layout.cls is FoldGrowClassifier:
        est.classes_ = codec.decode(fitted["classes_"])
        return
    est.n_outputs_ = layout.n_outputs
    est._y_ndim = checks.integer(fitted["y_ndim"], "y_ndim", low=1)
    if est._y_ndim > 2 or (est._y_ndim == 1 and layout.n_outputs != 1):
        raise ValueError("y_ndim must be 1 (one target) or 2")
    est.target_mean_ = np.array(checks.numbers(fitted["y_mean"], "y_mean",
                                               length=layout.n_outputs))
    est.target_scale_ = np.array(checks.numbers(fitted["y_scale"], "y_scale",
                                                length=layout.n_outputs))
    if not (est.target_scale_ > 0).all():
        raise ValueError("y_scale must be positive")


def _layers(tensors, prefix, n_layers):
    values = [tensors[name] for name in _layer_names(prefix, n_layers)]
    checks.finite_tensors(values, prefix)
    return values[:n_layers], values[n_layers:]


def _trainer(est, layout, settings, network, tensors):
    settings = checks.mapping(settings, "trainer", ("learning_rate", "momentum", "alpha",
                                                    "batch_size"))
    generator = torch.Generator()
    try:
        generator.set_state(tensors["generator"])
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ValueError(f"the generator's state is not a valid one: {exc}") from exc
    trainer = Trainer(network, solver=layout.solver, task=est._task, generator=generator,
                      learning_rate=checks.number(settings["learning_rate"], "learning_rate",
                                                  low=0),
                      momentum=checks.number(settings["momentum"], "momentum", low=0),
                      alpha=checks.number(settings["alpha"], "alpha", low=0),
                      batch_size=checks.integer(settings["batch_size"], "batch_size", low=1))
    if trainer.optimizer is not None:
        n_params = len(list(network.parameters()))
        state = {key: [tensors[f"optimizer.{key}.{i}"] for i in range(n_params)]
                 for key in STATE_KEYS[layout.solver]}
        for key, values in state.items():
            checks.finite_tensors(values, f"optimizer.{key}")
        _check_optimizer_state(state)
        trainer.optimizer.load_state_dict(state)
    return trainer


def _check_optimizer_state(state):
    """Values Adam could have reached: squared moments and steps >= 0, powers of the betas."""
    bounds = {"exp_avg_sq": (0, None), "step": (0, None), "beta1_power": (0, 1),
              "beta2_power": (0, 1)}
    for key, (low, high) in bounds.items():
        for i, value in enumerate(state.get(key, ())):
            if bool((value < low).any()) or (high is not None and bool((value > high).any())):
                raise ValueError(f"optimizer.{key}.{i} holds values Adam cannot reach")
    for i, step in enumerate(state.get("step", ())):
        if not bool((step == step.round()).all()):
            raise ValueError(f"optimizer.step.{i} must count whole steps")


#: Schedule fields a file written before they existed lacks, and the value they start at.
_NEWER_SCHEDULE_FIELDS = {"last_loss": float("inf"), "last_gain": 0.0, "phase_gain": 0.0}


def _schedule(fields):
    names = [f.name for f in dataclasses.fields(GrowthSchedule)]
    if isinstance(fields, dict):
        fields = {**_NEWER_SCHEDULE_FIELDS, **fields}
    fields = checks.mapping(fields, "schedule", names)
    kinds = {"kind": lambda v, n: checks.one_of(v, n, {"plateau", "fixed", "none"}),
             "skip_reason": lambda v, n: checks.one_of(v, n, set(ENDS_GROWTH), optional=True)}
    for name in ("grow_every", "n_iter_no_change", "growth_patience", "max_hidden_units",
                 "max_depth"):
        kinds[name] = lambda v, n: checks.integer(v, n, low=1)
    for name in ("epochs_without_improvement", "epochs_since_growth", "fruitless_growths",
                 "n_growths"):
        kinds[name] = checks.integer
    for name in ("tol", "min_growth_gain", "required_gain"):
        kinds[name] = lambda v, n: checks.number(v, n, low=0)
    for name in ("best_loss", "reference_loss", "best_at_last_growth", "last_loss"):
        kinds[name] = lambda v, n: checks.number(v, n, infinite=True)
    kinds["last_gain"] = checks.number
    kinds["phase_gain"] = lambda v, n: checks.number(v, n, low=0)
    return GrowthSchedule(**{name: kinds[name](value, f"schedule.{name}")
                             for name, value in fields.items()})


def _plain(values):
    """The FitState attributes saved as they are, checked."""
    lossy = lambda v, n: checks.number(v, n, infinite=True)  # noqa: E731
    out = {
        "growth_open": checks.boolean(values["growth_open"], "growth_open"),
        "n_divergences": checks.integer(values["n_divergences"], "n_divergences"),
        "loss_curve": checks.numbers(values["loss_curve"], "loss_curve"),
        "validation_scores": checks.numbers(values["validation_scores"], "validation_scores",
                                            optional=True),
        "best_validation_score": checks.number(values["best_validation_score"],
                                               "best_validation_score", optional=True),
        "best_loss": checks.number(values["best_loss"], "best_loss", infinite=True,
                                   optional=True),
        "n_iter": checks.integer(values["n_iter"], "n_iter"),
        "t": checks.integer(values["t"], "t"),
        "fit_time": {k: checks.number(v, f"fit_time.{k}", low=0) for k, v in checks.mapping(
            values["fit_time"], "fit_time", ("training", "growth")).items()},
        "phase_best": lossy(values["phase_best"], "phase_best"),
        "last_monitored": lossy(values["last_monitored"], "last_monitored"),
    }
    if out["n_iter"] != len(out["loss_curve"]):
        raise ValueError("n_iter_ must be the length of loss_curve_")
    return out


def _fit_state(est, layout, values, tensors):
    if isinstance(values, dict):
        values = {"stream": None, **values}  # written before streams kept rows
    values = checks.mapping(values, "state", STATE_FIELDS)
    linear = tensors.get("network.linear") if layout.linear else None
    if linear is not None:
        checks.finite_tensors([linear], "network.linear")
    network = GrowableMLP(*_layers(tensors, "network", len(layout.hidden) + 1), linear)
    state = FitState.__new__(FitState)
    state.__dict__.update(_plain({name: values[name] for name in PLAIN_FIELDS}))
    state.network = network
    state.trainer = _trainer(est, layout, values["trainer"], network, tensors)
    state.schedule = _schedule(values["schedule"])
    state.rng = _rng(values["rng"], "rng")
    state.stream = streams.decode(values["stream"], tensors,
                                  len(est.classes_) if layout.cls is FoldGrowClassifier
                                  else None, layout.n_features)
    state.solver = layout.solver
    state.hidden_units = checks.integer(values["hidden_units"], "hidden_units", low=1)
    rows = tensors.get("folded_rows")
    if rows is not None:
        checks.finite_tensors([rows], "folded_rows")
    state.folded_rows = set() if rows is None else {row.tobytes() for row in rows.numpy()}
    state.history = records.check_history(values["history"], {
        "classes": getattr(est, "classes_", None), "n_outputs": layout.n_outputs,
        "n_features": layout.n_features})
    state.best = (None if layout.best is None
                  else _layers(tensors, "best", len(layout.best) + 1))
    return state
