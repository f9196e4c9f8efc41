"""The estimators' shared layer: parameters, validation, fitted views, pickling and tags.

Training itself is :mod:`skfold.fit_loop`'s; the classifier and the regressor
(:mod:`skfold._estimators`) add their targets, loss and predictions.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _docs, explain, fit_setup, fit_warnings, folding, sparse_rows, stream
from ._device import resolve_device
from ._threads import thread_limits
from ._validation import (ACCEPT_SPARSE, NamedArgumentErrors, check_magnitudes,
                          validate_sample_weight, validate_Xy, weights_for_training)
from .fit_loop import FitCall, run
from .fit_state import FitState
from .growth import grow_step
from .history import mark_units_in_model
from .network import snapshot
from .objective import EVAL_CHUNK


#: Parameters that must be finite numbers (not booleans), beyond scikit-learn's intervals.
_REAL_PARAMETERS = ("min_growth_gain", "alpha", "learning_rate_init", "momentum", "tol",
                    "validation_fraction")


def _solver_is_stochastic(estimator):
    if estimator.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers; "
            f"{estimator.solver!r} is not stochastic. Use solver='adam', 'sgd' or 'auto'."
        )
    return True


class BaseFoldGrow(BaseEstimator, NamedArgumentErrors):
    """Shared machinery of :class:`FoldGrowClassifier` and :class:`FoldGrowRegressor`.

    A fitted estimator holds its training state in one :class:`~skfold.fit_state.FitState`
    (``_state``); the fitted attributes (``network_``, ``growth_history_``, ``loss_curve_``...)
    are views of it.
    """

    #: The :class:`~skfold.tasks.Task` of the subclass.
    _task = None

    _parameter_constraints: dict = {
        "hidden_units": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_hidden_units": [Interval(Integral, 1, None, closed="left")],
        "max_depth": [Interval(Integral, 1, None, closed="left")],
        "growth_schedule": [StrOptions({"plateau", "fixed", "none"})],
        "grow_every": [Interval(Integral, 1, None, closed="left")],
        "units_per_growth": [Interval(Integral, 1, None, closed="left")],
        "growth_patience": [Interval(Integral, 1, None, closed="left")],
        "min_growth_gain": [Interval(Real, 0, None, closed="left")],
        "init": [StrOptions(set(folding.INITS))],
        "instance_selection": [StrOptions(set(folding.INSTANCE_SELECTIONS))],
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "search_subsample": [Interval(Integral, 1, None, closed="left")],
        "fold_point": [StrOptions(set(folding.FOLD_POINTS))],
        "margin_fraction": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "outgoing_weights": [StrOptions(set(folding.OUTGOING_WEIGHTS))],
        "linear_seed": [StrOptions({"auto"}), "boolean"],
        "solver": [StrOptions({"auto", "lbfgs", "adam", "sgd"})],
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(self, *, hidden_units="auto", max_hidden_units=32, max_depth=1,
                 growth_schedule="plateau", grow_every=50, units_per_growth=1,
                 growth_patience=2, min_growth_gain=5.0, init="fold", instance_selection="kmeans",
                 n_clusters=8, search_subsample=2000, fold_point="segment", margin_fraction="auto",
                 outgoing_weights="zero", linear_seed="auto", solver="auto", alpha="auto",
                 batch_size="auto", learning_rate_init="auto", momentum=0.9, max_iter=1000,
                 tol=1e-4, n_iter_no_change=10, early_stopping="auto", validation_fraction=0.1,
                 device="auto", random_state=None, verbose=0, warm_start=False):
        self.hidden_units = hidden_units
        self.max_hidden_units = max_hidden_units
        self.max_depth = max_depth
        self.growth_schedule = growth_schedule
        self.grow_every = grow_every
        self.units_per_growth = units_per_growth
        self.growth_patience = growth_patience
        self.min_growth_gain = min_growth_gain
        self.init = init
        self.instance_selection = instance_selection
        self.n_clusters = n_clusters
        self.search_subsample = search_subsample
        self.fold_point = fold_point
        self.margin_fraction = margin_fraction
        self.outgoing_weights = outgoing_weights
        self.linear_seed = linear_seed
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fitted views
    def __sklearn_is_fitted__(self):
        return hasattr(self, "_state")

    network_ = property(lambda self: self._state.network, doc="The grown torch network.")
    growth_history_ = property(lambda self: self._state.history)
    loss_curve_ = property(lambda self: self._state.loss_curve)
    validation_scores_ = property(lambda self: self._state.validation_scores)
    best_validation_score_ = property(lambda self: self._state.best_validation_score)
    best_loss_ = property(lambda self: self._state.best_loss)
    alpha_ = property(lambda self: self._state.trainer.alpha)
    learning_rate_ = property(lambda self: None if self._state.solver == "lbfgs"
                              else self._state.trainer.learning_rate)
    n_iter_ = property(lambda self: self._state.n_iter)
    t_ = property(lambda self: self._state.t)
    fit_time_ = property(lambda self: self._state.fit_time)
    hidden_units_ = property(lambda self: self._state.hidden_units)
    solver_ = property(lambda self: self._state.solver)

    hidden_layer_sizes_ = property(lambda self: self.network_.hidden_sizes,
                                   doc="Current widths of the hidden layers.")
    coefs_ = property(lambda self: self.network_.coefs(),
                      doc="Weight matrices as float64 arrays of shape ``(n_in, n_out)``, as in "
                          "``MLPClassifier``.")
    intercepts_ = property(lambda self: self.network_.intercepts())
    linear_coef_ = property(lambda self: self.network_.linear_coef(),
                            doc="The linear part (``linear_seed``), ``(n_in, n_out)``, or None.")
    n_layers_ = property(lambda self: self.network_.n_hidden_layers + 2)

    @property
    def loss_(self):
        """Training loss of the last epoch (L-BFGS: iteration), L2 penalty included, as in
        ``MLPClassifier``; ``best_loss_`` is the smallest."""
        return self.loss_curve_[-1]

    @property
    def n_growths_(self):
        """Number of growth events that changed the architecture (units added or layer inserted)."""
        return sum(1 for e in self.growth_history_ if e.get("unit") is not None
                   or e.get("kind") == "deepen")

    @property
    def out_activation_(self):
        """``"softmax"`` (binary problems included) or ``"identity"``."""
        check_is_fitted(self)
        return self._task.out_activation

    # ------------------------------------------------------------------ fit
    def _check_params(self):
        self._validate_params()
        for name in _REAL_PARAMETERS:
            value = getattr(self, name)
            if isinstance(value, str):  # an "auto" the constraints let through
                continue
            if isinstance(value, bool) or not np.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}.")
        if self.hidden_units != "auto" and self.hidden_units > self.max_hidden_units:
            raise ValueError(
                f"hidden_units={self.hidden_units} exceeds max_hidden_units="
                f"{self.max_hidden_units}; the network starts at hidden_units and grows up to "
                "max_hidden_units."
            )

    def fit(self, X, y, sample_weight=None):
        """Train the network, growing it as ``growth_schedule`` says.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (one per sample: a classifier takes no multilabel targets), or
            regression targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Each sample's loss is scaled by its weight.

        Returns
        -------
        self : object
        """
        self._check_params()
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        """Train a copy of the fitted state (or a new one) and hand it over when done.

        Whatever happens before the call ends (bad input, an error, a ``KeyboardInterrupt``
        before any epoch), the estimator is left exactly as it was; an interruption after an
        epoch ends the call with the best network of the call and a warning.
        """
        previous = self.__dict__.copy()
        try:
            state, call, y_enc, sw = self._start_call(X, y, sample_weight, incremental,
                                                      classes)
            if call.data[0].shape[0]:  # a stream's one-row chunk held out trains nothing
                run(call, y_enc, sw)
            self.__dict__ = {**self.__dict__, "_state": state, "device_": call.device}
            return self
        except BaseException:
            self.__dict__ = previous
            raise

    def _start_call(self, X, y, sample_weight, incremental, classes, wide_seed=False):
        """Validate the data and prepare the state a call trains, without touching the fitted
        one. ``wide_seed``: start again from :func:`~skfold.fit_setup.nothing_to_fold_on`'s
        seed (see there)."""
        arguments = (X, y, sample_weight, incremental, classes)
        first = not hasattr(self, "_state") or not (self.warm_start or incremental)
        X, y = validate_Xy(self, X, y, reset=first)
        sw = validate_sample_weight(sample_weight, X)
        y_enc, sw = self._encode_targets(y, first, classes, sw)
        keep = sw > 0  # zero-weight rows contribute nothing: drop them exactly
        rows = np.flatnonzero(keep)  # the caller's row of each training row (growth_history_)
        if not keep.all():
            X, y_enc, sw = X[keep], y_enc[keep], sw[keep]
        solver = (self._state.solver if incremental and not first
                  else fit_setup.effective_solver(self.solver, X.shape[0], incremental))
        check_magnitudes(self, X, solver)
        sw = weights_for_training(self, sw, solver)
        device = resolve_device(self.device)
        if first:
            state = fit_setup.new_state(self, X.shape[1], self._n_output_units(), X.shape[0],
                                        incremental, device, wide_seed)
        else:
            state = self._state.copy()
            fit_setup.continue_state(self, state, X.shape[0], incremental, device)
        state.schedule.start_call()
        call = FitCall(self, state, None, rows=rows, incremental=incremental, device=device)
        val = None
        if incremental:  # the rows the stream keeps: its reservoirs (skfold.stream)
            X, y_enc, sw = stream.start_call(self, call, X, y_enc, sw, n_rows=len(keep))
        elif fit_setup.validates(self, X.shape[0]):
            (X, y_enc, sw, call.rows), val = fit_setup.split_validation(
                self, state, X, y_enc, sw, rows)
            call.val = (*fit_setup.data_tensors(self, state, *val, device), val[2])
        if first and fit_setup.uses_linear_seed(self, call):
            fit_setup.seed_linear(self, call, X, y_enc, sw, val)
            if not wide_seed and fit_setup.nothing_to_fold_on(self, call, X, y_enc, sw, val):
                return self._start_call(*arguments, wide_seed=True)
        call.data = fit_setup.data_tensors(self, state, X, y_enc, sw, device)
        state.trainer.batch_size = fit_setup.batch_size(self, X.shape[0])
        return state, call, y_enc, sw

    def grow(self, X, y, n_units=1):
        """Perform one growth step now, on ``(X, y)``, whatever the schedule says.

        With ``outgoing_weights="zero"`` the network's function is unchanged by the step
        (``"line_search"``: changed by an improvement on the searched rows); the record goes
        to ``growth_history_``. Where no searched row is mis-predicted, ``margin_fraction=
        "auto"`` folds on the smallest-margin rows (as under ``growth_schedule="fixed"``); a
        step that adds no unit (``margin_fraction=0`` there) warns, saying why.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data the search for the typical mis-predicted instance uses.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (one per sample) or regression targets, as in :meth:`fit`.
        n_units : int, default=1
            Units to add; at most ``max_hidden_units`` minus the current total.

        Returns
        -------
        self : object
        """
        check_is_fitted(self)
        if not isinstance(n_units, Integral) or n_units < 1:
            raise ValueError(f"n_units must be a positive integer, got {n_units!r}.")
        total = sum(self.network_.hidden_sizes)
        if total >= self.max_hidden_units:
            raise ValueError(
                f"The network already has {total} hidden units and max_hidden_units="
                f"{self.max_hidden_units}; raise max_hidden_units (set_params) to grow "
                "further.")
        X, y = validate_Xy(self, X, y, reset=False)
        y_enc, sw = self._encode_targets(y, False, None, np.ones(X.shape[0]))
        state = self._state.copy()  # handed over once the step is done
        check_magnitudes(self, X, state.solver)
        for name, value in fit_setup.schedule_settings(self).items():
            setattr(state.schedule, name, value)
        device = state.network.weights[0].device
        data = fit_setup.data_tensors(self, state, X, y_enc, sw, device, search_only=True)
        # as in fit: one thread for a small search
        sizes = [X.shape[1], self.max_hidden_units, self._n_output_units()]
        call = FitCall(self, state, data)  # the X given here is the caller's own: no row map
        call.settings = fit_setup.growth_settings(self, requested=True)
        with thread_limits(min(X.shape[0], self.search_subsample), sizes):
            grew = grow_step(call, *data, n_units=n_units, requested=True)
        if not grew:
            fit_warnings.warn_grew_nothing(self, state.history)
        # The grown network is the one to keep: same predictions, and the user asked for it.
        state.best = snapshot(state.network)
        mark_units_in_model(state)
        self._state = state
        return self

    def explain_unit(self, unit, layer=0, X=None):
        return explain.explain_unit(self, unit, layer, X)

    explain_unit.__doc__ = _docs.EXPLAIN_UNIT

    # ------------------------------------------------------------------ predict
    def _forward(self, X):
        """Network output as a float64 array, computed in chunks of ``EVAL_CHUNK`` rows (sparse
        X: densified a chunk at a time, of fewer rows on wide data). float32 input is computed
        in float32, as ``MLPClassifier`` does (faster products than float64 on CPU), falling
        back to float64 on overflow; other input in float64, so that a row's output does not
        depend on the batch it came in."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32),
                          accept_sparse=ACCEPT_SPARSE)
        X = sparse_rows.rows_format(X)  # sparse: CSR, its chunks densified one at a time
        out = self._chunked_output(X, X.dtype)
        if X.dtype == np.float32 and not np.isfinite(out).all():
            out = self._chunked_output(X, np.float64)
        if not np.isfinite(out).all():
            bad = ~np.isfinite(out).all(axis=1)
            raise ValueError(
                f"The network's output overflows float64 on {int(bad.sum())} row(s) of X "
                f"(largest absolute value there: {abs(X[bad]).max():.3g}): such inputs lie "
                "far outside the training data. Scale X as the training data were scaled.")
        return out

    def _chunked_output(self, X, dtype):
        net = self.network_
        device = net.weights[0].device
        torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
        weights = [w.detach().to(torch_dtype) for w in net.weights]
        biases = [b.detach().to(torch_dtype) for b in net.biases]
        out = np.empty((X.shape[0], weights[-1].shape[0]))
        with torch.no_grad():
            chunk = sparse_rows.chunk_for(X, EVAL_CHUNK)
            for start in range(0, X.shape[0], chunk):
                h = torch.as_tensor(sparse_rows.densified(X[start:start + chunk], dtype),
                                    device=device)
                x = h
                for w, b in zip(weights[:-1], biases[:-1]):
                    h = torch.addmm(b, h, w.t()).clamp_min_(0.0)
                h = torch.addmm(biases[-1], h, weights[-1].t())
                if net.linear is not None:
                    h = torch.addmm(h, x, net.linear.to(torch_dtype).t())
                out[start:start + chunk] = h.cpu().numpy()
        return out

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        if "_state" in state:
            # CPU tensors only, so a model fitted on a GPU unpickles on a CPU-only machine.
            state["_state"] = state["_state"].to_dict()
        return state

    def __setstate__(self, state):
        state = dict(state)
        if "_state" in state:
            state["_state"] = FitState.from_dict(state["_state"])
        self.__dict__.update(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags
