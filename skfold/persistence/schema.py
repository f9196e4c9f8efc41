"""What a file holds: a fitted estimator as JSON metadata and named tensors, and back.

Every value read is checked against what the others imply (shapes against the declared
architecture and ``n_features_in_``, outputs against ``classes_``, dtypes against the solver,
optimizer state against the parameters, finiteness), so that a loaded estimator is consistent
or loading raised ``ValueError``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import sklearn
import torch
from sklearn.utils.validation import check_is_fitted

from .._estimators import FoldGrowClassifier, FoldGrowRegressor
from . import codec, streams
from .rngs import _rng, _rng_state  # noqa: F401 (loading reads _rng here)

ESTIMATORS = {cls.__name__: cls for cls in (FoldGrowClassifier, FoldGrowRegressor)}
SOLVER_DTYPES = {"lbfgs": "F64", "adam": "F32", "sgd": "F32"}
#: The FitState attributes saved as they are.
PLAIN_FIELDS = ("growth_open", "n_divergences", "loss_curve", "validation_scores",
                "best_validation_score", "best_loss", "n_iter", "t", "fit_time", "phase_best",
                "last_monitored")
STATE_FIELDS = ("hidden_layer_sizes", "best_hidden_layer_sizes", "linear_part", "solver",
                "hidden_units", "stream",
                "trainer", "schedule", "rng", "n_folded_rows", "history") + PLAIN_FIELDS


def _layer_names(prefix, n_layers):
    return ([f"{prefix}.weight.{i}" for i in range(n_layers)]
            + [f"{prefix}.bias.{i}" for i in range(n_layers)])


# --------------------------------------------------------------------------- writing
def encode(est):
    """``(metadata, tensors)`` of a fitted estimator; tensors on the CPU."""
    check_is_fitted(est, msg=(f"This {type(est).__name__} is not fitted: skfold.save saves "
                              "fitted models. An unfitted estimator is its parameters alone: "
                              "save est.get_params() (as JSON, say) instead."))
    state = est._state
    net = state.network
    tensors = dict(zip(_layer_names("network", len(net.weights)),
                       [p.detach().cpu().clone() for p in list(net.weights) + list(net.biases)]))
    if net.linear is not None:
        tensors["network.linear"] = net.linear.detach().cpu().clone()
    if state.trainer.optimizer is not None:
        for key, values in state.trainer.optimizer.state_dict().items():
            tensors.update({f"optimizer.{key}.{i}": v for i, v in enumerate(values)})
    best = state.best_weights()
    if best is not None:
        tensors.update(zip(_layer_names("best", len(best[0])),
                           [t.detach().cpu().clone() for t in best[0] + best[1]]))
    tensors["generator"] = state.trainer.generator.get_state()
    if state.folded_rows:
        rows = np.frombuffer(b"".join(sorted(state.folded_rows)), dtype=np.float64)
        tensors["folded_rows"] = torch.from_numpy(rows.reshape(-1, est.n_features_in_).copy())
    stream, stream_tensors = streams.encode(state.stream)
    tensors.update(stream_tensors)
    return _metadata(est, state, best, stream), tensors


def _random_state(random_state):
    """The JSON form of ``random_state``: None, an int (a NumPy integer, as
    ``GridSearchCV`` over ``np.arange`` sets, saved as the int it is) or a
    ``RandomState``'s state."""
    if isinstance(random_state, np.random.RandomState):
        return _rng_state(random_state)
    if isinstance(random_state, np.integer):
        return int(random_state)
    return random_state


def _metadata(est, state, best, stream):
    from .. import __version__
    params = est.get_params(deep=False)
    random_state = params.pop("random_state")
    fitted = {"n_features_in_": est.n_features_in_, "device_": est.device_,
              "feature_names_in_": (None if getattr(est, "feature_names_in_", None) is None
                                    else [str(n) for n in est.feature_names_in_])}
    if isinstance(est, FoldGrowClassifier):
        fitted["classes_"] = codec.encode(est.classes_)
    else:
        fitted.update(n_outputs_=est.n_outputs_, y_ndim=est._y_ndim,
                      y_mean=est.target_mean_.tolist(), y_scale=est.target_scale_.tolist())
    trainer = state.trainer
    return {
        "estimator": type(est).__name__, "skfold_version": __version__,
        "torch_version": torch.__version__, "sklearn_version": sklearn.__version__,
        "params": codec.encode(params),
        "random_state": _random_state(random_state),
        "fitted": fitted,
        "state": codec.encode({
            "hidden_layer_sizes": list(state.network.hidden_sizes),
            "best_hidden_layer_sizes": (None if best is None
                                        else [int(w.shape[0]) for w in best[0][:-1]]),
            "linear_part": state.network.linear is not None,
            "solver": state.solver, "hidden_units": state.hidden_units,
            "trainer": {"learning_rate": trainer.learning_rate, "momentum": trainer.momentum,
                        "alpha": trainer.alpha, "batch_size": trainer.batch_size},
            "schedule": dataclasses.asdict(state.schedule), "rng": _rng_state(state.rng),
            "n_folded_rows": len(state.folded_rows), "history": state.history,
            "stream": stream,
            **{name: getattr(state, name) for name in PLAIN_FIELDS},
        }),
    }
