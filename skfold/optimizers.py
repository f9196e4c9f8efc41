"""Adam and SGD over a growable network, with the state of every parameter entry its own.

A growth widens weight matrices: old entries keep their optimizer state, new ones start fresh
(DESIGN section 3). Adam's bias correction depends on how many steps an entry has taken, so the
step count is kept per entry, not per parameter as in ``torch.optim.Adam``: a unit added after
a thousand steps is corrected as a fresh parameter is, instead of moving several times faster
than one.

The network's parameters are views into one flat tensor while an optimizer drives them, so that
a step is a handful of operations on that tensor whatever the number of layers.
"""

from __future__ import annotations

import torch

ADAM_BETAS, ADAM_EPSILON = (0.9, 0.999), 1e-8  # torch's and scikit-learn's defaults
#: State buffers of each solver, one value per parameter entry.
STATE_KEYS = {"adam": ("exp_avg", "exp_avg_sq", "step"), "sgd": ("momentum_buffer",)}


class FlatOptimizer:
    """Adam or SGD (Nesterov momentum) over the parameters of ``network``.

    Parameters
    ----------
    network : GrowableMLP
    solver : {"adam", "sgd"}
    learning_rate : float
    momentum : float
        SGD's Nesterov momentum (0: plain SGD).
    """

    def __init__(self, network, solver, learning_rate, momentum=0.0):
        self.solver = solver
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.bind(network)

    # ------------------------------------------------------------------ parameters and state
    def bind(self, network, carried=()):
        """Drive ``network``'s parameters, carrying state from the last ones bound.

        ``carried`` lists ``(old_param, new_param, slices)`` of grown parameters (from
        :meth:`GrowableMLP.widen`): ``new_param[slices]`` takes ``old_param``'s state, its
        other entries start fresh. A parameter bound before keeps its state; any other starts
        fresh.
        """
        old = getattr(self, "params", [])
        if old:
            self._sync_steps()
        old_state = {id(p): self.param_state(i) for i, p in enumerate(old)}
        grown = {id(new): (old_state.get(id(p)), slices) for p, new, slices in carried}
        self.params = list(network.parameters())
        self.sizes = [p.numel() for p in self.params]
        like = self.params[0]
        total = sum(self.sizes)
        self.flat = torch.empty(total, dtype=like.dtype, device=like.device)
        self.state = {key: torch.zeros(total, dtype=like.dtype, device=like.device)
                      for key in STATE_KEYS[self.solver]}
        with torch.no_grad():
            for param, view in zip(self.params, self._views(self.flat)):
                view.copy_(param.detach())
                param.data = view
        for i, param in enumerate(self.params):
            target = self.param_state(i)
            if id(param) in old_state:
                for key, value in old_state[id(param)].items():
                    target[key].copy_(value)
            elif grown.get(id(param), (None,))[0] is not None:
                source, slices = grown[id(param)]
                for key, value in source.items():
                    target[key][slices] = value
        self._start_counting()

    def _start_counting(self):
        """Cache ``beta ** step`` per entry; the step buffer is brought up to date lazily."""
        self._steps_since_bind = 0
        if self.solver == "adam":
            step = self.state["step"]
            self._decays = tuple(torch.pow(beta, step) for beta in ADAM_BETAS)

    def _sync_steps(self):
        if self.solver == "adam" and self._steps_since_bind:
            self.state["step"].add_(float(self._steps_since_bind))
            self._steps_since_bind = 0

    def _views(self, flat):
        return [chunk.view_as(p) for p, chunk in zip(self.params, torch.split(flat, self.sizes))]

    def param_state(self, i):
        """The state of parameter ``i``: ``{key: view of its entries}``."""
        start = sum(self.sizes[:i])
        return {key: value[start:start + self.sizes[i]].view_as(self.params[i])
                for key, value in self.state.items()}

    def reset_state(self):
        """Every entry starts afresh (after a roll-back from a divergence)."""
        for value in self.state.values():
            value.zero_()
        self._start_counting()

    def state_dict(self):
        """Per-parameter state as CPU tensors of the parameters' shapes."""
        self._sync_steps()
        return {key: [self.param_state(i)[key].detach().cpu().clone()
                      for i in range(len(self.params))] for key in self.state}

    def load_state_dict(self, state):
        for key in self.state:
            for target, value in zip((self.param_state(i)[key] for i in range(len(self.params))),
                                     state[key]):
                target.copy_(value)
        self._start_counting()

    # ------------------------------------------------------------------ the step
    @torch.no_grad()
    def step(self, grads):
        """One update with the gradients ``grads`` (one tensor per parameter)."""
        grad = torch.cat([g.reshape(-1) for g in grads])
        if self.solver == "adam":
            self._adam(grad)
        else:
            self._sgd(grad)

    def _adam(self, grad):
        beta1, beta2 = ADAM_BETAS
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        self._steps_since_bind += 1
        decay1, decay2 = self._decays
        decay1.mul_(beta1)  # beta1 ** step, entry by entry
        decay2.mul_(beta2)
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        # lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps): Kingma and Ba's
        # bias-corrected update
        denom = v.div(torch.rsub(decay2, 1.0)).sqrt_().add_(ADAM_EPSILON)
        self.flat.addcdiv_(m, denom.mul_(torch.rsub(decay1, 1.0)), value=-self.learning_rate)

    def _sgd(self, grad):
        if self.momentum:
            buffer = self.state["momentum_buffer"]
            buffer.mul_(self.momentum).add_(grad)
            grad = grad.add(buffer, alpha=self.momentum)  # Nesterov
        self.flat.add_(grad, alpha=-self.learning_rate)
