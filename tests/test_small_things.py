"""What a scikit-learn user trips on first: MLP habits, a string target, the progress bar."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning

from skfold import FoldGrowClassifier, FoldGrowRegressor


@pytest.mark.parametrize("Est", [FoldGrowClassifier, FoldGrowRegressor])
def test_hidden_layer_sizes_names_the_class_and_the_parameters_to_use(Est):
    with pytest.raises(TypeError) as info:
        Est(hidden_layer_sizes=(100,))
    message = str(info.value)
    assert Est.__name__ in message and "BaseFoldGrow" not in message
    assert "hidden_units" in message and "max_hidden_units" in message


@pytest.mark.parametrize("Est", [FoldGrowClassifier, FoldGrowRegressor])
def test_other_unknown_keywords_name_the_public_class(Est):
    with pytest.raises(TypeError, match=f"{Est.__name__}.*'no_such_param'"):
        Est(no_such_param=1)
    with pytest.raises(TypeError, match=Est.__name__):
        Est(4)


def test_string_target_for_the_regressor_says_it_is_y():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"FoldGrowRegressor.*y must hold numbers"):
        FoldGrowRegressor(max_iter=2).fit(X, np.array(["a", "b", "c", "d"]))


def _bar_class(monkeypatch):
    tqdm = pytest.importorskip("tqdm")
    made = []

    class Recorded(tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(tqdm, "tqdm", Recorded)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    return made


def test_progress_bar_ends_at_its_final_position_before_the_warning(monkeypatch):
    made = _bar_class(monkeypatch)
    seen = []

    def show(message, category, *args, **kwargs):
        bar = made[-1]
        seen.append((category, bar.n, bar.total, bar.disable))

    X, y = make_moons(n_samples=200, noise=0.2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        monkeypatch.setattr(warnings, "showwarning", show)
        FoldGrowClassifier(max_hidden_units=6, max_iter=5, solver="adam", early_stopping=False,
                           random_state=0, verbose=1).fit(X, y)
    assert seen and seen[0][0] is ConvergenceWarning
    _, n, total, closed = seen[0]
    assert closed and n == total == 5


def test_progress_bar_of_an_early_stop_ends_full(monkeypatch):
    made = _bar_class(monkeypatch)
    X, y = make_moons(n_samples=200, noise=0.2, random_state=0)
    clf = FoldGrowClassifier(max_hidden_units=2, max_iter=1000, n_iter_no_change=2,
                             random_state=0, verbose=1).fit(X, y)
    bar = made[-1]
    assert bar.n == bar.total == clf.n_iter_ < 1000


def test_progress_bar_prints_the_loss_with_fixed_digits(monkeypatch):
    made = _bar_class(monkeypatch)
    X, y = make_moons(n_samples=200, noise=0.2, random_state=0)
    FoldGrowClassifier(max_hidden_units=4, max_iter=20, solver="adam", random_state=0,
                       verbose=1).fit(X, y)
    loss = made[-1].postfix.split("loss=")[1].split(",")[0]
    assert len(loss.split(".")[1]) == 6
