"""The growable ReLU MLP: forward pass, function-preserving growth, activated segments.

Layer ``l`` (0-based here) maps ``h_l`` to ``z_{l+1} = W_l h_l + b_l``; hidden layers apply
ReLU, the last layer is the linear output. All growth operations keep the network's function
exactly unchanged at the moment they are applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


def relu(z: torch.Tensor) -> torch.Tensor:
    """ReLU whose derivative at exactly 0 is 1.

    ``torch.relu`` has derivative 0 at 0, which would leave a unit initialised with zero
    incoming weights (GradMax) dead forever. ``threshold`` at minus the smallest normal float
    passes the gradient where ``z > -tiny``, so at 0 too; it differs from ``max(z, 0)`` only on
    negative subnormals (``|z| < 1.2e-38`` in float32), which it passes through unchanged. Its
    backward is a single masked copy, far cheaper than ``clamp_min``'s ``where``
    (``benchmarks/results/design_notes.md``).
    """
    return torch.nn.functional.threshold(z, -torch.finfo(z.dtype).tiny, 0.0)


def relu_backward(grad_h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Gradient through :func:`relu` at pre-activation ``z``: ``grad_h`` where ``z > -tiny``.

    The very kernel autograd runs for :func:`relu`'s backward, in one operation rather than a
    comparison, a cast and a product.
    """
    return torch.ops.aten.threshold_backward(grad_h, z, -torch.finfo(z.dtype).tiny)


