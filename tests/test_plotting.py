"""skfold.plotting draws what the estimator recorded, where it really is in the data's space."""

import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_moons
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skfold import FoldGrowClassifier, FoldGrowRegressor
from skfold.datasets import make_sine

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skfold.plotting import (FOLD_COLORS, fold_events, plot_decision_boundary,  # noqa: E402
                             plot_growth, plot_regression_fit)

@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def moons():
    return make_moons(n_samples=200, noise=0.2, random_state=0)


@pytest.fixture(scope="module")
def grown_pipeline(moons):
    X, y = moons
    # a scale the network would not pick by itself, so that data and model spaces differ
    X = X * [3.0, 0.5] + [10.0, -2.0]
    model = make_pipeline(StandardScaler(),
                          FoldGrowClassifier(max_hidden_units=6, early_stopping=False,
                                             random_state=0)).fit(X, y)
    assert model[-1].n_growths_ >= 2
    return model, X, y


@pytest.fixture(scope="module")
def just_grown(moons):
    """A trained network right after ``grow``: the new unit still has its birth weights."""
    X, y = moons
    clf = FoldGrowClassifier(growth_schedule="none", random_state=0).fit(X, y)
    return clf.grow(X, y), X, y


def _artists(ax, kind):
    """Artists skfold tagged ``"<kind> layer L unit U"`` (its documented ``gid``)."""
    return [a for a in ax.get_children() if (a.get_gid() or "").startswith(kind + " ")]


def _points(ax, kind):
    offsets = [a.get_offsets() for a in _artists(ax, kind)]
    return np.vstack(offsets) if offsets else np.empty((0, 2))


def _line_vertices(ax, gid):
    (contour,) = [a for a in ax.get_children() if a.get_gid() == gid]
    return np.vstack([p.vertices for p in contour.get_paths()])


def _folded(clf):
    return [e for e in clf.growth_history_ if e.get("unit") is not None]


# --------------------------------------------------------------------------- decision boundary
def test_each_grown_unit_is_drawn_at_its_training_instance(grown_pipeline):
    model, X, y = grown_pipeline
    ax = plot_decision_boundary(model, X, y)
    stars, crosses = _points(ax, 'x_t'), _points(ax, 'x_f')
    events = _folded(model[-1])
    assert len(stars) == len(events) and len(crosses) == len(events)
    # the star sits on the very training row the unit was grown for, in the data's space
    expected = X[[e["instance_index"] for e in events]]
    np.testing.assert_allclose(stars, expected, atol=1e-8)
    x_f = model[:-1].inverse_transform(np.array([e["x_f"] for e in events]))
    np.testing.assert_allclose(crosses, x_f, atol=1e-8)
    labels = [t.get_text() for t in ax.figure.legends[0].get_texts()]
    assert "typical instance $x_t$" in labels and "fold point $x_f$" in labels
    assert {f"unit {e['unit']} (growth {e['growth']})" for e in events} <= set(labels)


def test_new_units_hyperplane_passes_through_its_fold_point(just_grown):
    clf, X, y = just_grown
    event = clf.growth_history_[-1]
    ax = plot_decision_boundary(clf, X, y, show_folds="last", grid_resolution=300)
    line = _line_vertices(ax, f"hyperplane layer 0 unit {event['unit']}")
    spacing = np.ptp(ax.get_xlim()) / 299
    assert np.min(np.linalg.norm(line - np.asarray(event["x_f"]), axis=1)) < 2 * spacing


def test_show_folds_selects_what_is_drawn(grown_pipeline):
    model, X, y = grown_pipeline
    events = _folded(model[-1])
    last_growth = max(e["growth"] for e in events)
    n_last = sum(e["growth"] == last_growth for e in events)
    ax = plot_decision_boundary(model, X, y, show_folds="last")
    assert len(_points(ax, "x_t")) == len(_artists(ax, "hyperplane")) == n_last
    _, ax = plt.subplots()
    plot_decision_boundary(model, X, y, ax=ax, show_folds=False)
    assert _artists(ax, "x_t") == _artists(ax, "x_f") == _artists(ax, "hyperplane") == []


def test_deep_units_are_drawn_without_a_fold_point_in_input_space(moons):
    X, y = moons
    clf = FoldGrowClassifier(max_depth=2, growth_patience=1, growth_schedule="none",
                             random_state=0).fit(X, y)
    clf.grow(X, y).grow(X, y)  # the second growth finds the first fruitless: it deepens
    assert len(clf.hidden_layer_sizes_) == 2
    ax = plot_decision_boundary(clf, X, y, show_folds="last")
    assert len(_points(ax, 'x_t')) == 1 and len(_points(ax, 'x_f')) == 0
    unit = clf.hidden_layer_sizes_[1] - 1
    assert len(_line_vertices(ax, f"hyperplane layer 1 unit {unit}")) > 1


