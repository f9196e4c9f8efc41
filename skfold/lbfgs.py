"""Full-batch L-BFGS-B (SciPy's, as scikit-learn's MLP uses) over a network's parameters.

The network's parameters are one flat float64 vector to SciPy. A run that stops on a failed
line search at a ReLU kink, with a gradient that is not small, is moved off the kink by a few
Adam steps and resumed (:meth:`LbfgsRun.kick`).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import torch

from . import numpy_objective
from .objective import objective_and_gradient, unless_all_ones

#: Function evaluations an L-BFGS line search may take (SciPy's default is 20). One that finds
#: no step in so few has met a ReLU kink, where the Adam kick does better than more trials.
LBFGS_MAX_LINE_SEARCH = 4
#: ... except in a run's first iteration, which is retried with this limit when it fails: its
#: step has no curvature to scale it, and a new unit would otherwise go untrained.
FIRST_LINE_SEARCH = 10
#: Full-batch Adam steps that move a stuck L-BFGS run off a ReLU kink.
KICK_STEPS = 10
ADAM_BETAS, ADAM_EPSILON = (0.9, 0.999), 1e-8  # torch's and scikit-learn's defaults


class FlatParameters:
    """A network's parameters as the flat vector ``theta`` L-BFGS works on, and back."""

    def __init__(self, network):
        self.params = list(network.parameters())
        self.sizes = [p.numel() for p in self.params]
        self.n_layers = len(network.weights)
        self.loaded = None

    def current(self):
        return torch.cat([p.detach().reshape(-1) for p in self.params]).double().cpu().numpy()

    def as_tensors(self, theta):
        """``theta`` as one tensor per parameter (views of one tensor over ``theta``)."""
        flat = torch.as_tensor(theta, dtype=self.params[0].dtype, device=self.params[0].device)
        return [chunk.view_as(p) for p, chunk in zip(self.params, torch.split(flat, self.sizes))]

    def load(self, theta):
        """Copy ``theta`` into the network (skipped when it holds ``theta`` already)."""
        # The iteration callback is usually handed the point evaluated last: skip the copy.
        if self.loaded is not None and np.array_equal(self.loaded, theta):
            return
        with torch.no_grad():
            for p, value in zip(self.params, self.as_tensors(theta)):
                p.copy_(value)
        self.loaded = theta.copy()

    def weights_of(self, theta):
        """A function giving ``theta``'s ``(weights, biases)`` as new tensors, when called."""
        theta = theta.copy()  # SciPy updates its iterate in place

        def weights():
            tensors = self.as_tensors(theta)
            return tensors[:self.n_layers], tensors[self.n_layers:]
        return weights


def flat_objective(trainer, X, y, sample_weight, flat):
    """``theta -> (loss, gradient)`` over the flat float64 parameter vector L-BFGS works on.

    On CPU in float64 the NumPy back-propagation (:mod:`skfold.numpy_objective`) reads the
    weights straight from ``theta``, and the network is loaded only once per iteration;
    elsewhere (a GPU) the network is loaded (``flat.load``) and torch's
    :func:`~skfold.objective.objective_and_gradient` runs.
    """
    params, network, task = flat.params, trainer.network, trainer.task
    if X.device.type == "cpu" and params[0].dtype == torch.float64:
        # one transposed copy of the data per run (see numpy_objective for the layout)
        X_columns = np.ascontiguousarray(X.numpy().T)
        y_np = task.numpy_targets(y, network.weights[-1].shape[0])
        sw_np = None if sample_weight is None else sample_weight.numpy()
        shapes = [tuple(p.shape) for p in params]
        bounds = np.cumsum([0] + [p.numel() for p in params])
        n_layers = len(network.weights)
        offset = network.linear_output(X)
        offset = None if offset is None else np.ascontiguousarray(offset.numpy().T)

        def on_cpu(theta):
            arrays = [theta[a:b].reshape(shape)
                      for a, b, shape in zip(bounds[:-1], bounds[1:], shapes)]
            loss, grads = numpy_objective.objective_and_gradient(
                arrays[:n_layers], arrays[n_layers:], X_columns, y_np, sw_np, task,
                trainer.alpha, offset)
            return loss, np.concatenate([g.ravel() for g in grads])
        return on_cpu

    def on_device(theta):
        flat.load(theta)
        with torch.no_grad():
            loss, grads = objective_and_gradient(network, X, y, sample_weight, task,
                                                 trainer.alpha)
        return float(loss), torch.cat([g.reshape(-1) for g in grads]).double().cpu().numpy()
    return on_device