class GrowableMLP(nn.Module):
    """ReLU MLP whose hidden layers can be widened and deepened in place.

    Parameters
    ----------
    weights : list of torch.Tensor
        ``weights[l]`` has shape ``(n_out_l, n_in_l)``; the last one is the output layer.
    biases : list of torch.Tensor
        ``biases[l]`` has shape ``(n_out_l,)``.
    linear : torch.Tensor or None
        The linear part ``S`` of shape ``(n_outputs, n_features)``: a direct input-to-output
        connection, ``output = W_o h + b_o + S x`` (DESIGN section 8, the linear seed). It is
        a buffer, not a parameter: fitted once before the hidden units train, then fixed.
    """

    def __init__(self, weights, biases, linear=None):
        super().__init__()
        if len(weights) != len(biases) or len(weights) < 2:
            raise ValueError("need at least one hidden layer and an output layer")
        self.weights = nn.ParameterList([nn.Parameter(w) for w in weights])
        self.biases = nn.ParameterList([nn.Parameter(b) for b in biases])
        self.register_buffer("linear", None if linear is None else linear.detach().clone())

    @classmethod
    def initialize(cls, n_features, hidden_sizes, n_outputs, *, generator, dtype, device):
        """Glorot-uniform network (scikit-learn MLP's bounds) drawn from ``generator`` only (never
        the global RNG)."""
        sizes = [n_features, *hidden_sizes, n_outputs]
        weights, biases = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            # Glorot-uniform bound as in scikit-learn's MLP, which suits both ReLU and output.
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            w = (torch.rand(fan_out, fan_in, generator=generator, dtype=torch.float64) * 2 - 1)
            b = (torch.rand(fan_out, generator=generator, dtype=torch.float64) * 2 - 1)
            weights.append((w * bound).to(dtype=dtype, device=device))
            biases.append((b * bound).to(dtype=dtype, device=device))
        return cls(weights, biases)

    @property
    def n_hidden_layers(self) -> int:
        return len(self.weights) - 1

    @property
    def hidden_sizes(self) -> tuple:
        return tuple(int(w.shape[0]) for w in self.weights[:-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Plain lists: slicing a ParameterList builds a new Module, a costly step of a small
        # training step.
        *hidden, (w_out, b_out) = zip(list(self.weights), list(self.biases))
        h = x
        for w, b in hidden:
            h = relu(torch.addmm(b, h, w.t()))
        return self.plus_linear(torch.addmm(b_out, h, w_out.t()), x)

    def plus_linear(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``out`` plus the linear part's output ``S x`` (``out`` itself without a linear part)."""
        return out if self.linear is None else torch.addmm(out, x, self.linear.t())

    def rebuilt(self, weights, biases) -> "GrowableMLP":
        """A new network of ``weights`` and ``biases`` with this one's linear part."""
        return GrowableMLP(weights, biases, self.linear)

    def hidden_input(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """``h_layer``: the input of hidden layer ``layer`` (``layer=0`` gives ``x`` itself)."""
        h = x
        for w, b in zip(self.weights[:layer], self.biases[:layer]):
            h = relu(torch.addmm(b, h, w.t()))
        return h

    def forward_from(self, h: torch.Tensor, layer: int, offset=None) -> torch.Tensor:
        """Output of the network's tail that starts at hidden layer ``layer`` with input ``h``.

        ``offset``: the linear part's output on the rows ``h`` came from, added to the tail's
        output; for ``layer=0`` (``h`` is ``x``) it is computed when not given.
        """
        if offset is None and layer == 0:
            offset = self.linear_output(h)
        x = h
        for w, b in zip(self.weights[layer:-1], self.biases[layer:-1]):
            x = relu(torch.addmm(b, x, w.t()))
        out = torch.addmm(self.biases[-1], x, self.weights[-1].t())
        return out if offset is None else out + offset

    def linear_output(self, x: torch.Tensor):
        """``S x``, the linear part's output on the rows ``x``, or None without a linear part."""
        return None if self.linear is None else x @ self.linear.t()

    # ------------------------------------------------------------------ growth
    @torch.no_grad()
    def widen(self, layer: int, incoming: torch.Tensor, bias: torch.Tensor,
              outgoing: torch.Tensor | None = None) -> list:
        """Append units to hidden layer ``layer``.

        ``incoming`` is ``(k, n_in)``, ``bias`` ``(k,)``; ``outgoing`` ``(n_next, k)`` defaults
        to zeros, which leaves the function unchanged whatever the incoming weights are. A
        non-zero ``outgoing`` preserves the function only if the new units output 0 (e.g. zero
        incoming weights and bias, as GradMax does).

        Returns the list of ``(old_param, new_param, slices)`` so optimizer state can be carried.
        """
        if not 0 <= layer < self.n_hidden_layers:
            raise IndexError(f"hidden layer {layer} does not exist")
        w_in, b_in, w_out = self.weights[layer], self.biases[layer], self.weights[layer + 1]
        k = incoming.shape[0]
        incoming = incoming.to(dtype=w_in.dtype, device=w_in.device).reshape(k, w_in.shape[1])
        bias = bias.to(dtype=b_in.dtype, device=b_in.device).reshape(k)
        if outgoing is None:
            outgoing = torch.zeros(w_out.shape[0], k, dtype=w_out.dtype, device=w_out.device)
        outgoing = outgoing.to(dtype=w_out.dtype, device=w_out.device).reshape(w_out.shape[0], k)
        new_w_in = nn.Parameter(torch.cat([w_in.data, incoming], dim=0))
        new_b_in = nn.Parameter(torch.cat([b_in.data, bias], dim=0))
        new_w_out = nn.Parameter(torch.cat([w_out.data, outgoing], dim=1))
        n_old = w_in.shape[0]
        self.weights[layer], self.biases[layer], self.weights[layer + 1] = (
            new_w_in, new_b_in, new_w_out)
        return [
            (w_in, new_w_in, (slice(0, n_old), slice(None))),
            (b_in, new_b_in, (slice(0, n_old),)),
            (w_out, new_w_out, (slice(None), slice(0, n_old))),
        ]

    @torch.no_grad()
    def deepen(self, after_layer: int) -> None:
        """Insert an identity hidden layer after hidden layer ``after_layer``.

        Since ``h >= 0``, ``relu(I h + 0) = h``: the function is exactly unchanged.
        """
        if not 0 <= after_layer < self.n_hidden_layers:
            raise IndexError(f"hidden layer {after_layer} does not exist")
        ref = self.weights[after_layer]
        width = ref.shape[0]
        eye = torch.eye(width, dtype=ref.dtype, device=ref.device)
        zeros = torch.zeros(width, dtype=ref.dtype, device=ref.device)
        weights = list(self.weights)
        biases = list(self.biases)
        weights.insert(after_layer + 1, nn.Parameter(eye))
        biases.insert(after_layer + 1, nn.Parameter(zeros))
        self.weights = nn.ParameterList(weights)
        self.biases = nn.ParameterList(biases)

    # ------------------------------------------------------------------ numpy views
    def coefs(self) -> list:
        """Weights as float64 numpy arrays in scikit-learn's layout ``(n_in, n_out)``."""
        return [w.detach().cpu().double().numpy().T.copy() for w in self.weights]

    def intercepts(self) -> list:
        return [b.detach().cpu().double().numpy().copy() for b in self.biases]

    def linear_coef(self):
        """The linear part in scikit-learn's layout ``(n_in, n_out)``, or None."""
        return None if self.linear is None else self.linear.detach().cpu().double().numpy().T.copy()


def snapshot(network):
    """``(weights, biases)``: copies of the network's parameters."""
    return ([w.detach().clone() for w in network.weights],
            [b.detach().clone() for b in network.biases])


@dataclass
class ActivatedSegment:
    """The affine piece of a network (or of its tail from ``layer``) around one input.

    Inside the region, ``output(x') = A @ x' + a``. The region is
    ``{x' : signs * (P @ x' + p) >= 0}``, one row per hidden unit of the tail.
    """

    A: np.ndarray
    a: np.ndarray
    P: np.ndarray
    p: np.ndarray
    signs: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.A.T + self.a

    def region_slack(self, x: np.ndarray) -> np.ndarray:
        """``signs * (P x + p)``: all >= 0 exactly when ``x`` is in the region's closure."""
        return self.signs * (x @ self.P.T + self.p)


def activated_segment(network: GrowableMLP, h: np.ndarray, layer: int = 0,
                      offset=None) -> ActivatedSegment:
    """Affine map and region of the activated linear segment containing ``h``.

    ``h`` is a single input of hidden layer ``layer`` (``x`` itself for ``layer=0``). Computed in
    float64 by carrying the affine map through the activation masks, so it is exact for any depth.
    A linear part ``S`` adds ``S`` to ``A`` for ``layer=0`` and no kink to the region; for a deeper
    layer its output on the row, ``offset``, is a constant of the tail's map, added to ``a``.
    """
    h = np.asarray(h, dtype=np.float64).ravel()
    d = h.shape[0]
    # A = None stands for the identity: a d x d matrix would be 763 MiB at d = 10,000, and
    # w @ I is w + 0.0 (BLAS adds the zero products, which turns a -0.0 weight into +0.0)
    A, a = None, np.zeros(d)
    value = h
    P_rows, p_rows, sign_rows = [], [], []
    ws = [w.detach().cpu().double().numpy() for w in network.weights]
    bs = [b.detach().cpu().double().numpy() for b in network.biases]
    for w, b in zip(ws[layer:-1], bs[layer:-1]):
        P, p = (w + 0.0) if A is None else w @ A, w @ a + b
        z = w @ value + b
        active = z > 0
        P_rows.append(P)
        p_rows.append(p)
        sign_rows.append(np.where(active, 1.0, -1.0))
        A, a = P * active[:, None], p * active
        value = np.maximum(z, 0.0)
    A_out, a_out = (ws[-1] + 0.0) if A is None else ws[-1] @ A, ws[-1] @ a + bs[-1]
    if network.linear is not None and layer == 0:
        A_out = A_out + network.linear.detach().cpu().double().numpy()
    elif network.linear is not None:
        if offset is None:
            raise ValueError("a network with a linear part needs the row's offset for the "
                             "segment of a deeper layer")
        a_out = a_out + np.asarray(torch.as_tensor(offset).detach().cpu().double()).ravel()
    return ActivatedSegment(
        A=A_out, a=a_out, P=np.vstack(P_rows), p=np.concatenate(p_rows),
        signs=np.concatenate(sign_rows),
    )
