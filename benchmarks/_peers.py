"""gromo's TINY and GradMax as a scikit-learn estimator (the ``peers`` extra).

``GromoGrowingMLP`` grows the single hidden ReLU layer of a gromo ``GrowingMLP`` on a fixed
schedule: ``start_units`` hidden units, full-batch Adam at ``learning_rate`` for ``grow_every``
epochs, then one unit from gromo's ``compute_optimal_updates`` (statistics gathered on the full
training set), its amplitude chosen by a line search on the training loss through
``extended_forward`` (as gromo's tutorials do), ``apply_change``; repeated until ``max_units``,
then ``grow_every`` more epochs. Adam is restarted after each growth (gromo's tutorials build a
new optimizer after every change). Softmax cross-entropy for classification, MSE for regression.

Methods (``compute_optimal_updates`` arguments):

- ``"tiny"``: gromo's defaults, ``compute_delta=True, use_covariance=True,
  use_projection=True, alpha_zero=False``;
- ``"gradmax"``: ``compute_delta=False, use_covariance=False, alpha_zero=True,
  use_projection=False`` (zero incoming weights, outgoing weights along the top singular
  direction of the back-propagated gradient).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder

try:
    import torch
    from gromo.containers.growing_mlp import GrowingMLP
    GROMO_AVAILABLE = True
except ImportError:  # pragma: no cover - the peers extra is optional
    GROMO_AVAILABLE = False

METHODS = {
    "tiny": dict(compute_delta=True, use_covariance=True, use_projection=True,
                 alpha_zero=False),
    "gradmax": dict(compute_delta=False, use_covariance=False, use_projection=False,
                    alpha_zero=True),
}
#: Amplitudes tried by the line search, largest first (ties go to the largest).
AMPLITUDES = tuple(2.0 ** -k for k in range(-2, 11)) + (0.0,)


class GromoGrowingMLP(BaseEstimator):
    """One hidden ReLU layer grown by gromo, ``+1`` unit every ``grow_every`` Adam epochs.

    Attributes after ``fit``: ``hidden_layer_sizes_`` (a 1-tuple, the final width),
    ``growth_history_`` (one dict per growth: epoch, units, amplitude, loss before/after),
    ``loss_curve_`` (training loss per epoch), ``classes_`` for classification.
    """

    def __init__(self, method="tiny", task="classification", start_units=2, max_units=8,
                 grow_every=300, learning_rate=0.01, random_state=None):
        self.method = method
        self.task = task
        self.start_units = start_units
        self.max_units = max_units
        self.grow_every = grow_every
        self.learning_rate = learning_rate
        self.random_state = random_state

    # -- helpers ---------------------------------------------------------------------------
    def _loss(self, out, target):
        if self.task == "classification":
            return torch.nn.functional.cross_entropy(out, target)
        return torch.nn.functional.mse_loss(out, target)

    def _train(self, X, target, epochs):
        optimizer = torch.optim.Adam(self.model_.parameters(), lr=self.learning_rate)
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = self._loss(self.model_(X), target)
            loss.backward()
            optimizer.step()
            self.loss_curve_.append(float(loss.detach()))

    def _extended_loss(self, X, target, amplitude):
        self.model_.set_scaling_factor(amplitude)
        with torch.no_grad():
            return float(self._loss(self.model_.extended_forward(X), target))

    def _grow(self, X, target, epoch):
        """One unit from gromo's optimal update, amplitude by line search, applied."""
        model = self.model_
        with torch.no_grad():
            before = float(self._loss(model(X), target))
        model.init_computation()
        model.zero_grad()
        loss = self._loss(model(X), target)
        loss.backward()
        model.update_computation()
        model.compute_optimal_updates(maximum_added_neurons=1, **METHODS[self.method])
        model.reset_computation()
        model.zero_grad()
        model.select_update(0)
        layer = model.currently_updated_layer
        if layer.eigenvalues_extension is None or layer.eigenvalues_extension.numel() == 0:
            model.currently_updated_layer.delete_update(include_previous=True)
            self.growth_history_.append(dict(epoch=epoch, units=self._units(), amplitude=None,
                                             loss_before=before, loss_after=before))
            return False
        losses = [self._extended_loss(X, target, a) for a in AMPLITUDES]
        amplitude = AMPLITUDES[int(np.argmin(losses))]
        if amplitude == 0.0:  # nothing helps at first order: add the unit at unit scale
            amplitude = 1.0
        model.set_scaling_factor(amplitude)
        extension = int(layer.eigenvalues_extension.shape[0])
        model.apply_change(extension_size=extension)
        layer.delete_update(include_previous=True)
        with torch.no_grad():
            after = float(self._loss(model(X), target))
        self.growth_history_.append(dict(epoch=epoch, units=self._units(),
                                         amplitude=amplitude, loss_before=before,
                                         loss_after=after))
        return True

    def _units(self):
        return int(self.model_.layers[0].out_features)

    def _tensor(self, X):
        return torch.as_tensor(np.asarray(X, dtype=np.float32))

    # -- scikit-learn API ------------------------------------------------------------------
    def fit(self, X, y):
        if not GROMO_AVAILABLE:  # pragma: no cover
            raise ImportError("gromo is not installed: pip install 'skfold[peers]'")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        X = self._tensor(X)
        if self.task == "classification":
            self._encoder = LabelEncoder().fit(y)
            self.classes_ = self._encoder.classes_
            target = torch.as_tensor(self._encoder.transform(y), dtype=torch.long)
            n_out = len(self.classes_)
        else:
            target = torch.as_tensor(np.asarray(y, dtype=np.float32).reshape(len(y), -1))
            self._flat = np.ndim(y) == 1
            n_out = target.shape[1]
        torch.manual_seed(0 if self.random_state is None else int(self.random_state))
        self.model_ = GrowingMLP(X.shape[1], n_out, hidden_size=int(self.start_units),
                                 number_hidden_layers=1, activation=torch.nn.ReLU())
        self.loss_curve_, self.growth_history_ = [], []
        self._train(X, target, self.grow_every)
        while self._units() < self.max_units:
            grew = self._grow(X, target, len(self.loss_curve_))
            self._train(X, target, self.grow_every)
            if not grew:
                break
        self.hidden_layer_sizes_ = (self._units(),)
        self.n_hidden_units_ = self._units()
        return self

    def _output(self, X):
        with torch.no_grad():
            return self.model_(self._tensor(X)).numpy()

    def predict(self, X):
        out = self._output(X)
        if self.task == "classification":
            return self.classes_[out.argmax(axis=1)]
        return out.ravel() if self._flat else out

    def predict_proba(self, X):
        with torch.no_grad():
            return torch.softmax(self.model_(self._tensor(X)), dim=1).numpy()

    def score(self, X, y):
        if self.task == "classification":
            return accuracy_score(y, self.predict(X))
        return r2_score(y, self.predict(X))
