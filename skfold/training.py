"""Optimizers and training epochs for a :class:`~skfold.network.GrowableMLP`."""

from __future__ import annotations

import numpy as np
import torch

from .lbfgs import LbfgsRun
from .network import GrowableMLP
from .objective import objective_and_gradient, unless_all_ones
from .optimizers import FlatOptimizer
from .tasks import Task, task_named

#: ``batch_size="auto"`` keeps an epoch to about this many mini-batch steps on large data.
AUTO_STEPS_PER_EPOCH = 1000


def auto_batch_size(n_samples: int) -> int:
    """Mini-batch rows: ``min(200, n_samples)`` as scikit-learn's MLP, ``n_samples // 1000`` above.

    A step carries a fixed cost (Python, operator dispatch and the optimizer call) that dwarfs
    the arithmetic of a 200-row batch, so on large data the epoch time is set by the number of
    steps (``benchmarks/speed.py``). About 1000 Adam steps per epoch remain.
    """
    return max(min(200, n_samples), n_samples // AUTO_STEPS_PER_EPOCH)


class Trainer:
    """Holds the optimizer of one network and runs its training steps.

    The optimizer state of existing parameters survives growth (:meth:`after_growth`): Adam's
    moments and step counts and SGD's momentum are copied into the enlarged tensors, new entries
    start fresh (:class:`~skfold.optimizers.FlatOptimizer`). ``task`` is a
    :class:`~skfold.tasks.Task` or its name.
    """

    def __init__(self, network: GrowableMLP, *, solver, learning_rate, momentum, alpha,
                 batch_size, task, generator):
        self.network = network
        self.solver = solver
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.alpha = alpha
        self.batch_size = batch_size
        self.task = task if isinstance(task, Task) else task_named(task)
        self.generator = generator
        self.optimizer = self._make_optimizer() if solver != "lbfgs" else None
        #: Non-finite losses L-BFGS met (it ends its run at one); the fit loop checks it.
        self.n_nonfinite_losses = 0
        #: Largest gradient entry at L-BFGS's last evaluation (its convergence measure).
        self.last_gradient_max = np.inf
        #: Where the last L-BFGS run ended on a failed line search, its kick included.
        self.stalled_at = None

    def _make_optimizer(self):
        return FlatOptimizer(self.network, self.solver, self.learning_rate, self.momentum)

    def set_learning_rate(self, lr):
        self.learning_rate = lr
        if self.optimizer is not None:
            self.optimizer.learning_rate = lr

    def after_growth(self, replaced=()):
        """Drive the grown network, carrying old parameters' optimizer state.

        ``replaced`` lists ``(old_param, new_param, slices)`` from :meth:`GrowableMLP.widen`;
        parameters that were not replaced keep their state, new entries start fresh.
        """
        if self.optimizer is not None:
            self.optimizer.bind(self.network, replaced)

    def state_dict(self) -> dict:
        """Everything needed to resume training, as CPU tensors (picklable, device-free)."""
        opt = None if self.optimizer is None else self.optimizer.state_dict()
        return {"solver": self.solver, "learning_rate": self.learning_rate,
                "momentum": self.momentum, "alpha": self.alpha, "batch_size": self.batch_size,
                "task": self.task.name, "generator": self.generator.get_state(),
                "optimizer": opt}

    def copy(self, network):
        """A trainer of ``network`` (a copy of this one's) in the state this one is in."""
        generator = torch.Generator()
        generator.set_state(self.generator.get_state())
        trainer = Trainer(network, solver=self.solver, learning_rate=self.learning_rate,
                          momentum=self.momentum, alpha=self.alpha, batch_size=self.batch_size,
                          task=self.task, generator=generator)
        if self.optimizer is not None:
            # by parameter: one changed in place since (deepened by hand) starts fresh
            bound = {id(p): i for i, p in enumerate(self.optimizer.params)}
            for j, param in enumerate(self.network.parameters()):
                if id(param) in bound:
                    source = self.optimizer.param_state(bound[id(param)])
                    for key, value in trainer.optimizer.param_state(j).items():
                        value.copy_(source[key])
        trainer.n_nonfinite_losses = self.n_nonfinite_losses
        trainer.last_gradient_max = self.last_gradient_max
        trainer.stalled_at = None if self.stalled_at is None else self.stalled_at.copy()
        return trainer

    @classmethod
    def from_state_dict(cls, network, state):
        generator = torch.Generator()
        generator.set_state(state["generator"])
        trainer = cls(network, solver=state["solver"], learning_rate=state["learning_rate"],
                      momentum=state["momentum"], alpha=state["alpha"],
                      batch_size=state["batch_size"], task=state["task"], generator=generator)
        if state["optimizer"] is not None:
            trainer.optimizer.load_state_dict(state["optimizer"])
        return trainer

    def epoch(self, X, y, sample_weight) -> float:
        """One pass of mini-batch Adam/SGD over ``(X, y)``; returns the mean batch loss.

        Each batch is gathered from a fresh permutation (a copy of one batch, never of the data
        set). The loss is summed on the device and read once per epoch: reading it every step
        would synchronise a GPU.
        """
        n = X.shape[0]
        order = torch.randperm(n, generator=self.generator).to(X.device)
        total = torch.zeros((), dtype=torch.float64, device=X.device)
        sample_weight = unless_all_ones(sample_weight)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            wb = None if sample_weight is None else sample_weight.index_select(0, idx)
            with torch.no_grad():
                loss, grads = objective_and_gradient(self.network, xb, yb, wb, self.task,
                                                     self.alpha)
            self.optimizer.step(grads)
            total.add_(loss, alpha=idx.shape[0])
        return float(total) / n

    def lbfgs(self, X, y, sample_weight, *, max_iter, gtol, callback, stuck_gradient=np.inf,
              load_each_iteration=True):
        """Full-batch L-BFGS-B (SciPy), as scikit-learn's MLP, on the training objective
        (evaluated in NumPy on CPU, see :func:`~skfold.lbfgs.flat_objective`).

        ``callback(loss, weights)`` is called after each iteration; ``weights()`` returns that
        iteration's ``(weights, biases)`` as new tensors, and the network holds them too unless
        ``load_each_iteration`` is false (the network then holds the final weights only, which
        saves a copy per iteration). A true return value stops the run. Returns
        ``(n_iter, converged)``, where ``converged`` means L-BFGS itself stopped before
        ``max_iter``. ``gtol`` must be far below the loss tolerance: a freshly grown unit's
        outgoing gradient is small, and L-BFGS would otherwise stop at once and never use it.
        A run that stops on a failed line search while the largest gradient entry is at least
        ``stuck_gradient`` is kicked off its ReLU kink by a few Adam steps and resumed, once
        per call. A call that starts where the previous one ended that way (its network
        unchanged since: a growth that was skipped) returns ``(0, True)`` at once.
        """
        return LbfgsRun(self, X, y, sample_weight, max_iter=max_iter, gtol=gtol,
                        callback=callback, stuck_gradient=stuck_gradient,
                        load_each_iteration=load_each_iteration)()
