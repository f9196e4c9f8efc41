"""Quickstart: grow a classifier from 2 hidden units on the two-moons problem.

Fits a ``FoldGrowClassifier`` in a pipeline, prints its test accuracy, the grown architecture
(next to an ``MLPClassifier`` of the same width), the growth history as a table and why one of
the grown units exists. With matplotlib installed it also saves ``quickstart_boundary.png`` (the
decision boundary with every fold) and ``quickstart_growth.png`` (loss and hidden units over
epochs) into the directory given as the first argument, else ``$SKFOLD_EXAMPLES_OUTPUT``, else
``examples/output/``.

    python examples/quickstart.py
"""

import os
import sys
from pathlib import Path

from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfold import FoldGrowClassifier

X, y = make_moons(n_samples=1000, noise=0.2, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

model = make_pipeline(StandardScaler(), FoldGrowClassifier(max_hidden_units=16, random_state=0))
model.fit(X_train, y_train)
grown = model[-1]

print(f"test accuracy: {model.score(X_test, y_test):.3f}")
kept = sum(e["in_final_model"] is True for e in grown.growth_history_)
dropped = grown.n_growths_ - kept  # growths after the network the held-out rows chose
print(f"grown architecture: {grown.n_features_in_}-"
      + "-".join(map(str, grown.hidden_layer_sizes_)) + f"-{grown.n_outputs_}"
      + f" after {grown.n_growths_} growths"
      + (f" ({dropped} dropped: the held-out rows chose an earlier network)" if dropped else "")
      + f", {grown.n_iter_} iterations")

mlp = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=grown.hidden_layer_sizes_,
                                                    max_iter=2000, random_state=0))
print(f"MLPClassifier of the same width: {mlp.fit(X_train, y_train).score(X_test, y_test):.3f}")

print("\ngrowth history (why each hidden unit exists):")
columns = ["growth", "epoch", "unit", "instance_index", "predicted", "true", "fold_distance",
           "loss_before", "loss_after", "gain_needed", "fallback"]
try:
    import pandas as pd

    with pd.option_context("display.width", 120, "display.precision", 4):
        print(pd.DataFrame(grown.growth_history_)[columns].to_string(index=False))
except ImportError:
    for event in grown.growth_history_:
        print({key: event.get(key) for key in columns})

grown_units = [e["unit"] for e in grown.growth_history_
               if e.get("unit") is not None and e.get("in_final_model")]
if grown_units:  # X in the estimator's own input space: after the pipeline's scaler
    print("\n" + grown.explain_unit(grown_units[0], X=model[:-1].transform(X_train))["summary"])

try:
    import matplotlib
except ImportError:
    print("\n(install matplotlib to save the figures: python -m pip install matplotlib)")
else:
    matplotlib.use("Agg")
    from skfold.plotting import plot_decision_boundary, plot_growth

    default = os.environ.get("SKFOLD_EXAMPLES_OUTPUT", Path(__file__).resolve().parent / "output")
    out = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    out.mkdir(parents=True, exist_ok=True)
    ax = plot_decision_boundary(model, X_test, y_test)
    ax.set_title(f"FoldGrowClassifier on two moons (test points), "
                 f"accuracy {model.score(X_test, y_test):.3f}", fontsize="medium")
    ax.figure.savefig(out / "quickstart_boundary.png", dpi=90)
    ax_loss, _ = plot_growth(model)
    ax_loss.figure.savefig(out / "quickstart_growth.png", dpi=90)
    print(f"\nfigures written to {out}")
