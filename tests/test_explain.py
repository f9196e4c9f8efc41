"""What a fit tells its user: verbose lines, a progress bar, the growth table, explain_unit."""

import pickle
import re
import sys
import warnings

import numpy as np
import torch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


def test_explain_unit_with_a_read_only_X_counts_alike_and_warns_nothing(moons):
    # pandas 3's copy-on-write hands out read-only arrays; torch warns on a tensor made from one
    X, y = moons
    clf = FoldGrowClassifier(max_hidden_units=4, max_iter=30, random_state=0).fit(X, y)
    read_only = X.copy()
    read_only.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        why = clf.explain_unit(0, X=read_only)
        clf.predict_proba(read_only)
    assert why["n_active"] == clf.explain_unit(0, X=X)["n_active"]


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


# --------------------------------------------------------------------------- in the user's terms
COLUMNS = ["income", "age", "height", "rate", "score"]


@pytest.fixture(scope="module")
def table_data(moons):
    """Moons with three noise columns, on scales of their own, as a DataFrame."""
    pd = pytest.importorskip("pandas")
    X, y = moons
    noise = np.random.RandomState(0).normal(size=(len(X), 3))
    X = np.c_[X, noise] * [3.0, 0.5, 100.0, 0.01, 7.0] + [10.0, -2.0, 500.0, 0.0, 1.0]
    return pd.DataFrame(X, columns=COLUMNS), y


