"""Mistakes that are not yet errors: with every row right, growth folds where the margin is
smallest, on the boundary between the true class and the runner-up of its segment."""

import numpy as np
import torch
from sklearn.datasets import make_blobs
from skfold import FoldGrowClassifier


def test_with_nothing_mispredicted_growth_folds_on_a_smallest_margin_row():
    X, y = make_blobs(n_samples=300, centers=[[-3, 0], [3, 0], [0, 4]], cluster_std=0.5,
                      random_state=0)
    clf = FoldGrowClassifier(margin_fraction=0.0, early_stopping=False, max_iter=1000,
                             random_state=0).fit(X, y)
    assert (clf.predict(X) == y).all()
    clf.grow(X, y)
    assert clf.growth_history_[-1]["unit"] is None  # the slides' rule: nothing to fold
    width = clf.hidden_layer_sizes_
    clf.set_params(margin_fraction=0.1)
    before = clf.predict_proba(X)
    clf.grow(X, y)
    event = clf.growth_history_[-1]
    assert clf.hidden_layer_sizes_[0] == width[0] + 1
    np.testing.assert_allclose(clf.predict_proba(X), before, atol=1e-6)  # function unchanged
    with torch.no_grad():
        logits = clf.network_(torch.as_tensor(X, dtype=clf.network_.weights[0].dtype))
        logits = logits.double().numpy()
    true = logits[np.arange(len(y)), y]
    runner_up = np.where(np.eye(3, dtype=bool)[y], -np.inf, logits).max(axis=1)
    margins = true - runner_up
    row = event["instance_index"]
    assert event["predicted"] == event["true"] == y[row]  # right, but barely
    assert margins[row] <= np.quantile(margins, 0.1) + 1e-9
    x_f = np.asarray(event["x_f"], dtype=float)
    with torch.no_grad():
        z = clf.network_(torch.as_tensor(x_f[None], dtype=clf.network_.weights[0].dtype))
    z = z.double().numpy()[0]
    order = np.argsort(-z)
    assert y[row] in order[:2]
    assert abs(z[order[0]] - z[order[1]]) < 1e-3 * (1 + np.abs(z).max())
