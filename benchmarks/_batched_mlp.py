"""Many one-hidden-layer ReLU classifiers of one shape trained as one tensor program.

Used by ``approximatability.py`` to train a thousand 2-2-2 / 2-3-2 networks at once with
full-batch Adam. Network ``s`` of the batch holds ``W1[s]`` ``(n_hidden, n_features)``, ``b1[s]``,
``W2[s]`` ``(n_classes, n_hidden)`` and ``b2[s]``, exactly the layout of a
:class:`skfold.network.GrowableMLP`, so each network can be taken out
(:meth:`BatchedMLP.network`), grown by skfold's own growth code and put back
(:meth:`BatchedMLP.replace_parameters`).

Each network's objective is skfold's (:func:`skfold.objective.objective` with unit sample
weights): mean cross-entropy plus ``alpha / 2 * ||W||^2 / n``. Networks share no parameters and
Adam is elementwise, so one Adam step over the batched tensors is one step of skfold's Adam
(:class:`skfold.optimizers.FlatOptimizer`: a step count per entry) on every network (tested
against :class:`skfold.training.Trainer`). The ReLU's derivative
at 0 is 1, as :func:`skfold.network.relu`'s, so GradMax's zero-incoming units can learn.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from skfold.network import GrowableMLP, relu


class BatchedMLP:
    """A batch of one-hidden-layer ReLU classifiers of one shape, trained with full-batch Adam.

    Parameters
    ----------
    weights, biases : list of two torch.Tensor
        ``[W1, W2]`` of shapes ``(n_networks, n_hidden, n_features)`` and
        ``(n_networks, n_classes, n_hidden)``; ``[b1, b2]`` of shapes ``(n_networks, n_hidden)``
        and ``(n_networks, n_classes)``.
    learning_rate, alpha : float
        Adam's step size and the L2 penalty (scikit-learn's scaling, as skfold's).
    betas, eps : Adam's constants (torch's defaults).
    """

    def __init__(self, weights, biases, *, learning_rate=1e-2, alpha=1e-4, betas=(0.9, 0.999),
                 eps=1e-8):
        if len(weights) != 2 or len(biases) != 2:
            raise ValueError("BatchedMLP holds networks with exactly one hidden layer")
        self.params = [w.detach().clone() for w in weights] + [b.detach().clone() for b in biases]
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.betas = betas
        self.eps = eps
        self.step_count = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.entry_steps = [torch.zeros_like(p) for p in self.params]  # Adam steps per entry

    # ------------------------------------------------------------------ conversion
    @classmethod
    def from_networks(cls, networks, *, dtype=torch.float64, **kwargs):
        """Stack the parameters of :class:`GrowableMLP` networks of one shape."""
        weights = [torch.stack([net.weights[l].detach().to(dtype) for net in networks])
                   for l in range(len(networks[0].weights))]
        biases = [torch.stack([net.biases[l].detach().to(dtype) for net in networks])
                  for l in range(len(networks[0].biases))]
        return cls(weights, biases, **kwargs)

    @property
    def weights(self):
        return self.params[:2]

    @property
    def biases(self):
        return self.params[2:]

    @property
    def n_networks(self) -> int:
        return int(self.params[0].shape[0])

    def network(self, index) -> GrowableMLP:
        """Network ``index`` as a stand-alone :class:`GrowableMLP` (a copy)."""
        return GrowableMLP([w[index].clone() for w in self.weights],
                           [b[index].clone() for b in self.biases])

    def replace_parameters(self, networks):
        """Load grown networks (one per batch entry, all of one shape) into the batch.

        Growth only appends units, so every old parameter entry keeps its index: Adam's moments
        and step counts are carried into the enlarged tensors and the new entries start fresh
        (zero moments, zero steps), exactly as :meth:`skfold.training.Trainer.after_growth`
        does.
        """
        if len(networks) != self.n_networks:
            raise ValueError(f"need {self.n_networks} networks, got {len(networks)}")
        grown = BatchedMLP.from_networks(networks, dtype=self.params[0].dtype)
        for i, new in enumerate(grown.params):
            for state in (self.exp_avg, self.exp_avg_sq, self.entry_steps):
                padded = torch.zeros_like(new)
                padded[tuple(slice(0, n) for n in state[i].shape)] = state[i]
                state[i] = padded
            self.params[i] = new

    @classmethod
    def concatenate(cls, batches):
        """One batch holding the networks (and optimizer state) of ``batches``, in order."""
        first = batches[0]
        out = cls(first.weights, first.biases, learning_rate=first.learning_rate,
                  alpha=first.alpha, betas=first.betas, eps=first.eps)
        if len({b.step_count for b in batches}) != 1:
            raise ValueError("batches must have taken the same number of Adam steps")
        out.step_count = first.step_count
        out.params = [torch.cat([b.params[i] for b in batches]) for i in range(len(first.params))]
        out.exp_avg = [torch.cat([b.exp_avg[i] for b in batches])
                       for i in range(len(first.params))]
        out.exp_avg_sq = [torch.cat([b.exp_avg_sq[i] for b in batches])
                          for i in range(len(first.params))]
        out.entry_steps = [torch.cat([b.entry_steps[i] for b in batches])
                           for i in range(len(first.params))]
        return out

    def copy(self) -> "BatchedMLP":
        """An independent copy (parameters and optimizer state)."""
        return BatchedMLP.concatenate([self])

    # ------------------------------------------------------------------ forward / objective
    @staticmethod
    def _hidden_preactivation(params, X):
        """``Z`` of shape ``(n_networks, n_hidden, n)``: one GEMM for the whole batch."""
        W1, b1 = params[0], params[2]
        s, h, d = W1.shape
        return torch.addmm(b1.reshape(s * h, 1), W1.reshape(s * h, d), X.T).reshape(s, h, -1)

    @torch.no_grad()
    def logits(self, X):
        """Logits of every network on the shared inputs ``X``: shape ``(n_networks, n_out, n)``."""
        W2, b2 = self.params[1], self.params[3]
        return torch.baddbmm(b2[:, :, None], W2, relu(self._hidden_preactivation(self.params, X)))

    @torch.no_grad()
    def accuracy(self, X, y):
        """Accuracy of every network on ``(X, y)``: ``(n_networks,)``."""
        return (self.logits(X).argmax(dim=1) == y).double().mean(dim=1)

    @torch.no_grad()
    def dead_units(self, X):
        """Hidden units of every network that no row of ``X`` activates: ``(n_networks,)``."""
        return (~(self._hidden_preactivation(self.params, X) > 0).any(dim=2)).sum(dim=1)

    def value_and_grad(self, params, X, onehot, *, need_loss=True):
        """Each network's objective ``(n_networks,)`` and its gradient w.r.t. ``params``.

        The backward pass is written out (four small batched products), several times faster
        than autograd on layers this small. ``onehot`` is ``(n_classes, n)``. With
        ``need_loss=False`` the objective is not computed (None is returned in its place).
        """
        W1, W2, _, b2 = params
        n = X.shape[0]
        Z = self._hidden_preactivation(params, X)
        H = relu(Z)
        log_p = torch.log_softmax(torch.baddbmm(b2[:, :, None], W2, H), dim=1)
        loss = None
        if need_loss:
            penalty = (W1 * W1).sum(dim=(1, 2)) + (W2 * W2).sum(dim=(1, 2))
            loss = -(log_p * onehot).sum(dim=1).mean(dim=1) + 0.5 * self.alpha * penalty / n
        G = log_p.exp_().sub_(onehot).div_(n)  # d loss / d logits
        dW2 = torch.bmm(G, H.transpose(1, 2)).add_(W2, alpha=self.alpha / n)
        dH = torch.bmm(W2.transpose(1, 2), G)
        # dH where Z >= 0 (relu'(0) = 1, as skfold.network.relu): dH minus its part where
        # -Z > 0. aten's threshold_backward is vectorised; a boolean mask is 10x slower.
        dZ = dH.sub_(torch.ops.aten.threshold_backward(dH, Z.neg(), 0.0))
        s, h, _ = dZ.shape
        dW1 = (dZ.reshape(s * h, n) @ X).reshape(s, h, -1).add_(W1, alpha=self.alpha / n)
        return loss, [dW1, dW2, dZ.sum(dim=2), G.sum(dim=2)]

    # ------------------------------------------------------------------ training
    @torch.no_grad()
    def train(self, X, y, n_steps, *, record_every=1, chunk_size=128):
        """``n_steps`` full-batch Adam steps of every network on ``(X, y)``.

        The networks are independent, so they are trained ``chunk_size`` at a time: a chunk's
        activations stay in the CPU cache (measured on 500 rows: 128 networks at a time train
        3x faster per network than 1000 at once).

        Returns
        -------
        losses : torch.Tensor of shape (ceil(n_steps / record_every), n_networks)
            The objective before every ``record_every``-th step (the loss each step starts
            from, as :meth:`skfold.training.Trainer.epoch` returns it).
        """
        onehot = F.one_hot(y, self.params[1].shape[1]).T.to(X.dtype)
        recorded = []
        for start in range(0, self.n_networks, chunk_size):
            rows = slice(start, start + chunk_size)
            recorded.append(self._adam_steps([p[rows] for p in self.params],
                                             [m[rows] for m in self.exp_avg],
                                             [v[rows] for v in self.exp_avg_sq],
                                             [t[rows] for t in self.entry_steps],
                                             X, onehot, n_steps, record_every))
        self.step_count += n_steps
        return torch.cat(recorded, dim=1)

    def _adam_steps(self, params, exp_avg, exp_avg_sq, entry_steps, X, onehot, n_steps,
                    record_every):
        """skfold's Adam (bias-corrected by each entry's own step count) on views of the
        batch, updated in place."""
        beta1, beta2 = self.betas
        recorded = []
        for step in range(n_steps):
            record = step % record_every == 0
            losses, grads = self.value_and_grad(params, X, onehot, need_loss=record)
            if record:
                recorded.append(losses)
            for p, g, m, v, t in zip(params, grads, exp_avg, exp_avg_sq, entry_steps):
                t.add_(1.0)
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = v.div(1 - beta2 ** t).sqrt_().add_(self.eps).mul_(1 - beta1 ** t)
                p.addcdiv_(m, denom, value=-self.learning_rate)
        return torch.stack(recorded)