@pytest.fixture(scope="module")
def scaled_model(table_data):
    """StandardScaler + classifier; early stopping holds rows out of the training rows."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = table_data
    model = make_pipeline(StandardScaler(), FoldGrowClassifier(
        max_hidden_units=5, early_stopping=True, random_state=0)).fit(X, y)
    assert model[-1].hidden_layer_sizes_[0] > model[-1].hidden_units_
    return model


def _grown_units(clf, layer=0):
    return [e["unit"] for e in clf.growth_history_
            if e.get("unit") is not None and e["layer"] == layer and e["in_final_model"]]


def _ranked(weights):
    return sorted(range(len(weights)), key=lambda j: -abs(weights[j]))


def test_explain_unit_names_the_features_and_ranks_them_by_incoming_weight(table_data):
    X, y = table_data
    clf = FoldGrowClassifier(max_hidden_units=5, linear_seed=False, random_state=0).fit(
        (X - X.mean()) / X.std(), y)
    assert clf.hidden_layer_sizes_[0] > clf.hidden_units_
    for unit in range(clf.hidden_layer_sizes_[0]):
        why = clf.explain_unit(unit)
        weights = clf.coefs_[0][:, unit]
        np.testing.assert_allclose(why["weights"], weights)
        order = _ranked(weights)
        assert list(why["feature_names"]) == COLUMNS  # the DataFrame's columns
        assert why["space"] == "estimator"
        table = why["table"]
        assert list(table.columns) == ["feature", "x_t", "x_f", "move", "weight"]
        assert table["feature"].tolist() == [COLUMNS[j] for j in order]
        np.testing.assert_allclose(table["weight"], weights[order])
        assert why["top_features"] == [COLUMNS[j] for j in order[:3]]
        # the summary names the top three, in rank order, and no other feature
        said = [why["summary"].find(f"{name} (weight") for name in why["top_features"]]
        assert -1 < said[0] < said[1] < said[2]
        assert all(f"{COLUMNS[j]} (weight" not in why["summary"] for j in order[3:])
        if why["origin"] == "growth":
            np.testing.assert_allclose(table["x_t"], np.asarray(why["x_t"])[order])
            np.testing.assert_allclose(table["x_f"], np.asarray(why["x_f"])[order])
            np.testing.assert_allclose(table["move"], table["x_f"] - table["x_t"])
            assert "[" not in why["summary"]  # no raw vectors: the table holds them
        else:
            assert table["x_t"].isna().all() and table["move"].isna().all()


def test_explain_unit_names_array_features_as_scikit_learn_does(moons):
    X, y = moons
    clf = _fit(X, y)
    why = clf.explain_unit(clf.hidden_layer_sizes_[0] - 1)
    assert list(why["feature_names"]) == ["x0", "x1"]
    assert set(why["top_features"]) == {"x0", "x1"}
    assert "x0 (weight" in why["summary"] and "x1 (weight" in why["summary"]


def test_explain_unit_table_is_a_list_of_rows_without_pandas(moons, monkeypatch):
    X, y = moons
    clf = _fit(X, y)
    unit = clf.hidden_layer_sizes_[0] - 1
    monkeypatch.setitem(sys.modules, "pandas", None)
    why = clf.explain_unit(unit)
    rows = why["table"]
    assert isinstance(rows, list) and len(rows) == 2
    assert list(rows[0]) == ["feature", "x_t", "x_f", "move", "weight"]
    assert abs(rows[0]["weight"]) >= abs(rows[1]["weight"])
    j = why["feature_names"].tolist().index(rows[0]["feature"])
    assert rows[0]["x_t"] == pytest.approx(why["x_t"][j])


def test_explain_pipeline_unit_gives_the_points_in_the_original_units(scaled_model,
                                                                      table_data):
    from skfold import explain_pipeline_unit

    X, _ = table_data
    scaler, clf = scaled_model[0], scaled_model[-1]
    assert clf.early_stopping and len(clf.validation_scores_) > 0  # rows were held out
    for unit in _grown_units(clf):
        why = explain_pipeline_unit(scaled_model, unit, X=X)
        assert why["space"] == "original" and why["why_not_original"] is None
        # x_t is the very row of the data fit was given, in its own units
        row = X.iloc[why["instance_index"]].to_numpy()
        np.testing.assert_allclose(why["x_t_original"], row, rtol=1e-12, atol=1e-9)
        # x_f in original units is where the scaler takes the estimator's x_f from
        x_f = X.iloc[:1].copy()
        x_f.iloc[0] = why["x_f_original"]
        np.testing.assert_allclose(scaler.transform(x_f)[0], why["x_f"], atol=1e-9)
        table = why["table"].set_index("feature").loc[COLUMNS]
        np.testing.assert_allclose(table["x_t"], row, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(table["move"], why["x_f_original"] - row, atol=1e-9)
        # ranked and named as in the estimator's own explanation
        own = clf.explain_unit(unit)  # fitted on the scaler's array: x0..x4
        by_name = dict(zip(own["feature_names"], COLUMNS))
        assert why["top_features"] == [by_name[f] for f in own["top_features"]]
        assert why["table"]["feature"].tolist() == [by_name[f] for f in own["table"]["feature"]]
        top = why["top_features"][0]
        j = COLUMNS.index(top)
        assert f"{top} (weight {own['weights'][j]:+.3g}, x_t {row[j]:.4g}" in why["summary"]
        assert why["n_active"] == clf.explain_unit(unit, X=scaler.transform(X))["n_active"]


def test_explain_pipeline_unit_flags_what_cannot_be_inverted(table_data):
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from skfold import explain_pipeline_unit

    X, y = table_data
    X = X.assign(region=np.where(X["income"] > 10, "north", "south"))
    model = make_pipeline(
        make_column_transformer((StandardScaler(), COLUMNS), (OneHotEncoder(), ["region"])),
        FoldGrowClassifier(max_hidden_units=4, linear_seed=False, random_state=0)).fit(X, y)
    unit = _grown_units(model[-1])[0]
    with pytest.warns(UserWarning, match="columntransformer.*has no inverse_transform"):
        why = explain_pipeline_unit(model, unit)
    assert why["space"] == "estimator"
    assert "has no inverse_transform" in why["why_not_original"]
    assert "not in original units" in why["summary"]
    assert why["x_t_original"] is None and why["x_f_original"] is None
    assert set(why["table"]["feature"]) == set(model[0].get_feature_names_out())
    np.testing.assert_allclose(why["table"]["x_t"],
                               np.asarray(why["x_t"])[_ranked(why["weights"])])


def test_explain_pipeline_unit_refuses_a_fold_point_between_categories():
    """A OneHotEncoder has an inverse, but a point between two categories has no category:
    the inverse it gives does not map back to the fold point, and that is said."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from skfold import explain_pipeline_unit

    rng = np.random.RandomState(0)
    X = rng.randint(0, 4, size=(200, 2))
    y = (X[:, 0] + X[:, 1]) % 2  # no linear model gets it right: growth folds
    model = make_pipeline(OneHotEncoder(sparse_output=False),
                          FoldGrowClassifier(growth_schedule="none", max_iter=30,
                                             linear_seed=False, random_state=0)).fit(X, y)
    model[-1].grow(model[0].transform(X), y)
    unit = model[-1].hidden_layer_sizes_[0] - 1
    assert model[-1].explain_unit(unit)["x_f"] is not None
    with pytest.warns(UserWarning, match="does not give a point that it maps back"):
        why = explain_pipeline_unit(model, unit)
    assert why["space"] == "estimator" and "onehotencoder" in why["why_not_original"]


