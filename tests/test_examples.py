"""Every example runs as a script (quick settings) and writes its figures."""

import ast
import re
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: script -> (figures it must write, text its output must contain)
EXPECTED = {
    "quickstart.py": (["quickstart_boundary.png", "quickstart_growth.png"],
                      ["test accuracy:", "grown architecture: 2-", "growth history",
                       "was added at epoch"]),
    "seed_figures.py": (["seed_sine.png", "seed_overlap_quadratic.png", "fold.png"],
                        ["sine: training accuracy", "overlap_quadratic: training accuracy"]),
    "pipeline_gridsearch.py": (["gridsearch.png"],
                               ["mean_test_score", "rank_test_score", "best parameters:"]),
    "regression.py": (["regression_stages.png", "regression_growth.png"],
                      ["grown by hand: R^2", "grown on its own: R^2"]),
}


#: examples whose main() another test module runs (with more checks than here)
RUN_ELSEWHERE = {"distributed_search.py": "tests/test_distributed.py"}


def test_every_example_is_tested():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(EXPECTED) | set(RUN_ELSEWHERE)


def run_example(name, out, *, via_env, monkeypatch, capsys):
    """Run ``examples/<name>`` as ``__main__``, in this process (saves a 4 s import each)."""
    monkeypatch.setenv("SKFOLD_QUICK", "1")
    monkeypatch.syspath_prepend(str(EXAMPLES))  # as when run as a script: its folder first
    argv = [str(EXAMPLES / name)]
    if via_env:
        monkeypatch.setenv("SKFOLD_EXAMPLES_OUTPUT", str(out))
    else:
        argv.append(str(out))
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.chdir(out.parent)
    monkeypatch.delitem(sys.modules, "pipeline_gridsearch", raising=False)  # re-read QUICK
    runpy.run_path(argv[0], run_name="__main__")
    return capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_saves_its_figures(name, tmp_path, monkeypatch, capsys):
    out = tmp_path / "figures"
    stdout = run_example(name, out, via_env=name != "quickstart.py", monkeypatch=monkeypatch,
                         capsys=capsys)
    figures, phrases = EXPECTED[name]
    for phrase in phrases:
        assert phrase in stdout, f"{name} did not print {phrase!r}:\n{stdout}"
    for figure in figures:
        data = (out / figure).read_bytes()
        assert data.startswith(PNG_MAGIC), figure
        assert 10_000 < len(data) < 1_000_000, f"{figure}: {len(data)} bytes"
    if name == "quickstart.py":
        accuracy = float(re.search(r"test accuracy: ([0-9.]+)", stdout).group(1))
        assert accuracy >= 0.9
    if name == "seed_figures.py":
        # every line reads "task: training accuracy a -> b -> ... (architecture)"
        for line in stdout.splitlines()[:2]:
            accuracies = [float(a) for a in re.findall(r"\d\.\d{3}", line)]
            assert len(accuracies) >= 2 and accuracies[-1] > accuracies[0], line


README = EXAMPLES.parent / "README.md"


def test_readme_usage_example_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pandas")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    usage = next(block for block in blocks if "FoldGrowClassifier(" in block)
    monkeypatch.chdir(tmp_path)
    exec(compile(usage, "README usage", "exec"), {})
    assert "was added at epoch" in capsys.readouterr().out
    assert (tmp_path / "boundary.png").stat().st_size > 10_000
    assert (tmp_path / "growth.png").stat().st_size > 10_000


def test_readme_explanation_example_runs_and_prints_the_table_in_original_units(capsys):
    pytest.importorskip("pandas")
    from sklearn.datasets import load_breast_cancer

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    example = next(block for block in blocks if "explain_pipeline_unit(" in block)
    namespace = {}
    exec(compile(example, "README explanation", "exec"), namespace)
    summary, header, *rows = capsys.readouterr().out.splitlines()
    unit = namespace["clf"].hidden_layer_sizes_[0] - 1  # the unit grown by hand
    assert summary.startswith(f"Unit {unit} of layer 0 was added")
    assert "The features that" in summary
    assert header.split() == ["feature", "x_t", "x_f", "move", "weight"]
    names = set(load_breast_cancer().feature_names)
    assert len(rows) == 4 and all(" ".join(row.split()[1:-4]) in names for row in rows)


def test_readme_parameter_table_lists_every_parameter_with_its_default():
    from skfold import FoldGrowClassifier, FoldGrowRegressor

    rows = re.findall(r"^\| (\w+) \| `(\w+)` \| `([^`]*)` \|", README.read_text(), flags=re.M)
    table = {name: (group, default) for group, name, default in rows}
    classifier_only = {"class_weight"}
    for estimator in (FoldGrowClassifier(), FoldGrowRegressor()):
        params = estimator.get_params()
        shown = set(table) - (set() if "class_weight" in params else classifier_only)
        assert shown == set(params) == set(estimator._parameter_constraints)
        for name, value in params.items():
            assert ast.literal_eval(table[name][1]) == value, name
    assert {group for group, _ in table.values()} == {"network", "growth", "search", "training",
                                                      "device"}


@pytest.mark.parametrize("document", [README, *sorted((EXAMPLES.parent / "benchmarks" / "results")
                                                      .glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_in_the_documents_point_to_files_that_exist(document):
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text())
    local = [link for link in links if "://" not in link]
    missing = [link for link in local if not (document.parent / link).exists()]
    assert not missing, f"{document.name} links to missing files: {missing}"


def test_gridsearch_chart_bars_start_at_zero_or_it_is_a_dot_plot(tmp_path, monkeypatch, capsys):
    """A bar's length reads as its value: a value axis of bars starts at 0 (a dot plot may
    start where the scores do, and says so)."""
    import matplotlib.figure

    saved = []
    original = matplotlib.figure.Figure.savefig

    def record(fig, *args, **kwargs):
        saved.append(fig)
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    run_example("pipeline_gridsearch.py", tmp_path / "figures", via_env=True,
                monkeypatch=monkeypatch, capsys=capsys)
    chart = saved[0].axes[0]
    bars = [p for p in chart.patches if type(p).__name__ == "Rectangle"]
    assert not bars or chart.get_xlim()[0] == 0
    assert bars or "axis from" in chart.get_xlabel()
