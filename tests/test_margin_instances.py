"""Mistakes that are not yet errors: with every row right, growth folds where the margin is
smallest, on the boundary between the true class and the runner-up of its segment."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from skfold import FoldGrowClassifier


def test_with_nothing_mispredicted_growth_folds_on_a_smallest_margin_row():
    X, y = make_blobs(n_samples=300, centers=[[-3, 0], [3, 0], [0, 4]], cluster_std=0.5,
                      random_state=0)
    clf = FoldGrowClassifier(margin_fraction=0.0, early_stopping=False, max_iter=1000,
                             random_state=0).fit(X, y)
    assert (clf.predict(X) == y).all()
    with pytest.warns(UserWarning, match="grow added no unit: no mis-predicted instance"):
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


def _blobs():
    return make_blobs(n_samples=300, centers=[[-3, 0], [3, 0], [0, 4]], cluster_std=0.5,
                      random_state=0)


def test_a_fixed_schedule_reaches_its_width_by_default_even_with_every_row_right():
    """``"fixed"`` grows every ``grow_every`` epochs whatever the loss does; by default
    (``margin_fraction="auto"``) a growth with every row right folds on a smallest-margin row
    instead of being skipped, so the network ends at the width the schedule promises. With
    ``margin_fraction=0`` (the slides' rule) every such growth is skipped."""
    X, y = _blobs()
    params = dict(growth_schedule="fixed", grow_every=20, hidden_units=3, max_hidden_units=6,
                  max_iter=100, random_state=0)
    default = FoldGrowClassifier(**params).fit(X, y)
    assert default.hidden_layer_sizes_ == (6,)
    added = [e for e in default.growth_history_ if e["unit"] is not None]
    assert len(added) == 3
    assert all(e["predicted"] == e["true"] for e in added)  # right, but by the least margin
    slides = FoldGrowClassifier(margin_fraction=0.0, **params).fit(X, y)
    assert slides.hidden_layer_sizes_ == (3,)
    assert all(e["unit"] is None for e in slides.growth_history_)


def test_under_the_plateau_schedule_auto_is_the_slides_rule_but_grow_adds_a_unit():
    """``"auto"`` is ``0`` under ``"plateau"``: the same fit as ``margin_fraction=0``. An
    explicit ``grow`` asks for a unit: with every row right, ``"auto"`` folds on a
    smallest-margin row there (it used to add nothing, without a word)."""
    X, y = _blobs()
    params = dict(early_stopping=False, max_iter=300, random_state=0)
    auto = FoldGrowClassifier(**params).fit(X, y)
    zero = FoldGrowClassifier(margin_fraction=0.0, **params).fit(X, y)
    np.testing.assert_array_equal(auto.predict_proba(X), zero.predict_proba(X))
    assert auto.hidden_layer_sizes_ == zero.hidden_layer_sizes_
    assert (auto.predict(X) == y).all()
    before, width = auto.predict_proba(X), auto.hidden_layer_sizes_[0]
    auto.grow(X, y)
    event = auto.growth_history_[-1]
    assert auto.hidden_layer_sizes_[0] == width + 1 and event["unit"] == width
    assert event["predicted"] == event["true"]  # right, but by a small margin
    np.testing.assert_allclose(auto.predict_proba(X), before, atol=1e-6)
