"""The scikit-learn layer: parameters, validation, targets, and the train/grow loop."""

from __future__ import annotations

import sys
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (_check_partial_fit_first_call,
                                      check_classification_targets, type_of_target)
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import folding
from ._device import resolve_device
from .growth import broaden_layer, empty_event, lies_behind_instance
from .network import GrowableMLP
from .schedule import GrowthSchedule, growth_paid
from .training import (EVAL_CHUNK, Trainer, auto_batch_size, evaluate_loss, objective,
                       thread_limits)

#: Training precision. Mini-batch solvers train in float32 (half the memory traffic on large
#: data). L-BFGS trains in float64, as scikit-learn's MLP does: its line search needs a loss
#: accurate beyond float32's 1e-7 (measured: in float32 it stalls with "ABNORMAL" line searches
#: right after a growth). Predictions are always computed in float64 so that probabilities are
#: consistent to scikit-learn's tolerances whatever the batch size.
SOLVER_DTYPES = {"lbfgs": torch.float64, "adam": torch.float32, "sgd": torch.float32}
#: ``solver="auto"`` uses full-batch L-BFGS up to this many training rows, Adam above.
#: Measured (benchmarks/mid_size.py and probes, 20 features, one thread): L-BFGS fits
#: 15,000 and 37,500 rows 10-15x faster than Adam at the same test accuracy, and 150,000 rows
#: in 20 s; on 1,000,000 rows its float64 copy of X alone would be twice a float32 X.
AUTO_LBFGS_MAX_SAMPLES = 100_000
#: After growth finds no mis-predicted row in its search subsample (a classifier that fits its
#: training rows exactly), the final L-BFGS phase trains at least this many times
#: ``n_iter_no_change`` iterations before its stopping tests apply. The loss is then near 1e-4
#: or below, where neither test (progress, largest gradient entry, both against ``tol``) can
#: see the weight decay still reshaping the weights. Measured on digits, which every seed fits
#: exactly (60 seeds, against the same fits without it): +0.42 points of test accuracy with 3,
#: +0.28 with 2, 62 L-BFGS iterations instead of 42; iris, wine, spirals and breast_cancer
#: within their noise (benchmarks/results/issue5_findings.md).
EXACT_FIT_PHASE_FACTOR = 3
#: Divergences (non-finite loss) tolerated before training stops.
MAX_DIVERGENCES = 5
#: An epoch whose loss exceeds ``1 + DIVERGENCE_FACTOR`` times the larger of the starting
#: network's batch loss and a constant predictor's loss has diverged, finite or not (Adam at
#: ``learning_rate_init=100`` explodes the loss 4000-fold and kills every unit, never NaN).
DIVERGENCE_FACTOR = 10.0
#: Largest absolute value of X (or a regression target) accepted for training, as a fraction of
#: the square root of the training dtype's maximum, so that squared errors and Adam's squared
#: gradients cannot overflow: 1.8e15 for float32 (Adam, SGD), 1.3e150 for float64 (L-BFGS).
OVERFLOW_MARGIN = 1e-4


def _constant_prediction_loss(y_enc, sample_weight, task):
    """Weighted loss of the best constant prediction: the scale a sane training loss stays under.

    Class-prior entropy (classification) or half the mean weighted variance of the targets.
    """
    w = sample_weight / sample_weight.sum()
    if task == "classification":
        prior = np.bincount(y_enc, weights=w)
        prior = prior[prior > 0]
        return float(-(prior * np.log(prior)).sum())
    mean = w @ y_enc
    return float(0.5 * (w @ (y_enc - mean) ** 2).mean())


def _solver_is_stochastic(estimator):
    if estimator.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers; "
            f"{estimator.solver!r} is not stochastic. Use solver='adam', 'sgd' or 'auto'."
        )
    return True


def _progress_bar(total, verbose):
    """A tqdm bar over epochs for ``fit`` with ``verbose >= 1``, or None.

    Only when tqdm is installed and stderr is a terminal, so that logs, captured output and
    joblib workers never fill up with bar redraws.
    """
    isatty = getattr(sys.stderr, "isatty", None)
    if verbose < 1 or isatty is None or not isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="epoch", leave=False, file=sys.stderr)