def test_explain_pipeline_unit_keeps_a_deep_unit_in_its_hidden_space(moons):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skfold import explain_pipeline_unit

    X, y = moons
    model = make_pipeline(StandardScaler(), FoldGrowClassifier(
        max_depth=2, growth_patience=1, growth_schedule="none", random_state=0)).fit(X, y)
    Z = model[0].transform(X)
    model[-1].grow(Z, y).grow(Z, y)  # the first growth did not pay: it deepens, then widens
    sizes = model[-1].hidden_layer_sizes_
    why = explain_pipeline_unit(model, sizes[1] - 1, layer=1)
    assert why["space"] == "hidden" and "hidden units" in why["why_not_original"]
    assert list(why["feature_names"]) == [f"h{j}" for j in range(sizes[0])]
    assert list(why["table"].columns) == ["feature", "h_t", "h_f", "move", "weight"]
    assert why["x_t_original"] is None


def test_explain_pipeline_unit_needs_a_pipeline_ending_in_skfold(moons):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skfold import explain_pipeline_unit

    with pytest.raises(TypeError, match="explain_unit"):
        explain_pipeline_unit(_fit(*moons), 0)
    with pytest.raises(TypeError, match="ends in LogisticRegression"):
        explain_pipeline_unit(make_pipeline(StandardScaler(), LogisticRegression()).fit(*moons),
                              0)


@settings(deadline=None, max_examples=6)
@given(scale=st.floats(0.01, 1000), shift=st.floats(-1e4, 1e4),
       scaler=st.sampled_from(["standard", "minmax", "robust", "maxabs"]))
def test_original_units_undo_any_scaler(scale, shift, scaler):
    """Whatever the data's units and the scaler, x_t in original units is the training row and
    x_f goes back to the estimator's x_f through the scaler."""
    from sklearn import preprocessing
    from sklearn.pipeline import make_pipeline

    from skfold import explain_pipeline_unit

    X, y = make_moons(n_samples=80, noise=0.2, random_state=0)
    X = X * scale + shift
    step = {"standard": preprocessing.StandardScaler(), "minmax": preprocessing.MinMaxScaler(),
            "robust": preprocessing.RobustScaler(),
            "maxabs": preprocessing.MaxAbsScaler()}[scaler]
    model = make_pipeline(step, FoldGrowClassifier(growth_schedule="none", max_iter=20,
                                                   random_state=0)).fit(X, y)
    model[-1].grow(step.transform(X), y)
    unit = model[-1].hidden_layer_sizes_[0] - 1
    why = explain_pipeline_unit(model, unit)
    assert why["space"] == "original"
    np.testing.assert_allclose(why["x_t_original"], X[why["instance_index"]],
                               rtol=1e-9, atol=1e-9 * abs(shift))
    if why["x_f"] is not None:
        np.testing.assert_allclose(step.transform(why["x_f_original"][None])[0], why["x_f"],
                                   rtol=1e-7, atol=1e-7)