def test_multiclass_regions_are_drawn():
    X, y = make_moons(n_samples=150, noise=0.1, random_state=1)
    y = np.where(X[:, 0] > 1.0, 2, y)
    clf = FoldGrowClassifier(max_hidden_units=5, random_state=0).fit(X, y)
    ax = plot_decision_boundary(clf, X, y, show_folds=False)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["class 0", "class 1", "class 2"]


@settings(deadline=None, max_examples=5)
@given(scale=st.tuples(st.floats(0.1, 10), st.floats(0.1, 10)),
       shift=st.tuples(st.floats(-50, 50), st.floats(-50, 50)))
def test_folds_map_back_through_any_invertible_preprocessing(scale, shift):
    X, y = make_sine(80, random_state=0)
    forward = FunctionTransformer(lambda Z: Z * scale + shift,
                                  inverse_func=lambda Z: (Z - shift) / scale,
                                  check_inverse=False)
    model = make_pipeline(forward, FoldGrowClassifier(growth_schedule="none", max_iter=30,
                                                      random_state=0)).fit(X, y)
    model[-1].grow(forward.transform(X), y)
    event = model[-1].growth_history_[-1]
    stars = _points(plot_decision_boundary(model, X, y, grid_resolution=40), "x_t")
    np.testing.assert_allclose(stars, X[[event["instance_index"]]], rtol=1e-7, atol=1e-7)
    plt.close("all")


def test_a_pipeline_fitted_on_a_dataframe_is_drawn_in_its_columns(grown_pipeline):
    # the grid used to go in as a bare array: a ColumnTransformer picking columns by name
    # failed, and a scaler fitted on a DataFrame warned and lost the axis names
    import pandas as pd
    from sklearn.compose import make_column_transformer

    model, X, y = grown_pipeline
    df = pd.DataFrame(X, columns=["income", "age"])
    scaled = make_pipeline(StandardScaler(), model[-1]).fit(df, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plot_decision_boundary(scaled, df, y)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("income", "age")
    expected = X[[e["instance_index"] for e in _folded(scaled[-1])]]
    np.testing.assert_allclose(_points(ax, "x_t"), expected, atol=1e-8)
    by_name = make_pipeline(make_column_transformer((StandardScaler(), ["age"]),
                                                    (StandardScaler(), ["income"])),
                            clone(model[-1])).fit(df, y)
    assert _folded(by_name[-1])
    with pytest.warns(UserWarning, match="no inverse_transform"):
        ax = plot_decision_boundary(by_name, df, y)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("income", "age")


def test_a_regression_pipeline_picking_its_column_by_name_is_drawn(curve):
    import pandas as pd
    from sklearn.compose import make_column_transformer

    X, y = curve
    df = pd.DataFrame(X, columns=["t"])
    model = make_pipeline(make_column_transformer((StandardScaler(), ["t"])),
                          FoldGrowRegressor(max_iter=100, random_state=0)).fit(df, y)
    ax = plot_regression_fit(model, df, y, show_folds=False)
    fit = ax.get_lines()[0]
    np.testing.assert_allclose(fit.get_ydata(), model.predict(pd.DataFrame(
        fit.get_xdata()[:, None], columns=["t"])))
    assert ax.get_xlabel() == "t"


def test_decision_boundary_input_errors(grown_pipeline, moons):
    model, X, y = grown_pipeline
    with pytest.raises(ValueError, match="exactly 2 feature"):
        plot_decision_boundary(model, np.c_[X, X[:, :1]], y)
    Xr = X[:, :1]
    reg = FoldGrowRegressor(max_iter=20, random_state=0).fit(Xr, y.astype(float))
    with pytest.raises(TypeError, match="plot_regression_fit"):
        plot_decision_boundary(reg, X, y)


def test_missing_matplotlib_gives_an_install_hint(monkeypatch, grown_pipeline):
    model, X, y = grown_pipeline
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install .*skfold\[plot\]"):
        plot_growth(model)


# --------------------------------------------------------------------------- growth
def test_plot_growth_marks_every_growth_and_the_width_over_time(grown_pipeline):
    model, _, _ = grown_pipeline
    clf = model[-1]
    ax_loss, ax_units = plot_growth(model)
    loss_line = ax_loss.get_lines()[0]
    np.testing.assert_allclose(loss_line.get_ydata(), clf.loss_curve_)
    markers = _artists(ax_loss, "growth")
    assert len(markers) == len({e["growth"] for e in _folded(clf)})
    # a growth that did not pay (growth_history_'s loss fall vs gain_needed) is hollow
    first_of = {}
    for e in _folded(clf):
        first_of.setdefault(e["growth"], e)
    paid_markers = []
    for marker in markers:
        event = first_of[int(marker.get_gid().split()[1])]
        paid = event["loss_before"] - event["loss_after"] > event["gain_needed"]
        assert (marker.get_markerfacecolor() != "none") == paid
        paid_markers.append(paid)
    assert True in paid_markers and False in paid_markers  # this fit has both kinds
    units = ax_units.get_lines()[0].get_ydata()
    assert units[0] == clf.hidden_units_
    assert units[-1] == sum(clf.growth_history_[-1]["hidden_layer_sizes"])
    assert np.all(np.diff(units) >= 0)
    assert ax_units.get_xlabel().startswith("epoch") and ax_loss.get_ylabel() == "loss"


def test_plot_growth_rejects_other_estimators(moons):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="FoldGrowClassifier or FoldGrowRegressor"):
        plot_growth(LogisticRegression().fit(*moons))


