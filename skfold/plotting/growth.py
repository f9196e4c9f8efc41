"""The growth of a fit: training loss with its growths marked, and the hidden units over epochs."""

from __future__ import annotations

import numpy as np

from ..schedule import growth_paid
from ._common import pyplot, split_pipeline


def _units_timeline(final):
    """``(epochs, total hidden units)`` steps: the seed width, then the width after each growth."""
    history = [e for e in final.growth_history_ if e.get("hidden_layer_sizes") is not None]
    start = sum(final.hidden_layer_sizes_)
    if history:
        first = [e for e in history if e["growth"] == history[0]["growth"]]
        added = sum(1 if e.get("unit") is not None else e.get("width") or 0 for e in first)
        start = sum(first[0]["hidden_layer_sizes"]) - added
    epochs, units = [0], [start]
    for event in history:
        total = sum(event["hidden_layer_sizes"])
        if epochs[-1] == event["epoch"]:
            units[-1] = total
        else:
            epochs.append(event["epoch"])
            units.append(total)
    epochs.append(max(final.n_iter_, epochs[-1]))
    units.append(units[-1])
    return np.array(epochs), np.array(units)


def plot_growth(estimator, axes=None):
    """Training loss with every growth marked, and the number of hidden units over epochs.

    A growth's marker is hollow when the growth did not pay (the loss fell by less than its
    ``gain_needed``, see ``min_growth_gain``).

    Parameters
    ----------
    estimator : fitted FoldGrow estimator or Pipeline ending in one
    axes : sequence of two matplotlib Axes, default=None
        Where to draw the loss and the units; a new figure when None.

    Returns
    -------
    axes : tuple of two matplotlib Axes
    """
    plt = pyplot()
    _, final = split_pipeline(estimator)
    if not hasattr(final, "growth_history_"):
        raise TypeError(f"plot_growth needs a FoldGrowClassifier or FoldGrowRegressor; got "
                        f"{type(final).__name__}.")
    if axes is None:
        _, axes = plt.subplots(2, 1, sharex=True, figsize=(7, 5), height_ratios=(2, 1),
                               layout="constrained")
    ax_loss, ax_units = axes
    loss = np.asarray(final.loss_curve_, dtype=np.float64)
    epochs = np.arange(1, len(loss) + 1)
    ax_loss.plot(epochs, loss, color="C0", lw=1.5, label="training loss")
    if np.all(loss > 0):
        ax_loss.set_yscale("log")

    growths = {}
    for event in final.growth_history_:
        if event.get("unit") is not None or event.get("kind") == "deepen":
            growths.setdefault(event["growth"], event)
    labelled = set()
    for event in growths.values():
        epoch = event["epoch"]
        ax_loss.axvline(epoch, color="C3", lw=0.8, ls=":", alpha=0.8)
        if 1 <= epoch <= len(loss):
            # hollow: the loss did not fall by the gain the growth needed (min_growth_gain)
            paid = growth_paid(event) is not False
            label = "growth" if paid else "growth that did not pay"
            ax_loss.plot(epoch, loss[epoch - 1], "v", color="C3", ms=7,
                         markerfacecolor="C3" if paid else "none",
                         label=None if label in labelled else label,
                         gid=f"growth {event['growth']}")
            labelled.add(label)
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="upper right", frameon=False)
    n_units = sum(final.hidden_layer_sizes_)
    ax_loss.set_title(f"{len(growths)} growths; final network "
                      + "-".join(map(str, [final.n_features_in_, *final.hidden_layer_sizes_,
                                           final.n_outputs_])), fontsize="medium")

    steps_x, steps_u = _units_timeline(final)
    ax_units.step(steps_x, steps_u, where="post", color="C2", lw=1.8, label="hidden units")
    if n_units != steps_u[-1]:
        ax_units.axhline(n_units, color="k", ls="--", lw=1,
                         label=f"kept (best network): {n_units}")
        ax_units.legend(loc="lower right", frameon=False, fontsize="small")
    ax_units.set_ylabel("hidden units")
    ax_units.set_xlabel("epoch" if final.solver_ != "lbfgs" else "epoch (L-BFGS iteration)")
    ax_units.yaxis.get_major_locator().set_params(integer=True)
    return ax_loss, ax_units
