"""Warnings that help (issue 25 item 5): advice only where it was measured to help, one
ConvergenceWarning per fit, and the same text for the same condition in every fit of a search.

``benchmarks/results/max_iter_advice.md`` is the measurement behind the advice's condition.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from skfold import FoldGrowClassifier


def convergence_warnings(fit, *args, action="always"):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter(action)
        fit(*args)
    return [str(w.message) for w in record if issubclass(w.category, ConvergenceWarning)]


@pytest.fixture(scope="module")
def noisy():
    """A noisy table (30 % of the labels flipped), split as a user would."""
    X, y = make_classification(n_samples=500, n_features=8, n_informative=4, flip_y=0.3,
                               random_state=0)
    return train_test_split(X, y, random_state=0)


def test_no_advice_when_the_held_out_loss_had_stopped_falling(noisy):
    """max_iter ends the fit while growth is still possible, but the held-out loss stopped
    falling epochs ago: the network kept is the best seen, and 4x max_iter keeps the same."""
    X_train, X_test, y_train, _ = noisy
    clf = FoldGrowClassifier(max_iter=24, random_state=0)
    assert convergence_warnings(clf.fit, X_train, y_train) == []
    state = clf._state
    assert clf.n_iter_ == 24 and clf.validation_scores_ is not None
    assert state.schedule.can_grow(state.network.hidden_sizes)  # the old "raise max_iter" case
    more = FoldGrowClassifier(max_iter=4 * 24, random_state=0).fit(X_train, y_train)
    assert more.n_iter_ > 24
    np.testing.assert_array_equal(more.predict_proba(X_test), clf.predict_proba(X_test))


def test_advice_when_the_loss_was_still_falling_and_it_helps():
    """Clean data and a tiny budget: the loss still falls when max_iter ends the fit, and a
    larger budget grows the network and scores better on new data."""
    X, y = make_moons(300, noise=0.1, random_state=0)
    X_new, y_new = make_moons(1000, noise=0.1, random_state=1)
    params = dict(hidden_units=2, max_hidden_units=16, early_stopping=False, random_state=0)
    clf = FoldGrowClassifier(max_iter=15, **params)
    [message] = convergence_warnings(clf.fit, X, y)
    assert "the training loss was still falling" in message
    assert "Raise max_iter" in message and "growth still paid" in message
    more = FoldGrowClassifier(max_iter=60, **params).fit(X, y)
    assert sum(more.hidden_layer_sizes_) > sum(clf.hidden_layer_sizes_)
    assert more.score(X_new, y_new) > clf.score(X_new, y_new)


def test_no_growth_advice_where_few_held_out_rows_chose_the_network():
    """A 300-row fit holds out 30 rows and is cut short while its held-out loss still falls
    and growth still pays: the network kept is the one those rows chose, and on the real
    tables a larger budget then hurt as often as it helped, so nothing is advised. From
    1,000 held-out rows the advice is given again, naming the held-out loss."""
    X, y = make_moons(300, noise=0.1, random_state=0)
    params = dict(hidden_units=2, max_hidden_units=16, max_iter=15, random_state=0)
    clf = FoldGrowClassifier(**params)
    assert convergence_warnings(clf.fit, X, y) == []
    state = clf._state
    assert clf.n_iter_ == 15 and len(clf.validation_scores_) == 15
    assert state.schedule.can_grow(state.network.hidden_sizes)
    X, y = make_moons(11_000, noise=0.1, random_state=0)
    [message] = convergence_warnings(FoldGrowClassifier(early_stopping=True, **params).fit, X, y)
    assert "the held-out loss was still falling" in message and "Raise max_iter" in message


def test_a_fit_gives_one_convergence_warning_however_many_conditions_hold():
    """A diverging Adam fit cut short by max_iter: five divergences and the budget, one
    warning that says both."""
    X, y = make_moons(200, noise=0.2, random_state=0)
    clf = FoldGrowClassifier(solver="adam", learning_rate_init=100, max_iter=30,
                             random_state=0)
    messages = convergence_warnings(clf.fit, X, y)
    assert len(messages) == 1, messages
    assert "diverged" in messages[0] and clf._state.n_divergences > 1


def test_the_same_condition_reads_the_same_whatever_the_fit(noisy):
    """No width, epoch or budget in the text: fits of other widths and budgets that end the
    same way give the same message (so a search shows it once per condition)."""
    X, y = make_moons(300, noise=0.1, random_state=0)
    messages = set()
    for hidden_units, max_iter in [(2, 15), (3, 15), (2, 12)]:
        clf = FoldGrowClassifier(hidden_units=hidden_units, max_hidden_units=16, max_iter=max_iter,
                                 early_stopping=False, random_state=0)
        messages.update(convergence_warnings(clf.fit, X, y))
    assert len(messages) == 1, messages


def test_a_grid_search_shows_one_distinct_message_per_condition():
    X, y = make_moons(300, noise=0.1, random_state=0)
    search = GridSearchCV(
        FoldGrowClassifier(max_hidden_units=16, max_iter=15, early_stopping=False,
                           random_state=0),
        {"hidden_units": [2, 3], "alpha": [1e-4, 1e-3]}, cv=3, n_jobs=1)
    messages = convergence_warnings(search.fit, X, y, action="default")
    assert messages  # budget-bound fits do warn ...
    assert len(set(messages)) == 1  # ... each in the same words


def test_still_falling_means_a_fall_by_more_than_tol_within_n_iter_no_change_epochs():
    from types import SimpleNamespace

    from skfold.fit_warnings import note_monitored, still_improving

    call = SimpleNamespace(est=SimpleNamespace(tol=0.01, n_iter_no_change=3),
                           state=SimpleNamespace(n_iter=0), lowest_monitored=np.inf,
                           improved_at=0)
    seen = []
    # falls, then creeps by less than tol, then turns up, then falls by more than tol
    for loss in [1.0, 0.9, 0.895, 0.891, 0.95, 1.0, 0.85]:
        call.state.n_iter += 1
        note_monitored(call, loss)
        seen.append(still_improving(call))
    assert seen == [True, True, True, True, False, False, True]


def test_a_search_can_silence_skfolds_convergence_warnings_alone():
    """scikit-learn resets the warning filters' memory inside every fit, so Python shows each
    fit's warning again; the filter the README gives silences skfold's and no one else's."""
    X, y = make_moons(300, noise=0.1, random_state=0)
    search = GridSearchCV(FoldGrowClassifier(max_iter=15, early_stopping=False, random_state=0),
                          {"hidden_units": [2, 3]}, cv=2, n_jobs=1)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=ConvergenceWarning, module="skfold")
        search.fit(X, y)
        warnings.warn("someone else's", ConvergenceWarning)
    assert [str(w.message) for w in record] == ["someone else's"]