# --------------------------------------------------------------------------- regression
@pytest.fixture(scope="module")
def curve():
    X = np.linspace(-3, 3, 120)[:, None]
    return X, np.sin(1.5 * X[:, 0])


def test_regression_fit_is_the_prediction_with_a_kink_at_each_fold(curve):
    X, y = curve
    reg = FoldGrowRegressor(growth_schedule="none", random_state=0).fit(X, y)
    reg.grow(X, y)
    event = reg.growth_history_[-1]
    ax = plot_regression_fit(reg, X, y, show_folds="last")
    fit = ax.get_lines()[0]
    np.testing.assert_allclose(fit.get_ydata(), reg.predict(fit.get_xdata()[:, None]))
    kinks = [line.get_xdata()[0] for line in _artists(ax, "kink")]
    # right after grow() the new unit's kink is exactly at the fold point
    assert len(kinks) == 1 and kinks[0] == pytest.approx(event["x_f"][0], abs=1e-6)
    star = _points(ax, 'x_t')
    np.testing.assert_allclose(star, [[event["x_t"][0], np.ravel(event["true"])[0]]])


def test_regression_fit_needs_one_feature(curve):
    X, y = curve
    reg = FoldGrowRegressor(max_iter=20, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="exactly 1 feature"):
        plot_regression_fit(reg, np.c_[X, X], y)


def _face(ax, kind, event):
    gid = f"{kind} layer {event['layer']} unit {event['unit']}"
    (marker,) = [a for a in ax.get_children() if a.get_gid() == gid]
    face = marker.get_facecolor()
    return None if len(face) == 0 or face[0][3] == 0 else tuple(face[0][:3])


def _legend_entries(ax):
    legend = ax.figure.legends[0]
    return {text.get_text(): handle
            for text, handle in zip(legend.get_texts(), legend.legend_handles)}


def test_folds_that_did_not_pay_are_hollow_and_dotted_and_the_legend_says_so(grown_pipeline):
    from matplotlib.colors import to_rgb

    model, X, y = grown_pipeline
    events = fold_events(model)
    paid = {e["unit"]: e["paid"] for e in events}
    assert True in paid.values() and False in paid.values()  # this fit has both kinds
    ax = plot_decision_boundary(model, X, y)
    entries = _legend_entries(ax)
    assert "growth that did not pay (hollow, dotted)" in entries
    assert not any("not judged yet" in label for label in entries)  # fit settled every growth
    for i, event in enumerate(events):
        color = to_rgb(FOLD_COLORS[i % len(FOLD_COLORS)])
        for kind in ("x_t", "x_f"):
            assert _face(ax, kind, event) == (color if event["paid"] else None), kind
        line = entries[f"unit {event['unit']} (growth {event['growth']})"]
        assert line.get_linestyle() == ("--" if event["paid"] else ":")


def test_a_growth_not_judged_yet_is_grey_and_the_legend_says_so(just_grown):
    clf, X, y = just_grown
    event = clf.growth_history_[-1]
    assert event["paid"] is None  # grow() by hand: no training phase has judged it
    ax = plot_decision_boundary(clf, X, y, show_folds="last")
    assert _face(ax, "x_t", event) == pytest.approx((0.85, 0.85, 0.85))
    entries = _legend_entries(ax)
    assert "growth not judged yet (grey, dash-dot)" in entries
    assert "growth that did not pay (hollow, dotted)" not in entries
    assert entries[f"unit {event['unit']} (growth {event['growth']})"].get_linestyle() == "-."
