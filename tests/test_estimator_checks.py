"""Every scikit-learn estimator check, on small fast instances of both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skfold import FoldGrowClassifier, FoldGrowRegressor

FAST = dict(max_hidden_units=6, max_iter=200, random_state=0, device="cpu")

EXPECTED_FAILURES = {
    # Weights and repeated rows give the same loss, but not bit-identical float sums; growth
    # decisions (which epoch plateaus, which row is the typical instance) are discrete
    # functions of the loss trajectory, so a 1e-15 difference can pick another instance and
    # grow another network. With growth_schedule="none" the check passes (tested in
    # test_estimators.py::test_sample_weight_equals_repetition_without_growth).
    "check_sample_weight_equivalence_on_dense_data": (
        "growth decisions amplify float rounding differences between weighted and repeated "
        "rows; equivalence holds without growth"
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "growth decisions amplify float rounding differences between weighted and repeated "
        "rows; equivalence holds without growth"
    ),
}


@parametrize_with_checks(
    [FoldGrowClassifier(**FAST), FoldGrowRegressor(**FAST)],
    expected_failed_checks=lambda est: EXPECTED_FAILURES,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
