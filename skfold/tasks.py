"""What differs between classification and regression, in one place.

A :class:`Task` holds the loss (:meth:`Task.per_sample_loss` is its one definition; the
hand-written gradients of the fast paths are tested against it), what a mistake is, the fold
boundary of the slides' fold point search, and how a growth record shows predictions. The
estimators hold one of the two instances, :data:`CLASSIFICATION` or :data:`REGRESSION`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_EPS = 1e-9


class Task:
    """Interface of the two tasks; see :class:`Classification` and :class:`Regression`."""

    #: Name used in saved training state.
    name: str = ""
    #: ``out_activation_`` of the fitted estimators, as in scikit-learn's MLP.
    out_activation: str = ""
    #: Whether targets are numbers to fit (checked like features) rather than class labels.
    targets_are_values: bool = False

    def __repr__(self):
        return f"<{self.name} task>"

    def margins(self, out, y):
        """Per-row margin of the right answer (None: the task has no margin)."""
        return None

    def __reduce__(self):
        return (task_named, (self.name,))


class Classification(Task):
    """Softmax cross-entropy over one logit per class; targets are class indices."""

    name = "classification"
    out_activation = "softmax"

    def per_sample_loss(self, output, y):
        """Cross-entropy of the logits ``output`` for the classes ``y``."""
        return F.cross_entropy(output, y, reduction="none")

    def losses_and_output_gradient(self, out, y):
        """Per-row losses and their gradients with respect to ``out``, written out (torch)."""
        log_proba = torch.log_softmax(out, dim=1)
        losses = -log_proba.gather(1, y[:, None])[:, 0]
        d_out = log_proba.exp().scatter_add_(
            1, y[:, None], torch.full((out.shape[0], 1), -1.0, dtype=out.dtype,
                                      device=out.device))
        return losses, d_out

    def numpy_targets(self, y, n_outputs):
        """``y`` as the ``(n_outputs, n)`` one-hot columns of the NumPy objective."""
        classes = y.numpy()
        onehot = np.zeros((n_outputs, classes.shape[0]))
        onehot[classes, np.arange(classes.shape[0])] = 1.0
        return onehot

    def numpy_losses_and_output_gradient(self, out, y, summed):
        """Losses and output gradient on columns (see :mod:`skfold.numpy_objective`); ``out``
        is overwritten. ``summed``: the losses' sum only, reduced once over everything."""
        out -= out.max(axis=0)
        d_out = np.exp(out)
        total = d_out.sum(axis=0)
        d_out /= total
        d_out -= y
        if summed:
            return np.log(total).sum() - np.vdot(out, y), d_out
        return np.log(total) - (out * y).sum(axis=0), d_out

    def constant_prediction_loss(self, y_enc, w):
        """Loss of the best constant prediction (class-prior entropy), with weights ``w``
        summing to 1."""
        prior = np.bincount(y_enc, weights=w)
        prior = prior[prior > 0]
        return float(-(prior * np.log(prior)).sum())

    def predictions(self, out, y):
        """``(mispredicted, predicted)`` as NumPy arrays: argmax against the label."""
        predicted = out.argmax(dim=1)
        return (predicted != y).cpu().numpy(), predicted.cpu().numpy()

    def margins(self, out, y):
        """The true class's logit minus the best other class's, float64 per row."""
        out = out.double()
        true = out.gather(1, y[:, None])[:, 0]
        others = out.scatter(1, y[:, None], float("-inf"))
        return (true - others.max(dim=1).values).cpu().numpy()

    def stratify(self, y_enc):
        return y_enc

    def target_dtype(self, training_dtype):
        """The dtype of the encoded targets in training: class indices."""
        return torch.int64

    def target_of_row(self, y, row):
        return y[row].item()

    def single_target(self, target, like):
        """A one-row ``y`` for the loss at a single input, on ``like``'s device."""
        return torch.as_tensor([int(target)], device=like.device)

    def boundary_equations(self, segment, h_t, target):
        """The tie between the predicted and the true logit of ``h_t``'s segment, as ``E x = e``
        (the runner-up against the truth when the segment predicts the truth); None when
        flat."""
        out = segment.predict(h_t)
        predicted = int(np.argmax(out))
        true = int(target)
        if predicted == true:
            order = np.argsort(-out)
            predicted = int(order[1]) if order[0] == true else int(order[0])
        w = segment.A[predicted] - segment.A[true]
        beta = segment.a[predicted] - segment.a[true]
        if np.linalg.norm(w) < _EPS:
            return None
        return w[None, :], np.array([-beta])

    def recorded(self, predicted, target):
        """``(predicted, true)`` of a growth record, before the classes are decoded."""
        return int(predicted), target

    def validation_score(self, output, y, sample_weight):
        """Weighted accuracy of the logits ``output`` on the classes ``y``."""
        pred = output.argmax(dim=1)
        return float(np.average((pred == y).cpu().numpy(), weights=sample_weight))


class Regression(Task):
    """Half the squared error, averaged over the outputs; targets are values."""

    name = "regression"
    out_activation = "identity"
    targets_are_values = True

    def per_sample_loss(self, output, y):
        """Half the squared error of ``output`` against ``y``, averaged over the outputs."""
        return 0.5 * ((output - y) ** 2).mean(dim=1)

    def losses_and_output_gradient(self, out, y):
        residual = out - y
        return 0.5 * (residual * residual).mean(dim=1), residual / out.shape[1]

    def numpy_targets(self, y, n_outputs):
        return np.ascontiguousarray(y.numpy().T)

    def numpy_losses_and_output_gradient(self, out, y, summed):
        residual = out - y
        return 0.5 * (residual * residual).mean(axis=0), residual / out.shape[0]

    def constant_prediction_loss(self, y_enc, w):
        """Half the weighted variance of the targets (averaged over the outputs)."""
        mean = w @ y_enc
        return float(0.5 * (w @ (y_enc - mean) ** 2).mean())

    def predictions(self, out, y):
        """Every row counts as mis-predicted; the predictions are the outputs."""
        return np.ones(out.shape[0], dtype=bool), out.double().cpu().numpy()

    def stratify(self, y_enc):
        return None

    def target_dtype(self, training_dtype):
        return training_dtype

    def target_of_row(self, y, row):
        return y[row].double().cpu().numpy()

    def single_target(self, target, like):
        return torch.as_tensor(np.atleast_1d(target), dtype=like.dtype, device=like.device)[None]

    def boundary_equations(self, segment, h_t, target):
        """Where the segment's prediction equals the target, as ``E x = e``; None when flat."""
        target = np.atleast_1d(np.asarray(target, dtype=np.float64))
        if np.linalg.norm(segment.A) < _EPS:
            return None
        return segment.A, target - segment.a

    def recorded(self, predicted, target):
        return np.asarray(predicted).tolist(), np.asarray(target).tolist()

    def validation_score(self, output, y, sample_weight):
        """Weighted R^2 of ``output`` against ``y``."""
        from sklearn.metrics import r2_score
        pred = output.detach().double().cpu().numpy()
        return float(r2_score(y.double().cpu().numpy(), pred, sample_weight=sample_weight))


CLASSIFICATION = Classification()
REGRESSION = Regression()
_BY_NAME = {task.name: task for task in (CLASSIFICATION, REGRESSION)}


def task_named(name):
    """The task of a saved state's ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}") from None