class LbfgsRun:
    """One call of :meth:`skfold.training.Trainer.lbfgs` (see there for the arguments)."""

    def __init__(self, trainer, X, y, sample_weight, *, max_iter, gtol, callback,
                 stuck_gradient, load_each_iteration):
        self.trainer = trainer
        self.max_iter, self.gtol, self.callback = max_iter, gtol, callback
        self.stuck_gradient, self.load_each_iteration = stuck_gradient, load_each_iteration
        self.flat = FlatParameters(trainer.network)
        self.value_and_gradient = flat_objective(trainer, X, y, unless_all_ones(sample_weight),
                                                 self.flat)

    def fun(self, theta):
        value, grad = self.value_and_gradient(theta)
        if not np.isfinite(value):
            self.trainer.n_nonfinite_losses += 1
            return np.inf, np.zeros_like(theta)
        self.trainer.last_gradient_max = float(np.abs(grad).max()) if grad.size else 0.0
        return value, grad

    def on_iteration(self, intermediate_result):
        theta = intermediate_result.x
        if self.load_each_iteration:
            self.flat.load(theta)
        if self.callback(float(intermediate_result.fun), self.flat.weights_of(theta)):
            raise StopIteration

    def run(self, theta, budget, max_line_search=LBFGS_MAX_LINE_SEARCH):
        result = scipy.optimize.minimize(
            self.fun, theta, jac=True, method="L-BFGS-B", callback=self.on_iteration,
            options={"maxiter": budget, "maxfun": max(15000, 2 * budget),
                     "gtol": self.gtol, "ftol": 0.0, "maxls": max_line_search},
        )
        if result.status == 2 and result.nit == 0 and max_line_search < FIRST_LINE_SEARCH:
            # The first step of a run has no curvature to scale it yet (L-BFGS-B tries
            # a move of unit length) and may need more trials to shrink than later ones.
            return self.run(theta, budget, FIRST_LINE_SEARCH)
        return result

    def kick(self, theta):
        """Full-batch Adam steps (Kingma & Ba's update, on the flat parameter vector).

        Each moves every weight by about the learning rate whether or not the loss goes down,
        which a line search never does. Written out rather than ``torch.optim.Adam``, whose
        first use in a process costs about a second of imports.
        """
        first, second = np.zeros_like(theta), np.zeros_like(theta)
        for step in range(1, KICK_STEPS + 1):
            grad = self.fun(theta)[1]
            first = ADAM_BETAS[0] * first + (1 - ADAM_BETAS[0]) * grad
            second = ADAM_BETAS[1] * second + (1 - ADAM_BETAS[1]) * grad * grad
            unbiased = first / (1 - ADAM_BETAS[0] ** step)
            scale = np.sqrt(second / (1 - ADAM_BETAS[1] ** step)) + ADAM_EPSILON
            theta = theta - self.trainer.learning_rate * unbiased / scale
        return theta

    def __call__(self):
        trainer, max_iter = self.trainer, self.max_iter
        theta0 = self.flat.current()
        if trainer.stalled_at is not None and np.array_equal(theta0, trainer.stalled_at):
            # It would retry the same failing line searches and the same kick.
            return 0, True
        nonfinite = trainer.n_nonfinite_losses
        result = self.run(theta0, max_iter)
        n_iter = result.nit
        stuck = (result.status in (0, 2) and n_iter < max_iter
                 and trainer.n_nonfinite_losses == nonfinite
                 and np.abs(result.jac).max() >= self.stuck_gradient)
        if stuck:
            # L-BFGS stopped because no step along its direction lowers the loss although the
            # gradient is not small: a training row sits on a ReLU kink, where the gradient is
            # no derivative (typical right after a growth). A few Adam steps move off the
            # kink; L-BFGS resumes from there with the rest of its budget.
            result = self.run(self.kick(result.x), max_iter - n_iter)
            n_iter += result.nit
        self.flat.load(result.x)
        stopped_by_callback = result.status == 99
        failed_line_search = result.status == 2 and trainer.n_nonfinite_losses == nonfinite
        trainer.stalled_at = result.x.copy() if failed_line_search else None
        converged = not stopped_by_callback and (result.status == 0 or n_iter < max_iter)
        return int(n_iter), bool(converged)
