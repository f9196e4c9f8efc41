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
#: Adam's ``beta1_power`` and ``beta2_power`` are ``beta ** step``, kept rather than recomputed
#: so that a copied or reloaded optimizer goes on bit for bit.
STATE_KEYS = {"adam": ("exp_avg", "exp_avg_sq", "step", "beta1_power", "beta2_power"),
              "sgd": ("momentum_buffer",)}
#: The value of a fresh entry, where it is not zero.
FRESH = {"beta1_power": 1.0, "beta2_power": 1.0}


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
        :meth:`GrowableMLP.widen`, in the order of the widenings): ``new_param[slices]`` takes
        ``old_param``'s state, its other entries start fresh. A parameter bound before keeps
        its state; any other starts fresh.
        """
        old = getattr(self, "params", [])
        known = {id(p): self.param_state(i) for i, p in enumerate(old)}
        for p, new, slices in carried:
            # in order: a growth of several units widens the same parameter several times
            if id(p) in known:
                known[id(new)] = self._fresh_state(new)
                for key, value in known[id(p)].items():
                    known[id(new)][key][slices] = value
        params = list(network.parameters())
        sizes = [p.numel() for p in params]
        like, total = params[0], sum(sizes)
        flat = torch.empty(total, dtype=like.dtype, device=like.device)
        state = {key: torch.full((total,), FRESH.get(key, 0.0), dtype=like.dtype,
                                 device=like.device)
                 for key in STATE_KEYS[self.solver]}
        starts = [sum(sizes[:i]) for i in range(len(params))]
        with torch.no_grad():
            for param, start, size in zip(params, starts, sizes):
                flat[start:start + size].copy_(param.detach().reshape(-1))
                target = {key: value[start:start + size].view_as(param)
                          for key, value in state.items()}
                for key, value in known.get(id(param), {}).items():
                    target[key].copy_(value)
        # all at once, so that an interruption leaves the optimizer as it was or as it is now
        self.params, self.sizes, self.flat, self.state = params, sizes, flat, state
        with torch.no_grad():
            for param, view in zip(params, self._views(flat)):
                param.data = view

    def _fresh_state(self, param):
        return {key: torch.full_like(param, FRESH.get(key, 0.0), requires_grad=False)
                for key in STATE_KEYS[self.solver]}

    def _views(self, flat):
        return [chunk.view_as(p) for p, chunk in zip(self.params, torch.split(flat, self.sizes))]

    def param_state(self, i):
        """The state of parameter ``i``: ``{key: view of its entries}``."""
        start = sum(self.sizes[:i])
        return {key: value[start:start + self.sizes[i]].view_as(self.params[i])
                for key, value in self.state.items()}

    def reset_state(self):
        """Every entry starts afresh (after a roll-back from a divergence)."""
        for key, value in self.state.items():
            value.fill_(FRESH.get(key, 0.0))

    def state_dict(self):
        """Per-parameter state as CPU tensors of the parameters' shapes."""
        return {key: [self.param_state(i)[key].detach().cpu().clone()
                      for i in range(len(self.params))] for key in self.state}

    def load_state_dict(self, state):
        for key in self.state:
            for target, value in zip((self.param_state(i)[key] for i in range(len(self.params))),
                                     state[key]):
                target.copy_(value)

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
        decay1, decay2 = self.state["beta1_power"], self.state["beta2_power"]
        self.state["step"].add_(1.0)
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
