"""What a fit tells its user: verbose lines, a progress bar, the growth table, explain_unit."""

import pickle
import re
import sys

import numpy as np
import torch
import pytest
from sklearn.datasets import make_moons
from sklearn.exceptions import NotFittedError

from skfold import FoldGrowClassifier, FoldGrowRegressor


@pytest.fixture(scope="module")
def moons():
    return make_moons(n_samples=200, noise=0.2, random_state=0)


def _fit(X, y, **params):
    return FoldGrowClassifier(max_hidden_units=6, random_state=0, **params).fit(X, y)


# --------------------------------------------------------------------------- verbose
def test_verbose_0_is_silent(moons, capsys):
    _fit(*moons)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_verbose_1_prints_one_line_per_growth(moons, capsys):
    clf = _fit(*moons, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert not any(line.startswith("Iteration") for line in lines)
    growth_lines = [line for line in lines if line.startswith("Growth")]
    assert len(growth_lines) == len(clf.growth_history_) >= 1
    for line, event in zip(growth_lines, clf.growth_history_):
        assert f"Growth {event['growth']} at epoch {event['epoch']}:" in line
        assert f"unit {event['unit']} of layer {event['layer']}" in line
        assert f"instance {event['instance_index']}" in line
        assert f"loss {event['loss_before']:.6f}" in line
        assert f"fold distance {event['fold_distance']:.4g}" in line
        assert len(line.split("loss ")[1].split(",")[0].split(".")[1]) == 6  # fixed digits
        assert f"hidden units {event['hidden_layer_sizes']}" in line


def test_verbose_2_prints_every_epochs_loss_like_mlpclassifier(moons, capsys):
    clf = _fit(*moons, verbose=2, solver="adam", max_iter=30, n_iter_no_change=3)
    lines = capsys.readouterr().out.splitlines()
    epochs = [line for line in lines if line.startswith("Iteration")]
    assert len(epochs) == clf.n_iter_ == len(clf.loss_curve_)
    printed = [float(re.search(r"loss = ([0-9.]+)", line).group(1)) for line in epochs]
    np.testing.assert_allclose(printed, clf.loss_curve_, rtol=1e-6, atol=1e-8)
    assert sum(line.startswith("Growth") for line in lines) == len(clf.growth_history_)


def test_verbose_2_with_early_stopping_prints_the_validation_score(moons, capsys):
    clf = _fit(*moons, verbose=2, early_stopping=True, solver="adam", max_iter=5)
    epochs = [line for line in capsys.readouterr().out.splitlines()
              if line.startswith("Iteration")]
    printed = [float(re.search(r"validation score = ([0-9.]+)", line).group(1))
               for line in epochs]
    np.testing.assert_allclose(printed, clf.validation_scores_, atol=1e-6)


# --------------------------------------------------------------------------- progress bar
def test_progress_bar_only_on_a_terminal(moons, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    X, y = moons
    _fit(X, y, verbose=1)
    assert capsys.readouterr().err == ""  # captured stderr is not a terminal: no bar

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    clf = _fit(X, y, verbose=1)
    out, err = capsys.readouterr()
    assert "epoch" in err  # the bar, on stderr
    assert sum(line.startswith("Growth") for line in out.splitlines()) == len(
        clf.growth_history_)  # verbose lines still reach stdout, through the bar
    assert getattr(pickle.loads(pickle.dumps(clf)), "_progress", None) is None


def test_no_progress_bar_without_tqdm_or_verbose(moons, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    _fit(*moons)  # verbose=0: quiet even on a terminal
    assert capsys.readouterr().err == ""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    clf = _fit(*moons, verbose=1)
    out, err = capsys.readouterr()
    assert err == "" and out.count("Growth") == len(clf.growth_history_)


# --------------------------------------------------------------------------- growth history
def test_growth_history_reads_as_a_dataframe(moons):
    pd = pytest.importorskip("pandas")
    clf = _fit(*moons)
    table = pd.DataFrame(clf.growth_history_)
    assert len(table) == len(clf.growth_history_)
    documented = ["growth", "epoch", "kind", "layer", "unit", "init", "instance_index", "x_t",
                  "x_f", "fold_distance", "predicted", "true", "cluster_size",
                  "cluster_mean_loss", "loss_before", "loss_after", "fallback",
                  "in_final_model"]
    assert set(documented) <= set(table.columns)
    grown = table[table["unit"].notna()]
    assert grown["unit"].astype(int).tolist() == list(range(2, 2 + len(grown)))
    assert set(grown["predicted"]) <= set(clf.classes_)


# --------------------------------------------------------------------------- explain_unit
def test_explain_unit_points_at_the_training_instance_it_was_grown_for(moons):
    X, y = moons
    clf = _fit(X, y)
    for unit in range(clf.hidden_units_):
        seed = clf.explain_unit(unit)
        assert seed["origin"] == "seed" and "seed unit" in seed["summary"]
    grown = range(clf.hidden_units_, clf.hidden_layer_sizes_[0])
    assert len(grown) >= 1
    for unit in grown:
        why = clf.explain_unit(unit)
        assert why["origin"] == "growth" and why["unit"] == unit
        np.testing.assert_allclose(why["x_t"], X[why["instance_index"]])
        assert why["true"] == y[why["instance_index"]] != why["predicted"]
        assert why["fold_distance"] == pytest.approx(
            np.linalg.norm(np.subtract(why["x_t"], why["x_f"])))
        if why["loss_after"] is not None:
            assert why["loss_change"] == pytest.approx(why["loss_after"] - why["loss_before"])
            fell_enough = why["loss_before"] - why["loss_after"] > why["gain_needed"]
            assert why["paid"] == fell_enough
            assert ("the growth paid" if fell_enough else "did not pay") in why["summary"]
        assert f"instance {why['instance_index']}" in why["summary"]


def test_explain_unit_says_where_the_hyperplane_went_when_there_was_no_fold_point():
    """1-D sine whose seed network is a line on the data: the fold unit would add nothing,
    so the hyperplane went behind x_t; a later unit folds at a fold point."""
    rng = np.random.RandomState(0)
    x = rng.uniform(-3, 3, size=300)
    X = ((x - x.mean()) / x.std())[:, None]
    reg = FoldGrowRegressor(early_stopping=False, random_state=1).fit(X, np.sin(2 * x))
    whys = [reg.explain_unit(e["unit"]) for e in reg.growth_history_ if e["unit"] is not None]
    behind = [w for w in whys if "redundant_fold" in (w["fallback"] or "")]
    folded = [w for w in whys if w["fallback"] is None]
    assert behind and folded
    for why in behind:
        assert "just behind it, normal to the loss gradient" in why["summary"]
        assert repr(why["fallback"]) in why["summary"]
        assert "passes through the fold point" not in why["summary"]
    for why in folded:
        assert "passes through the fold point" in why["summary"]
        assert "fallback" not in why["summary"]


def test_explain_unit_of_a_deepened_layer(moons):
    X, y = moons
    clf = FoldGrowClassifier(max_depth=2, growth_patience=1, growth_schedule="none",
                             random_state=0).fit(X, y)
    clf.grow(X, y).grow(X, y)  # the first growth did not pay (no training): deepen
    sizes = clf.hidden_layer_sizes_
    assert len(sizes) == 2
    copies = [clf.explain_unit(k, layer=1) for k in range(sizes[1] - 1)]
    assert {c["origin"] for c in copies} == {"deepen"}
    assert "unit 0 of layer 0" in copies[0]["summary"]
    last = clf.explain_unit(sizes[1] - 1, layer=1)
    assert last["origin"] == "growth" and last["h_f"] is not None
    assert "layer's input space" in last["summary"]


def test_explain_unit_regressor_and_errors(moons):
    X = np.linspace(-3, 3, 100)[:, None]
    reg = FoldGrowRegressor(growth_schedule="none", random_state=0).fit(X, np.sin(2 * X[:, 0]))
    with pytest.raises(NotFittedError):
        FoldGrowRegressor().explain_unit(0)
    reg.grow(X, np.sin(2 * X[:, 0]))
    why = reg.explain_unit(reg.hidden_layer_sizes_[0] - 1)
    assert why["origin"] == "growth"
    assert why["true"] == pytest.approx([np.sin(2 * why["x_t"][0])])
    with pytest.raises(ValueError, match="unit must be an integer in"):
        reg.explain_unit(reg.hidden_layer_sizes_[0])
    with pytest.raises(ValueError, match="layer must be an integer in"):
        reg.explain_unit(0, layer=1)


def _active_counts(clf, X, layer):
    """Rows of X that activate each unit of ``layer``, from ``coefs_`` and ``intercepts_``."""
    h = X
    for w, b in zip(clf.coefs_[:layer], clf.intercepts_[:layer]):
        h = np.maximum(h @ w + b, 0.0)
    return ((h @ clf.coefs_[layer] + clf.intercepts_[layer]) > 0).sum(axis=0)


@pytest.mark.parametrize("depth", [1, 2])
def test_explain_unit_with_X_counts_the_rows_that_activate_the_unit(moons, depth):
    X, y = moons
    clf = FoldGrowClassifier(max_depth=depth, max_hidden_units=8, random_state=0).fit(X, y)
    if depth == 2:
        clf.set_params(growth_patience=1, growth_schedule="none", max_hidden_units=20)
        clf.grow(X, y).grow(X, y).grow(X, y)  # fruitless growths: it deepens, then widens
    layer = len(clf.hidden_layer_sizes_) - 1
    counts = _active_counts(clf, X, layer)
    for unit in range(clf.hidden_layer_sizes_[layer]):
        why = clf.explain_unit(unit, layer=layer, X=X)
        assert why["n_active"] == counts[unit]
        assert why["active_fraction"] == pytest.approx(counts[unit] / len(X))
        assert why["summary"].startswith(clf.explain_unit(unit, layer=layer)["summary"])
        said = f"{counts[unit]} of the {len(X)} rows" if counts[unit] else "dead unit"
        assert said in why["summary"]
    assert "n_active" not in clf.explain_unit(0, layer=layer)


def test_explain_unit_with_X_calls_a_unit_that_never_fires_dead(moons):
    X, y = moons
    clf = FoldGrowClassifier(max_hidden_units=4, growth_schedule="none", max_iter=20,
                             random_state=0).fit(X, y)
    with torch.no_grad():
        clf.network_.weights[0][1] = 0.0
        clf.network_.biases[0][1] = -1.0
    why = clf.explain_unit(1, X=X)
    assert why["n_active"] == 0 and why["active_fraction"] == 0.0
    assert "dead unit" in why["summary"]
    assert "dead unit" not in clf.explain_unit(0, X=X)["summary"]
    with pytest.raises(ValueError, match="features"):
        clf.explain_unit(0, X=X[:, :1])