class BaseFoldGrow(BaseEstimator):
    """Shared machinery of :class:`FoldGrowClassifier` and :class:`FoldGrowRegressor`."""

    _task = None
    _plateau_stops_lbfgs = True

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
        "solver": [StrOptions({"auto", "lbfgs", "adam", "sgd"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(self, *, hidden_units="auto", max_hidden_units=32, max_depth=1,
                 growth_schedule="plateau", grow_every=50, units_per_growth=1,
                 growth_patience=2, min_growth_gain=5.0, init="fold", instance_selection="kmeans",
                 n_clusters=8, search_subsample=2000, fold_point="segment", solver="auto",
                 alpha=1e-4, batch_size="auto", learning_rate_init=1e-3, momentum=0.9,
                 max_iter=1000, tol=1e-4, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, device="auto", random_state=None, verbose=0,
                 warm_start=False):
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
    @property
    def hidden_layer_sizes_(self):
        """Current widths of the hidden layers."""
        return self.network_.hidden_sizes

    @property
    def coefs_(self):
        """Weight matrices as float64 arrays of shape ``(n_in, n_out)``, as in ``MLPClassifier``."""
        return self.network_.coefs()

    @property
    def intercepts_(self):
        return self.network_.intercepts()

    @property
    def n_layers_(self):
        return self.network_.n_hidden_layers + 2

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

    # ------------------------------------------------------------------ validation helpers
    def _check_params(self):
        self._validate_params()
        if self.hidden_units != "auto" and self.hidden_units > self.max_hidden_units:
            raise ValueError(
                f"hidden_units={self.hidden_units} exceeds max_hidden_units="
                f"{self.max_hidden_units}; the network starts at hidden_units and grows up to "
                "max_hidden_units."
            )

    def _effective_solver(self, n_samples, incremental):
        if self.solver != "auto":
            return self.solver
        if incremental or n_samples > AUTO_LBFGS_MAX_SAMPLES:
            return "adam"
        return "lbfgs"

    def _validate_sample_weight(self, sample_weight, X):
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not np.all(np.isfinite(sw)):
            raise ValueError("sample_weight contains NaN or infinity.")
        if sw.sum() <= 0:
            raise ValueError("sample_weight sums to zero: at least one sample needs a "
                             "positive weight.")
        return sw

    def _check_magnitudes(self, X, y_enc, solver):
        """Reject values whose squares would overflow the training dtype (see OVERFLOW_MARGIN)."""
        dtype = SOLVER_DTYPES[solver]
        limit = float(np.sqrt(torch.finfo(dtype).max)) * OVERFLOW_MARGIN
        checks = [("X", X, "the features first, e.g. with sklearn.preprocessing.StandardScaler "
                           "in a Pipeline")]
        if self._task == "regression":
            checks.append(("y", y_enc, "the target first, e.g. with sklearn.compose."
                                       "TransformedTargetRegressor(transformer=StandardScaler())"))
        alternative = (", or use solver='lbfgs', which trains in float64"
                       if dtype != torch.float64 else "")
        for name, values, advice in checks:
            largest = max(float(values.max()), -float(values.min()))
            if largest > limit:
                raise ValueError(
                    f"{name} contains values as large as {largest:.3g} in absolute value; "
                    f"solver={solver!r} trains in {str(dtype).removeprefix('torch.')}, where "
                    f"values above {limit:.2g} overflow. Scale {advice}{alternative}.")

    def _to_tensor(self, array, dtype=None):
        dtype = dtype or SOLVER_DTYPES[self._solver]
        np_dtype = {torch.float32: np.float32, torch.float64: np.float64,
                    torch.int64: np.int64}[dtype]
        # Copy only when needed: read-only memmaps (joblib workers) must not be shared.
        array = np.require(array, dtype=np_dtype, requirements=["C", "W"])
        return torch.from_numpy(array).to(self._device)

    # ------------------------------------------------------------------ fit
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

    def _validate_Xy(self, X, y, reset):
        """scikit-learn's checks of ``X`` and ``y``; a classifier's ``y`` with several columns
        gets its own message (scikit-learn's "y should be a 1d array" does not say why)."""
        regression = self._task == "regression"
        shape = getattr(y, "shape", None)
        if shape is None and isinstance(y, (list, tuple)):
            try:
                shape = np.shape(y)
            except ValueError:  # ragged: validate_data says what is wrong with it
                shape = None
        shape = tuple(shape or ())
        if not regression and len(shape) == 2 and shape[1] > 1:
            raise ValueError(
                f"{type(self).__name__} takes one label per sample (y of shape (n_samples,)); "
                f"got y of shape {shape}: multilabel and multi-output targets are not "
                "supported. Fit one classifier per column, e.g. with "
                "sklearn.multioutput.MultiOutputClassifier.")
        return validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32),
                             multi_output=regression, y_numeric=regression)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        first = not hasattr(self, "network_") or not (self.warm_start or incremental)
        X, y = self._validate_Xy(X, y, reset=first)
        sw = self._validate_sample_weight(sample_weight, X)
        y_enc = self._encode_targets(y, first, classes)
        keep = sw > 0  # zero-weight rows contribute nothing: drop them exactly
        rows = np.flatnonzero(keep)  # the caller's row of each training row (growth_history_)
        if not keep.all():
            X, y_enc, sw = X[keep], y_enc[keep], sw[keep]
        self._check_magnitudes(X, y_enc, self._solver if incremental and not first
                               else self._effective_solver(X.shape[0], incremental))

        self._device = resolve_device(self.device)
        if first:
            self._initialize(X.shape[1], incremental, X.shape[0])
        else:
            self._check_room_for_the_network()
            if not incremental:
                # warm start: a stale best loss (other data) would make every epoch of this
                # call look worse, and the end of the fit would restore the old network
                self._schedule.restart()
                self._forget_progress()
            self._take_changed_params(X.shape[0], incremental)
            if self.network_.weights[0].device != self._device:
                self._move_to(self._device)
        self.device_ = str(self._device)
        self._start = self._snapshot()  # the roll-back target until an epoch does better
        self._diverged_stop = False
        self._nothing_to_fold = None  # why growth found nothing to fold on, once it has

        if self.early_stopping and not incremental:
            stratify = y_enc if self._task == "classification" else None
            try:
                X, X_val, y_enc, y_val, sw, sw_val, rows, _ = train_test_split(
                    X, y_enc, sw, rows, test_size=self.validation_fraction, stratify=stratify,
                    random_state=self._rng.randint(np.iinfo(np.int32).max))
            except ValueError:
                X, X_val, y_enc, y_val, sw, sw_val, rows, _ = train_test_split(
                    X, y_enc, sw, rows, test_size=self.validation_fraction,
                    random_state=self._rng.randint(np.iinfo(np.int32).max))
            val = (self._to_tensor(X_val), self._target_tensor(y_val),
                   self._to_tensor(sw_val), sw_val)
        else:
            val = None
        data = (self._to_tensor(X), self._target_tensor(y_enc), self._to_tensor(sw))
        self._val = val
        self._data_rows = rows
        self._trainer.batch_size = self._batch_size(X.shape[0])

        budget = 1 if incremental else self.max_iter
        converged = False
        rows_per_step = X.shape[0] if self._solver == "lbfgs" else self._trainer.batch_size
        sizes = [X.shape[1], self.max_hidden_units, self._n_output_units()]
        self._progress = None if incremental else _progress_bar(budget, self.verbose)
        try:
            # all of the fit's torch work under its thread limit: one multi-threaded forward
            # pass costs 10-18 ms of spin-waiting on breast_cancer when a core is busy
            with thread_limits(rows_per_step, sizes):
                self._divergence_threshold = (1 + DIVERGENCE_FACTOR) * max(
                    self._batch_objective(data),
                    _constant_prediction_loss(y_enc, sw, self._task))
                converged = self._train_loop(data, budget, incremental)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by the user: the estimator keeps the best "
                          "network seen so far.", UserWarning, stacklevel=2)
            # The interrupted step may have left half-updated (or line-search) weights.
            self._restore_best(force=True)
        else:
            if not incremental:
                self._restore_best()
                if not converged and not self._diverged_stop:
                    warnings.warn(self._max_iter_message(), ConvergenceWarning)
        self._close_history(final=not incremental)
        self._mark_units_in_model()
        self._val = None
        self._data_rows = None
        self._start = None
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        return self

    def _initialize(self, n_features, incremental, n_samples):
        self._rng = check_random_state(self.random_state)
        generator = torch.Generator()
        generator.manual_seed(int(self._rng.randint(np.iinfo(np.int32).max)))
        self._solver = self._effective_solver(n_samples, incremental)
        self.hidden_units_ = self._seed_width()
        self.network_ = GrowableMLP.initialize(
            n_features, [self.hidden_units_], self._n_output_units(), generator=generator,
            dtype=SOLVER_DTYPES[self._solver], device=self._device)
        self._trainer = self._new_trainer(generator)
        self._schedule = GrowthSchedule(**self._schedule_settings())
        self._folded_rows = set()
        self._forget_progress()
        self._n_divergences = 0
        self._diverged_stop = False
        self.growth_history_ = []
        self._growth_open = False  # whether the last growth's training phase may still run
        self.loss_curve_ = []
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = None
        self.best_loss_ = None if self.early_stopping else np.inf
        self.n_iter_ = 0
        self.t_ = 0
        self.fit_time_ = {"training": 0.0, "growth": 0.0}

    def _check_room_for_the_network(self):
        total = sum(self.network_.hidden_sizes)
        if total > self.max_hidden_units:
            raise ValueError(
                f"The fitted network has {total} hidden units, more than max_hidden_units="
                f"{self.max_hidden_units}, and a grown network does not shrink: raise "
                "max_hidden_units, or set warm_start=False to fit a new network.")

    def _take_changed_params(self, n_samples, incremental):
        """Train a fitted network with the parameters set now (``set_params`` between calls),
        as ``MLPClassifier`` does: the schedule's settings and ``alpha`` on every call; on a
        warm-started ``fit``, also a new optimizer with the current solver, step size and
        momentum (Adam's moments start afresh, as in ``MLPClassifier``)."""
        for name, value in self._schedule_settings().items():
            setattr(self._schedule, name, value)
        if incremental:
            self._trainer.alpha = self.alpha  # the optimizer and its step size go on
            return
        if self.early_stopping and self.validation_scores_ is None:  # switched on now
            self.validation_scores_, self.best_validation_score_ = [], None
            self.best_loss_ = None  # as in a fit that stops early from the start
        if not self.early_stopping and self.best_loss_ is None:  # switched off now
            self.best_loss_ = np.inf
        self._solver = self._effective_solver(n_samples, incremental=False)
        self.network_.to(SOLVER_DTYPES[self._solver])
        self._trainer = self._new_trainer(self._trainer.generator)

    def _new_trainer(self, generator):
        """A trainer (and optimizer) for ``network_`` with the current solver and settings."""
        return Trainer(
            self.network_, solver=self._solver, learning_rate=self.learning_rate_init,
            momentum=self.momentum, alpha=self.alpha, batch_size=1, task=self._task,
            generator=generator)

    def _schedule_settings(self):
        """The estimator's parameters that the growth schedule keeps."""
        return dict(kind=self.growth_schedule, grow_every=self.grow_every,
                    n_iter_no_change=self.n_iter_no_change, tol=self.tol,
                    growth_patience=self.growth_patience)

    def _forget_progress(self):
        """No epoch of this fit measured yet: no best network, no monitored loss."""
        self._best = None
        self._last_monitored = self._phase_best = np.inf

    def _seed_width(self):
        """``hidden_units``; ``"auto"``: as many units as outputs, at least 2, at most
        ``max_hidden_units``.

        Fewer hidden units than classes make the hidden layer a rank bottleneck of the output
        logits, which growth must first undo one plateau at a time: on digits (10 classes),
        a 2-unit seed grew to 8-11 units in 860 L-BFGS iterations (0.93 test accuracy), a
        10-unit seed trained in 40 (0.95), as fast as MLPClassifier's L-BFGS of that width.
        """
        if self.hidden_units != "auto":
            return self.hidden_units
        return min(max(2, self._n_output_units()), self.max_hidden_units)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return auto_batch_size(n_samples)
        return int(np.clip(self.batch_size, 1, n_samples))

    def _move_to(self, device):
        self.network_.to(device)
        self._trainer.after_growth()

    def _max_iter_message(self):
        message = (f"{type(self).__name__}: maximum iterations ({self.max_iter}) reached and "
                   "the optimization hasn't converged yet.")
        if self._can_grow():
            # The budget, not the data, decided the network's size: say so, and what to do.
            width = sum(self.network_.hidden_sizes)
            message += (f" Growth was still under way ({width} of max_hidden_units="
                        f"{self.max_hidden_units} hidden units, and it had not stalled): raise "
                        "max_iter to let the network grow further.")
        return message

    # ------------------------------------------------------------------ train / grow loop
    def _can_grow(self):
        if self.growth_schedule == "none" or self._nothing_to_fold is not None:
            return False
        room = self.max_hidden_units - sum(self.network_.hidden_sizes)
        if room <= 0:
            return False
        if self._schedule.growth_stalled:
            return self._can_deepen(room)
        return True

    def _can_deepen(self, room):
        net = self.network_
        return net.n_hidden_layers < self.max_depth and room > net.hidden_sizes[-1]

    def _train_loop(self, data, max_epochs, incremental):
        """Alternate training phases and growth; returns whether training converged."""
        schedule = self._schedule
        epochs_left = max_epochs
        while epochs_left > 0 and not self._diverged_stop:
            can_grow = self._can_grow()
            budget = epochs_left
            if can_grow and schedule.kind == "fixed":
                budget = int(min(budget, max(1, schedule.epochs_until_growth())))
            t0 = time.perf_counter()
            ran, phase_converged = self._train_phase(data, budget,
                                                     stop_on_plateau=not incremental)
            self.fit_time_["training"] += time.perf_counter() - t0
            epochs_left -= ran
            # asked again: the phase may have made the pending growth pay, which un-stalls growth
            can_grow = self._can_grow()
            if (epochs_left > 0 or incremental) and can_grow and (
                    schedule.wants_growth() or phase_converged):
                self._grow_step(*data, n_units=self.units_per_growth)
                continue
            if not incremental and (schedule.converged or phase_converged):
                return True
            if ran == 0:
                break
        return schedule.converged

    def _train_phase(self, data, budget, stop_on_plateau):
        """Train up to ``budget`` epochs; stop early at a plateau or a due growth."""
        X, y, sw = data
        if self._solver == "lbfgs":
            start = self.n_iter_
            polish = (EXACT_FIT_PHASE_FACTOR * self.n_iter_no_change
                      if self._nothing_to_fold == folding.NOTHING_MISPREDICTED
                      and self._val is None else 0)

            def end_iteration(loss, weights):
                self._end_epoch(loss, snapshot=weights)
                if self.n_iter_ - start < polish:
                    return False
                # scikit-learn's L-BFGS convergence (max gradient below tol), but only once
                # the phase has run n_iter_no_change iterations: a freshly grown unit's
                # gradient starts below tol and must get the chance to grow.
                if (self.n_iter_ - start >= self.n_iter_no_change
                        and self._trainer.last_gradient_max < self.tol):
                    self._schedule.mark_converged()
                return (self._plateau_stops_lbfgs and self._schedule.converged) or (
                    self._schedule.wants_growth() and self._can_grow())

            nonfinite = self._trainer.n_nonfinite_losses
            _, converged = self._trainer.lbfgs(X, y, sw, max_iter=budget, gtol=1e-8,
                                               callback=end_iteration,
                                               stuck_gradient=self.tol,
                                               load_each_iteration=self._val is not None)
            ran = self.n_iter_ - start
            if self._trainer.n_nonfinite_losses > nonfinite:
                # L-BFGS-B ends its run at a non-finite line-search trial: not a convergence.
                self._handle_divergence(data, give_up=ran == 0)
                return ran, False
            if converged:
                self._schedule.mark_converged()
            return ran, converged or self._schedule.converged
        for ran in range(1, budget + 1):
            loss = self._trainer.epoch(X, y, sw)
            self.t_ += X.shape[0]
            if self._diverged(loss):
                self._handle_divergence(data)
                if self._diverged_stop:
                    return ran, False
                continue
            self._end_epoch(loss)
            if self._schedule.wants_growth() and self._can_grow():
                return ran, False
            if stop_on_plateau and self._schedule.converged:
                return ran, True
        return budget, False

    def _end_epoch(self, loss, snapshot=None):
        """Book-keeping after an epoch; ``snapshot()`` (default :meth:`_snapshot`) gives the
        epoch's weights should they be the best so far. It is kept uncalled until the best
        weights are needed (see :meth:`_best_weights`)."""
        self.n_iter_ += 1
        self.loss_curve_.append(loss)
        monitored = loss
        if self._val is not None:
            Xv, yv, swv, swv_np = self._val
            monitored = evaluate_loss(self.network_, Xv, yv, swv, self._task)
            score = self._validation_score(Xv, yv, swv_np)
            self.validation_scores_.append(score)
            if self.best_validation_score_ is None or score > self.best_validation_score_:
                self.best_validation_score_ = score
        else:
            # partial_fit after an early-stopping fit has no validation set: track the loss.
            self.best_loss_ = min(np.inf if self.best_loss_ is None else self.best_loss_, loss)
        self._phase_best = min(self._phase_best, monitored)
        self._last_monitored = monitored
        if self._schedule.observe(monitored):
            self._best = snapshot or self._snapshot()
        if self.verbose >= 2:
            score = (f", validation score = {self.validation_scores_[-1]:.6f}"
                     if self._val is not None else "")
            self._say(f"Iteration {self.n_iter_}, loss = {loss:.8f}{score}, "
                      f"hidden units = {self.network_.hidden_sizes}")
        progress = getattr(self, "_progress", None)
        if progress is not None:
            progress.set_postfix(loss=f"{loss:.4g}", units=sum(self.network_.hidden_sizes),
                                 refresh=False)
            progress.update(1)

    def _say(self, message):
        """Print a verbose line (through the progress bar, when there is one)."""
        progress = getattr(self, "_progress", None)
        if progress is not None:
            progress.write(message)
        else:
            print(message)

    def _snapshot(self):
        return ([w.detach().clone() for w in self.network_.weights],
                [b.detach().clone() for b in self.network_.biases])

    @torch.no_grad()
    def _batch_objective(self, data):
        """Training objective (penalty included) of the current network on the first batch."""
        X, y, sw = (t[: self._trainer.batch_size] for t in data)
        return float(objective(self.network_, X, y, sw, self._task, self.alpha))

    def _diverged(self, loss):
        """Whether an Adam/SGD epoch's loss is non-finite or exploded (see DIVERGENCE_FACTOR)."""
        return not np.isfinite(loss) or loss > self._divergence_threshold

    def _handle_divergence(self, data, give_up=False):
        """Roll back to the last good weights, lower the step (Adam/SGD) and warn.

        The best network seen is the roll-back target unless its loss has itself exploded
        (a mini-batch epoch's loss is measured while its weights move), then the network this
        fit started from. Training stops after ``MAX_DIVERGENCES`` divergences.
        """
        self._n_divergences += 1
        for target in (self._best_weights(), self._start):
            if target is None:
                continue
            self._load_weights(*target)
            if not self._diverged(self._batch_objective(data)):
                break
        if self._trainer.optimizer is not None:
            lr = self._trainer.learning_rate * 0.1
            self._trainer.set_learning_rate(lr)
            self._trainer.after_growth()
            self._trainer.optimizer.state.clear()
            action = f"lowered the learning rate to {lr:g}"
        else:
            action = "restarted L-BFGS from them"
        self._diverged_stop = give_up or self._n_divergences >= MAX_DIVERGENCES
        if self._diverged_stop:
            action = "stopped training"
        warnings.warn(
            f"{type(self).__name__}: the training loss diverged (non-finite or exploding, "
            f"divergence {self._n_divergences} of at most {MAX_DIVERGENCES}); rolled back to "
            f"the last good weights and {action}. Lower learning_rate_init, or scale the data "
            "(e.g. sklearn.preprocessing.StandardScaler).", ConvergenceWarning)

    def _load_weights(self, weights, biases):
        net = self.network_
        if tuple(w.shape for w in weights) == tuple(w.shape for w in net.weights):
            with torch.no_grad():
                for p, v in zip(list(net.weights) + list(net.biases), list(weights) + list(biases)):
                    p.copy_(v)
            return
        self.network_ = GrowableMLP([w.clone() for w in weights], [b.clone() for b in biases])
        self._trainer.network = self.network_
        self._trainer.after_growth()

    def _restore_best(self, force=False):
        """Return to the best network seen, unless the final one is within ``tol`` of it.

        ``force`` (after an interruption) always returns to the best network measured, or to
        the network the fit started from when no epoch ended.
        """
        if force and self._best is None and getattr(self, "_start", None) is not None:
            self._load_weights(*self._start)
        elif self._best is not None and (
                force or self._schedule.best_loss < self._last_monitored - self.tol
                or not np.isfinite(self._last_monitored)):
            self._load_weights(*self._best_weights())

    def _best_weights(self):
        """``(weights, biases)`` of the best epoch so far, or None.

        L-BFGS improves on almost every iteration and hands its iterate over as a function;
        turning it into tensors each time took 5% of a small fit, so it is done here, once.
        """
        if callable(self._best):
            self._best = self._best()
        return self._best

    def _mark_units_in_model(self):
        """Set every record's ``in_final_model``: whether its unit is in the network now (a
        return to an earlier, narrower network drops the units grown after it); None for a
        record without a unit."""
        sizes = self.network_.hidden_sizes
        for event in self.growth_history_:
            unit, layer = event.get("unit"), event.get("layer")
            event["in_final_model"] = (None if unit is None
                                       else layer < len(sizes) and unit < sizes[layer])

    def _close_history(self, final=True):
        """Record the loss after the last growth's training phase: its best monitored loss.

        ``final=False`` (the end of a ``partial_fit`` call) records the best so far: the phase
        goes on in the next calls, which update the record until the next growth closes it.
        """
        if not getattr(self, "_growth_open", False):
            return
        phase_best = self._phase_best
        for event in self._events_of_last_growth():
            event["loss_after"] = float(phase_best) if np.isfinite(phase_best) else None
        self._growth_open = not final

    def _events_of_last_growth(self):
        last = self.growth_history_[-1]["growth"]
        return [e for e in self.growth_history_ if e["growth"] == last]

    def _grow_step(self, X, y, sw, n_units, requested=False):
        """Grow by up to ``n_units`` units (deepening first when widening stopped paying).

        ``requested``: the user called :meth:`grow`, so a growth that could not pay is made
        all the same.
        """
        t0 = time.perf_counter()
        self._close_history()
        loss_before = float(self._schedule.best_loss)
        net = self.network_
        room = self.max_hidden_units - sum(net.hidden_sizes)
        total_weight = float(sw.sum())
        events = []
        before = self._snapshot()
        try:
            if self._schedule.growth_stalled and self._can_deepen(room):
                layer = folding.equivalent_deepening(net)
                self._trainer.after_growth()
                self._schedule.reset_patience()
                room -= net.hidden_sizes[layer]
                events.append({**empty_event(layer, None, None, kind="deepen"),
                               "width": net.hidden_sizes[layer]})
            layer = net.n_hidden_layers - 1
            n_units = min(n_units, room)
            if n_units > 0:
                widen_events, replaced = broaden_layer(
                    net, layer, X, y, sw, task=self._task, n_units=n_units, init=self.init,
                    instance_selection=self.instance_selection, n_clusters=self.n_clusters,
                    search_subsample=self.search_subsample, fold_point=self.fold_point,
                    rng=self._rng, generator=self._trainer.generator,
                    folded_rows=self._folded_rows,
                    max_instance_loss=(np.inf if requested
                                       else self._largest_payable_instance_loss(total_weight)))
                self._trainer.after_growth(replaced)
                events.extend(widen_events)
            if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
                raise FloatingPointError("the grown network has non-finite weights")
        except (ValueError, ArithmeticError, RuntimeError) as exc:
            # A numerical failure of the search (QP, SVD, k-means...) must not end the fit.
            self._load_weights(*before)
            net = self.network_
            reason = f"growth failed: {type(exc).__name__}: {exc}"
            warnings.warn(f"{type(self).__name__}: {reason}; the network is left unchanged "
                          "and training continues.", RuntimeWarning)
            events = [{"kind": "widen", "layer": net.n_hidden_layers - 1, "unit": None,
                       "init": self.init, "skipped": reason}]
        # at most search_subsample rows, spread over the data: its first rows may all come
        # from one class or one end of a sorted feature
        dead = folding.dead_units(net, X[:: -(-X.shape[0] // self.search_subsample)])
        growth_index = 1 + max((e["growth"] for e in self.growth_history_), default=-1)
        seconds = time.perf_counter() - t0
        rows = getattr(self, "_data_rows", None)
        gain_needed = max(self.tol, self._required_gain(events, total_weight))
        for event in events:
            if rows is not None and event.get("instance_index") is not None:
                event["instance_index"] = int(rows[event["instance_index"]])
            self._decode_event(event)
            event.update(growth=growth_index, epoch=self.n_iter_, loss_before=loss_before,
                         loss_after=None, gain_needed=gain_needed, dead_units=dead,
                         search_seconds=seconds, hidden_layer_sizes=net.hidden_sizes)
        self.growth_history_.extend(events)
        self._growth_open = True
        # A classifier that gets every searched row right gives folding nothing to fold on,
        # and the next plateau would not either: stop growing for the rest of this call
        # (measured: three more futile phases of 10 L-BFGS iterations on breast_cancer).
        reasons = {e.get("skipped") for e in events}
        self._nothing_to_fold = next(
            (r for r in (folding.NOTHING_MISPREDICTED, folding.CANNOT_PAY) if r in reasons), None)
        self._schedule.on_growth(required_gain=gain_needed)
        self._phase_best = np.inf
        self.fit_time_["growth"] += seconds
        if self.verbose >= 1:
            for e in events:
                where = (f"unit {e['unit']} of layer {e['layer']}" if e["unit"] is not None
                         else e.get("skipped") or f"new layer {e['layer']}")
                dist = e.get("fold_distance")
                dist_txt = f", fold distance {dist:.4g}" if dist is not None else ""
                self._say(f"Growth {growth_index} at epoch {self.n_iter_}: {e['kind']} {where}, "
                          f"loss {loss_before:.6g}, instance {e.get('instance_index')}"
                          f"{dist_txt}, hidden units {net.hidden_sizes}")

    def _required_gain(self, events, total_weight):
        """What a growth must lower the monitored loss by, besides ``tol``, to pay:
        ``min_growth_gain`` times the folded instances' share of the training loss.

        A unit that removes little more than the loss of the row it was folded on fitted that
        row, not a region: on noisy data (moons) growth otherwise goes on paying a little more
        than ``tol`` per unit, fitting noise. Growths without an instance (deepening, the
        ``"gradmax"`` and ``"random"`` inits) need ``tol`` only.
        """
        instance_loss = sum(e["instance_loss"] for e in events
                            if e.get("instance_loss") is not None)
        return self.min_growth_gain * instance_loss / total_weight

    def _largest_payable_instance_loss(self, total_weight):
        """An instance with at least this loss cannot pay for its growth: the gain it needs
        (:meth:`_required_gain`) would be the whole monitored loss, which cannot fall below 0.
        """
        if self.min_growth_gain == 0 or not np.isfinite(self._schedule.best_loss):
            return np.inf
        return self._schedule.best_loss * total_weight / self.min_growth_gain

    def grow(self, X, y, n_units=1):
        """Perform one growth step now, on ``(X, y)``, whatever the schedule says.

        The network's function is unchanged by the step; the record goes to
        ``growth_history_``.

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
        X, y = self._validate_Xy(X, y, reset=False)
        y_enc = self._encode_targets(y, first=False, classes=None)
        self._check_magnitudes(X, y_enc, self._solver)
        self._device = self.network_.weights[0].device
        sw = torch.ones(X.shape[0], dtype=SOLVER_DTYPES[self._solver], device=self._device)
        # as in fit: one thread for a small search (measured 5x faster on 100 rows, 2 cores)
        sizes = [X.shape[1], self.max_hidden_units, self._n_output_units()]
        self._data_rows = None  # the X given here is the caller's own: no row mapping
        with thread_limits(min(X.shape[0], self.search_subsample), sizes):
            self._grow_step(self._to_tensor(X), self._target_tensor(y_enc), sw,
                            n_units=n_units, requested=True)
        # The grown network is the one to keep: same predictions, and the user asked for it.
        self._best = self._snapshot()
        self._mark_units_in_model()
        return self

    def explain_unit(self, unit, layer=0, X=None):
        """Why hidden unit ``unit`` of ``layer`` exists: the mistake it was grown to fix.

        Parameters
        ----------
        unit : int
            Index of the unit within its layer, as in ``coefs_[layer][:, unit]``.
        layer : int, default=0
            Hidden layer, 0 being the first.
        X : array-like of shape (n_samples, n_features), default=None
            Rows in the estimator's input space (after a pipeline's preprocessing). When given,
            the explanation also says on how many of them the unit is active: a unit active
            on none of the training rows outputs 0 on all of them (a dead unit), whatever it
            was grown for, and gets no gradient.

        Returns
        -------
        explanation : dict
            ``origin``: ``"seed"`` (one of the ``hidden_units`` the network started with),
            ``"deepen"`` (an identity unit of a layer inserted by deepening) or ``"growth"``;
            ``summary``: a sentence saying why the unit exists. A grown unit's dict also holds
            its ``growth_history_`` record (``epoch``, ``init``, ``instance_index``, ``x_t``,
            ``x_f``, ``predicted``, ``true``, ``fold_distance``, ``loss_before``,
            ``loss_after``, ``gain_needed``, ``fallback``...), ``loss_change = loss_after -
            loss_before``: how the monitored loss moved over the training phase that followed
            its growth, and ``paid``: whether it fell by more than ``gain_needed`` (None while
            that phase runs in ``fit``; so far, between ``partial_fit`` calls). With ``X``:
            ``n_active`` and ``active_fraction``, the number and the share of the rows of ``X``
            where the unit's pre-activation is positive.
        """
        check_is_fitted(self)
        sizes = self.network_.hidden_sizes
        if not isinstance(layer, Integral) or not 0 <= layer < len(sizes):
            raise ValueError(f"layer must be an integer in [0, {len(sizes) - 1}]; got {layer!r}.")
        if not isinstance(unit, Integral) or not 0 <= unit < sizes[layer]:
            raise ValueError(f"Layer {layer} has {sizes[layer]} units; unit must be an integer "
                             f"in [0, {sizes[layer] - 1}], got {unit!r}.")
        explanation = self._explain_origin(unit, layer)
        if X is not None:
            n_active, n = self._active_rows(unit, layer, X)
            if n_active:
                said = f" It is active on {n_active} of the {n} rows of X ({n_active / n:.1%})."
            else:
                said = (f" It is active on none of the {n} rows of X: it outputs 0 on all of "
                        "them (a dead unit) and gets no gradient from them.")
            explanation.update(n_active=n_active, active_fraction=n_active / n,
                               summary=explanation["summary"] + said)
        return explanation

    def _explain_origin(self, unit, layer):
        """:meth:`explain_unit` from ``growth_history_`` alone."""
        name = f"Unit {unit} of layer {layer}"
        record = None
        for event in self.growth_history_:
            if event.get("layer") != layer:
                continue
            if event.get("kind") == "deepen":
                record = event if unit < event.get("width", 0) else None
            elif event.get("unit") == unit:
                record = event
        if record is None:
            return {"layer": layer, "unit": unit, "origin": "seed",
                    "summary": f"{name} is a seed unit: the network started with it."}
        if record["kind"] == "deepen":
            return {"layer": layer, "unit": unit, "origin": "deepen",
                    "epoch": record.get("epoch"), "growth": record.get("growth"),
                    "summary": f"{name} was created at epoch {record.get('epoch')} as a copy "
                               f"(identity) of unit {unit} of layer {layer - 1}, when the "
                               "network was deepened."}
        explanation = {**record, "origin": "growth"}
        before, after = record.get("loss_before"), record.get("loss_after")
        change = None if before is None or after is None else after - before
        explanation["loss_change"] = change
        needed = record.get("gain_needed")
        explanation["paid"] = growth_paid(record)
        summary = f"{name} was added at epoch {record['epoch']} (init={record['init']!r})"
        if record.get("x_t") is None:
            summary += ", without a typical instance."
        else:
            fold = record.get("x_f") if record.get("x_f") is not None else record.get("h_f")
            fallback = record.get("fallback")
            point = (f"{np.round(fold, 4).tolist()}"
                     + (" (in the layer's input space)" if layer else "")
                     + f" at distance {record['fold_distance']:.4g} from it")
            if lies_behind_instance(fallback):
                where = (f"its hyperplane lies just behind it, normal to the loss gradient "
                         f"there, through {point} (fallback {fallback!r}, instead of a fold "
                         "point)")
            else:
                where = (f"its hyperplane passes through the fold point {point}"
                         + (f" (fallback {fallback!r})" if fallback else ""))
            summary += (f" to fix instance {record['instance_index']}, "
                        f"x_t = {np.round(record['x_t'], 4).tolist()}, predicted "
                        f"{record['predicted']!r} where the truth is {record['true']!r}; "
                        f"{where}.")
        if change is not None:
            summary += f" The monitored loss went from {before:.4g} to {after:.4g} ({change:+.3g})"
            if explanation["paid"] is None:
                summary += "."
            else:
                summary += (f": the growth {'paid' if explanation['paid'] else 'did not pay'} "
                            f"(it needed a fall of more than {needed:.3g}, see tol and "
                            "min_growth_gain).")
        explanation["summary"] = summary
        return explanation

    def _active_rows(self, unit, layer, X):
        """How many rows of ``X`` give the unit a positive pre-activation, and of how many."""
        X = validate_data(self, X, reset=False, dtype=np.float64)
        net = self.network_
        weight, bias = net.weights[layer].detach()[unit], net.biases[layer].detach()[unit]
        n_active = 0
        with torch.no_grad():
            for start in range(0, X.shape[0], EVAL_CHUNK):
                rows = torch.as_tensor(X[start:start + EVAL_CHUNK], dtype=weight.dtype,
                                       device=weight.device)
                n_active += int(((net.hidden_input(rows, layer) @ weight + bias) > 0).sum())
        return n_active, X.shape[0]

    # ------------------------------------------------------------------ predict
    def _forward(self, X):
        """Network output as a float64 array, computed in chunks of ``EVAL_CHUNK`` rows.

        float32 input is computed in float32, as ``MLPClassifier`` does (measured: 3x faster
        matrix products than float64 on CPU), falling back to float64 if that overflows; any
        other input in float64, so that a row's output does not depend on the batch it came in.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        out = self._chunked_output(X, X.dtype)
        if X.dtype == np.float32 and not np.isfinite(out).all():
            out = self._chunked_output(X, np.float64)
        if not np.isfinite(out).all():
            bad = ~np.isfinite(out).all(axis=1)
            raise ValueError(
                f"The network's output overflows float64 on {int(bad.sum())} row(s) of X "
                f"(largest absolute value there: {np.abs(X[bad]).max():.3g}): such inputs lie "
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
            for start in range(0, X.shape[0], EVAL_CHUNK):
                # Read-only input (pandas copy-on-write, memmaps) is copied: torch warns on it.
                h = torch.as_tensor(np.require(X[start:start + EVAL_CHUNK], dtype=dtype,
                                               requirements=["W"]), device=device)
                for w, b in zip(weights[:-1], biases[:-1]):
                    h = torch.addmm(b, h, w.t()).clamp_min_(0.0)
                h = torch.addmm(biases[-1], h, weights[-1].t())
                out[start:start + EVAL_CHUNK] = h.cpu().numpy()
        return out

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_device", None)
        state.pop("_val", None)
        state.pop("_progress", None)
        if "network_" in state:
            # CPU tensors only, so a model fitted on a GPU unpickles on a CPU-only machine.
            net, trainer = state.pop("network_"), state.pop("_trainer")
            state["_network_state"] = {
                "weights": [w.detach().cpu() for w in net.weights],
                "biases": [b.detach().cpu() for b in net.biases],
            }
            state["_trainer_state"] = trainer.state_dict()
            best = self._best_weights() if "_best" in state else None
            if best is not None:
                state["_best"] = tuple([t.cpu() for t in ts] for ts in best)
        return state

    def __setstate__(self, state):
        network_state = state.pop("_network_state", None)
        trainer_state = state.pop("_trainer_state", None)
        self.__dict__.update(state)
        if network_state is not None:
            self.network_ = GrowableMLP(network_state["weights"], network_state["biases"])
            self._trainer = Trainer.from_state_dict(self.network_, trainer_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class FoldGrowClassifier(ClassifierMixin, BaseFoldGrow):
    """Classifier that grows a ReLU MLP by folding on typical mis-predicted instances.

    Training starts from a single hidden layer of ``hidden_units`` units. Whenever training
    stops improving (``growth_schedule="plateau"``), the estimator finds a *typical
    mis-predicted instance* ``x_t`` (loss-weighted k-means over a subsample, worst cluster, the
    mis-predicted member nearest its centroid), takes the affine map of ``x_t``'s activated
    linear segment, finds the *fold point* ``x_f`` (the closest point to ``x_t`` on that
    segment's boundary between the predicted and the true class) and adds a hidden unit whose
    hyperplane passes through ``x_f``, active on ``x_t``'s side, with zero outgoing weights, so
    the network's function is unchanged at the moment of growth. Then it trains on.

    Parameters
    ----------
    hidden_units : int or "auto", default="auto"
        Width of the single seed hidden layer. ``"auto"``: one unit per class, at least 2 (the
        slides' "2-2-2" network for binary data) and at most ``max_hidden_units``; a seed
        narrower than the output layer is a rank bottleneck that growth must first undo. A
        wider seed reaches a given width in fewer training phases, so it fits faster
        (``benchmarks/results/speed.md``), and leaves growth less to decide.
    max_hidden_units : int, default=32
        Upper bound on the total number of hidden units over all layers; growth stops there.
    max_depth : int, default=1
        Maximum number of hidden layers. ``1`` is the slides' shallow network; above 1, an
        identity layer is inserted (function-preserving) when widening the deepest layer stopped
        paying for ``growth_patience`` growths, and is then widened by folding in its own input
        space. Deepening only happens when the identity layer fits within ``max_hidden_units``.
    growth_schedule : {"plateau", "fixed", "none"}, default="plateau"
        When to grow. ``"plateau"``: when the monitored loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs (or L-BFGS converged), or after ``10 * n_iter_no_change``
        epochs of slow progress since the last growth. ``"fixed"``: every ``grow_every``
        epochs. ``"none"``: never; a plain MLP of width ``hidden_units``.
    grow_every : int, default=50
        Epochs (L-BFGS: iterations) between growths with ``growth_schedule="fixed"``.
    units_per_growth : int, default=1
        Units added per growth step, each on its own typical instance: the worst cluster's,
        then the next worst cluster's, and so on (one k-means serves them all).
    growth_patience : int, default=2
        Growth stops (or the network deepens, see ``max_depth``) after this many growths in a
        row that did not pay (see ``min_growth_gain``); a growth that pays, however late in
        its training phase, lets growth go on.
    min_growth_gain : float, default=5.0
        A growth pays when, before the next one, the monitored loss falls by more than ``tol``
        and by more than ``min_growth_gain`` times the folded instance's own share of the
        training loss (its loss over the number of training rows): the unit must fix more
        than the row it was folded on. On noisy data this stops growth where new units would
        fit noise one row at a time. When every mis-predicted row carries so much loss that
        no growth on it could pay (the gain it needs exceeds the whole monitored loss), the
        growth is skipped, recorded, and growth stops. ``0`` leaves ``tol`` alone (its
        "growth gain" row in ``benchmarks/results/ablations.md``).
    init : {"fold", "fold_direction", "gradmax", "random"}, default="fold"
        How a new unit's weights are set. ``"fold"``: hyperplane through ``x_f``, direction
        ``x_t - x_f`` refined by projected gradient ascent on the gradient norm the unit's
        outgoing weights will receive (within a 75 degree cone); its incoming weights have the
        median norm of the layer's other units, or a fresh unit's (sqrt(2)) when it is active
        on more than 90% of the search rows. ``"fold_direction"``: the same without the
        ascent. ``"gradmax"``: Evci et al. (2022), zero incoming weights and outgoing weights
        along the top singular vectors of the back-propagated gradient. ``"random"``:
        He-scaled random incoming weights. All leave the network's function unchanged.
    instance_selection : {"kmeans", "max_loss", "random"}, default="kmeans"
        How ``x_t`` is picked among mis-predicted rows of the search subsample: the slides'
        loss-weighted k-means, the single worst row, or a random row.
    n_clusters : int, default=8
        Clusters of the loss-weighted k-means (clipped to the number of distinct rows).
    search_subsample : int, default=2000
        Rows drawn for the growth search; bounds its cost whatever the training set size.
    fold_point : {"segment", "nearest"}, default="segment"
        ``"nearest"``: the slides' projection of ``x_t`` onto its segment's decision boundary.
        ``"segment"``: the nearest boundary point inside the closure of the segment's region (a
        small convex QP), falling back to the region's point nearest the projection when the
        boundary misses the region. Where there is no fold point (a flat segment, or ``x_t``
        already on the boundary), or where a unit through it would add nothing (its output
        on the searched rows a combination of the other units' and a constant: a fold point
        beyond the data of a layer already affine there, or on an existing unit's
        hyperplane), the unit's hyperplane is normal to the loss gradient at ``x_t`` and lies
        just behind it, and ``growth_history_`` records the fallback.
    solver : {"auto", "lbfgs", "adam", "sgd"}, default="auto"
        ``"auto"`` uses full-batch L-BFGS up to 100,000 training rows and Adam above
        (``partial_fit`` always uses Adam with ``"auto"``). An L-BFGS run whose line search
        fails on a ReLU kink while the largest gradient entry is still above ``tol`` is moved
        off the kink by a few full-batch Adam steps and resumed.
    alpha : float, default=1e-4
        L2 penalty, scaled as in ``MLPClassifier``.
    batch_size : int or "auto", default="auto"
        Mini-batch size for Adam/SGD; ``"auto"`` is ``min(200, n_samples)`` as in
        ``MLPClassifier``, but ``n_samples // 1000`` above 200,000 rows: per-step overhead, not
        arithmetic, sets the epoch time of small batches (see ``benchmarks/speed.py``).
    learning_rate_init : float, default=1e-3
        Step size of Adam/SGD.
    momentum : float, default=0.9
        Nesterov momentum of SGD.
    max_iter : int, default=1000
        Maximum epochs (Adam/SGD) or iterations (L-BFGS) over the whole fit, growth included.
        A fit that runs out of them while growth still pays warns so (``ConvergenceWarning``):
        its width was set by the budget, not by the data.
    tol : float, default=1e-4
        Minimum improvement of the monitored loss that counts as progress: over
        ``n_iter_no_change`` epochs (else a plateau), and over a growth's training phase (else
        the growth did not pay, see ``growth_patience``). Under L-BFGS a largest gradient entry
        below ``tol`` also ends a phase, as in ``MLPClassifier``. A larger value (``1e-3``)
        stops growing sooner: fewer units, a shorter fit. Where the network classifies every
        training row right, the loss is about ``1e-4`` or below while the weight decay
        ``alpha`` still improves the weights, and neither test sees it: the last L-BFGS phase
        then trains ``3 * n_iter_no_change`` iterations before they apply (digits: +0.4
        points of test accuracy). A smaller ``tol`` (``1e-6``) trains on longer everywhere;
        it can cost time or accuracy (see the README).
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement that make a plateau (after a growth that found no
        mis-predicted row, L-BFGS trains at least three times as many, see ``tol``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified) and monitor its loss; the best
        network on it is kept.
    validation_fraction : float, default=0.1
        Share of the training data held out when ``early_stopping=True``.
    device : str, default="auto"
        Torch device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:1"``... An unavailable device raises ``ValueError`` at ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batching, the growth search and the validation split.
        Only a local ``torch.Generator`` is used; global RNGs are never touched.
    verbose : int, default=0
        ``1`` prints one line per growth (epoch, loss, hidden units, the typical instance's row,
        the fold point's distance) and, when tqdm is installed and stderr is a terminal, shows
        a progress bar over epochs in ``fit``; ``2`` also prints the loss of every epoch, as
        ``MLPClassifier`` does.
    warm_start : bool, default=False
        Continue from the fitted (grown) network instead of starting afresh, with the
        parameters set now (a changed ``solver``, ``learning_rate_init``, ``alpha``, ``tol``...
        takes effect; the optimizer starts afresh, as in ``MLPClassifier``). The network
        keeps its units, so ``max_hidden_units`` must not fall below their number.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.
    n_outputs_ : int
        Output units (one logit per class; binary problems have 2).
    hidden_units_ : int
        Width the seed hidden layer had (``hidden_units`` with ``"auto"`` resolved).
    hidden_layer_sizes_ : tuple of int
        Current widths of the hidden layers.
    n_layers_ : int
        Hidden layers plus input and output.
    out_activation_ : str
        ``"softmax"`` (binary problems included).
    n_growths_ : int
        Growth events that changed the architecture.
    growth_history_ : list of dict
        One record per unit added (or per deepening, or per skipped growth): ``growth``,
        ``epoch``, ``kind``, ``layer``, ``unit``, ``init``, ``instance_index``, ``x_t``,
        ``x_f`` (``h_t``/``h_f`` for deep layers), ``fold_distance``, ``predicted``, ``true``,
        ``cluster_size``, ``cluster_mean_loss``, ``loss_before``, ``loss_after`` (the best
        monitored loss of the training phase after the growth; with ``partial_fit``, the best
        so far while that phase goes on), ``gain_needed`` (the fall of the loss by which the
        growth would pay, see ``min_growth_gain``), ``fallback``, ``skipped``, ``dead_units``
        (``{layer: [unit, ...]}`` of the units that none of at most ``search_subsample`` rows,
        spread evenly over the training data, activates after the growth),
        ``search_seconds``, ``in_final_model``. Readable as a ``pandas.DataFrame``.
        ``fallback`` is None or the steps taken instead of the fold recipe, joined by ``"+"``:
        ``"boundary_outside_segment"`` (the region's point nearest the boundary),
        ``"flat_segment"``, ``"instance_on_boundary"``, ``"redundant_fold"`` (see
        ``fold_point``), ``"qp_inexact"`` or ``"qp_failed"`` (the fold point search's QP).
    loss_ : float
        Training loss of the last epoch, L2 penalty included.
    loss_curve_ : list of float
        Training loss at each epoch (L-BFGS: iteration).
    best_loss_ : float or None
        Minimum training loss; None with ``early_stopping``.
    validation_scores_ : list of float or None
        Validation accuracy at each epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs (iterations) run.
    t_ : int
        Training samples seen by the stochastic solvers.
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape ``(n_in, n_out)`` of layer ``i``.
    intercepts_ : list of ndarray
    device_ : str
        Torch device used by the last fit.
    fit_time_ : dict
        Seconds spent in ``"training"`` and in ``"growth"`` (search and init).

    See Also
    --------
    FoldGrowRegressor : The regression counterpart.
    sklearn.neural_network.MLPClassifier : A fixed-size MLP.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skfold import FoldGrowClassifier
    >>> X, y = make_moons(n_samples=200, noise=0.1, random_state=0)
    >>> clf = FoldGrowClassifier(max_hidden_units=8, random_state=0).fit(X, y)
    >>> clf.hidden_layer_sizes_[0] <= 8
    True
    """

    _task = "classification"

    def _n_output_units(self):
        return len(self.classes_)

    @property
    def n_outputs_(self):
        """Output units: one logit per class (binary problems have 2, as in the slides)."""
        check_is_fitted(self)
        return len(self.classes_)

    @property
    def out_activation_(self):
        """``"softmax"``, binary problems included (``MLPClassifier`` uses ``"logistic"``
        on its single binary output)."""
        check_is_fitted(self)
        return "softmax"

    def _encode_targets(self, y, first, classes):
        check_classification_targets(y)
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(f"{type(self).__name__} supports binary and multiclass targets; "
                             f"got {type_of_target(y)!r}.")
        if first and classes is None:
            self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {self.classes_[0]!r}.")
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y contains labels not in classes_: {unseen.tolist()}; "
                             f"classes_ is {self.classes_.tolist()}.")
        return np.searchsorted(self.classes_, y)

    def _target_tensor(self, y_enc):
        return self._to_tensor(y_enc, torch.int64)

    def _validation_score(self, Xv, yv, sw_np):
        pred = self.network_(Xv).argmax(dim=1)
        return float(np.average((pred == yv).cpu().numpy(), weights=sw_np))

    def _decode_event(self, event):
        for key in ("predicted", "true"):
            if event.get(key) is not None:
                event[key] = self.classes_[event[key]].item()

    @available_if(_solver_is_stochastic)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of Adam/SGD over ``(X, y)``; the growth schedule counts epochs across calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All classes that can appear; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        first = not hasattr(self, "network_")
        if first:
            self._check_params()
        if _check_partial_fit_first_call(self, classes):
            return self._fit(X, y, sample_weight, incremental=True, classes=classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def decision_function(self, X):
        """Logits; for binary problems the margin ``logit_1 - logit_0`` of shape (n_samples,)."""
        out = self._forward(X)
        if out.shape[1] == 2:
            return out[:, 1] - out[:, 0]
        return out

    def predict_proba(self, X):
        """Class probabilities, computed in float64 from the logits."""
        logits = self._forward(X)
        if logits.shape[1] == 2:
            # Softmax of two logits is the logistic of their difference: no row-wise max and
            # sum over a 2-wide axis (measured 5x faster than softmax on 1,000,000 rows).
            margin = logits[:, 1] - logits[:, 0]
            return np.column_stack([expit(-margin), expit(margin)])
        return softmax(logits, axis=1)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted class labels."""
        logits = self._forward(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class FoldGrowRegressor(RegressorMixin, BaseFoldGrow):
    """Regressor that grows a ReLU MLP by folding on typical badly-predicted instances.

    As :class:`FoldGrowClassifier`, but the fold point of ``x_t`` is the nearest point of its
    segment where the segment's prediction equals ``x_t``'s target (the minimum-norm
    correction), the loss is half the squared error, and every member of the worst cluster is a
    candidate instance.

    Parameters
    ----------
    hidden_units : int or "auto", default="auto"
        Width of the single seed hidden layer. ``"auto"``: one unit per output, at least 2 and
        at most ``max_hidden_units``.
    max_hidden_units : int, default=32
        Upper bound on the total number of hidden units over all layers.
    max_depth : int, default=1
        Maximum number of hidden layers (see :class:`FoldGrowClassifier`).
    growth_schedule : {"plateau", "fixed", "none"}, default="plateau"
        When to grow.
    grow_every : int, default=50
        Epochs between growths with ``growth_schedule="fixed"``.
    units_per_growth : int, default=1
        Units added per growth step, each on its own typical instance: the worst cluster's,
        then the next worst cluster's, and so on (one k-means serves them all).
    growth_patience : int, default=2
        Fruitless growths in a row before growth stops (or the network deepens).
    min_growth_gain : float, default=5.0
        A growth pays when the monitored loss falls by more than ``tol`` and by more than
        this many times the folded instance's share of the training loss (see
        :class:`FoldGrowClassifier`).
    init : {"fold", "fold_direction", "gradmax", "random"}, default="fold"
        How a new unit's weights are set (see :class:`FoldGrowClassifier`).
    instance_selection : {"kmeans", "max_loss", "random"}, default="kmeans"
        How the typical instance is picked.
    n_clusters : int, default=8
        Clusters of the loss-weighted k-means.
    search_subsample : int, default=2000
        Rows drawn for the growth search.
    fold_point : {"segment", "nearest"}, default="segment"
        Fold point search (see :class:`FoldGrowClassifier`).
    solver : {"auto", "lbfgs", "adam", "sgd"}, default="auto"
        ``"auto"``: L-BFGS up to 100,000 rows, Adam above.
    alpha : float, default=1e-4
        L2 penalty.
    batch_size : int or "auto", default="auto"
        Mini-batch size for Adam/SGD (``"auto"``: see :class:`FoldGrowClassifier`).
    learning_rate_init : float, default=1e-3
        Step size of Adam/SGD.
    momentum : float, default=0.9
        Nesterov momentum of SGD.
    max_iter : int, default=1000
        Maximum epochs (iterations) over the whole fit.
        A fit that runs out of them while growth still pays warns so (``ConvergenceWarning``):
        its width was set by the budget, not by the data.
    tol : float, default=1e-4
        Minimum improvement of the monitored loss that counts as progress (plateaus, and whether
        a growth paid), as for :class:`FoldGrowClassifier`. It is absolute, so it acts on the
        squared error in the units of ``y``: standardise ``y`` (e.g.
        ``TransformedTargetRegressor``) for a scale-free growth schedule.
    n_iter_no_change : int, default=10
        Epochs without improvement that make a plateau.
    early_stopping : bool, default=False
        Monitor the loss on a held-out ``validation_fraction`` and keep the best network.
    validation_fraction : float, default=0.1
        Held-out share with ``early_stopping``.
    device : str, default="auto"
        Torch device (see :class:`FoldGrowClassifier`).
    random_state : int, RandomState instance or None, default=None
        Seeds every random choice through a local generator.
    verbose : int, default=0
        ``1``: a line per growth (and a tqdm progress bar on a terminal); ``2``: also the loss
        of every epoch.
    warm_start : bool, default=False
        Continue from the fitted network, with the parameters set now (see
        :class:`FoldGrowClassifier`).

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_outputs_ : int
        Number of targets.
    hidden_units_ : int
    hidden_layer_sizes_ : tuple of int
    n_layers_ : int
    out_activation_ : str
        ``"identity"``.
    n_growths_ : int
    growth_history_ : list of dict
        One record per growth event (see :class:`FoldGrowClassifier`); ``predicted`` and
        ``true`` hold the outputs and targets of ``x_t``.
    loss_ : float
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
        Validation R^2 per epoch with ``early_stopping``.
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
    coefs_ : list of ndarray
    intercepts_ : list of ndarray
    device_ : str
    fit_time_ : dict

    See Also
    --------
    FoldGrowClassifier : The classification counterpart.
    sklearn.neural_network.MLPRegressor : A fixed-size MLP.

    Examples
    --------
    >>> import numpy as np
    >>> from skfold import FoldGrowRegressor
    >>> X = np.linspace(-3, 3, 200)[:, None]
    >>> reg = FoldGrowRegressor(max_hidden_units=8, random_state=0).fit(X, np.sin(X).ravel())
    >>> reg.predict(X).shape
    (200,)
    """

    _task = "regression"

    def _n_output_units(self):
        return self.n_outputs_

    @property
    def out_activation_(self):
        """``"identity"``, as in ``MLPRegressor``."""
        check_is_fitted(self)
        return "identity"

    def _encode_targets(self, y, first, classes):
        y = np.asarray(y, dtype=np.float64)
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if first:
            self.n_outputs_ = y2.shape[1]
            self._y_ndim = y.ndim
        elif y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2.shape[1]} outputs but the estimator was fitted with "
                             f"{self.n_outputs_}.")
        return y2

    def _target_tensor(self, y_enc):
        return self._to_tensor(y_enc)

    def _validation_score(self, Xv, yv, sw_np):
        from sklearn.metrics import r2_score
        pred = self.network_(Xv).detach().double().cpu().numpy()
        return float(r2_score(yv.double().cpu().numpy(), pred, sample_weight=sw_np))

    def _decode_event(self, event):
        pass

    @available_if(_solver_is_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of Adam/SGD over ``(X, y)``; the growth schedule counts epochs across calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        if not hasattr(self, "network_"):
            self._check_params()
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        out = self._forward(X)
        return out.ravel() if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
