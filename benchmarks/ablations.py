"""Ablations (issue 4, item 5): fold point, instance selection, ``n_clusters``, depth, y scaling,
the progress threshold ``tol``, the gain a growth must bring, the seed width (issue 5: the
growth schedule's speed knobs), the units added per growth and the weight decay ``alpha``.

Each row changes one setting of the default grower (``init="fold"``, ``fold_point="segment"``,
``instance_selection="kmeans"``, ``n_clusters=8``, ``max_depth=1``, plateau schedule,
``max_hidden_units=32``); every row sees the same repeated train/test splits, so differences
to the default row are paired. Models sit in a ``StandardScaler`` pipeline; regression targets
are standardised too (``TransformedTargetRegressor``), except in the row that ablates exactly
that.

Run ``python benchmarks/ablations.py`` (full) or with ``--quick``.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import (DATA_NOTES, final_estimator, load, markdown_table, mean_std, parse_args,
                     report_header, run_suite, scaled, write_report)
from skfold import FoldGrowClassifier, FoldGrowRegressor

DEFAULT = "default"
RAW_Y = "regression y not standardised"
#: Label -> (factor, parameters changed from the default).
CONFIGS = {
    DEFAULT: ("—", {}),
    "fold_point=nearest": ("fold point", dict(fold_point="nearest")),
    "instance_selection=max_loss": ("instance selection", dict(instance_selection="max_loss")),
    "instance_selection=random": ("instance selection", dict(instance_selection="random")),
    "n_clusters=2": ("n_clusters", dict(n_clusters=2)),
    "n_clusters=4": ("n_clusters", dict(n_clusters=4)),
    "n_clusters=16": ("n_clusters", dict(n_clusters=16)),
    "n_clusters=32": ("n_clusters", dict(n_clusters=32)),
    "max_depth=3": ("depth", dict(max_depth=3)),
    "tol=1e-3": ("progress threshold", dict(tol=1e-3)),
    "tol=1e-6": ("progress threshold", dict(tol=1e-6)),
    "min_growth_gain=0": ("growth gain", dict(min_growth_gain=0.0)),
    "hidden_units=8": ("seed width", dict(hidden_units=8)),
    "units_per_growth=2": ("units per growth", dict(units_per_growth=2)),
    "alpha=1e-4 (MLPClassifier's)": ("weight decay", dict(alpha=1e-4)),
    "alpha=0.1": ("weight decay", dict(alpha=0.1)),
    "alpha=0.3": ("weight decay", dict(alpha=0.3)),
    "alpha=1": ("weight decay", dict(alpha=1.0)),
    "alpha=3": ("weight decay", dict(alpha=3.0)),
    RAW_Y: ("target scaling", {}),
}
FULL = dict(datasets=["spirals", "sine", "moons", "wine", "friedman1", "diabetes", "sine_1d"],
            n_max=None, n_repeats=5, test_size=0.25, max_hidden_units=32, max_iter=1000)
QUICK = dict(datasets=["spirals", "sine_1d"], n_max=100, n_repeats=2, test_size=0.3,
             max_hidden_units=8, max_iter=40)


def model(task, label, seed, cfg):
    cls = FoldGrowClassifier if task == "classification" else FoldGrowRegressor
    estimator = cls(max_hidden_units=cfg["max_hidden_units"], max_iter=cfg["max_iter"],
                    random_state=seed, **CONFIGS[label][1])
    if label == RAW_Y:
        return make_pipeline(StandardScaler(), estimator)
    return scaled(estimator, task)


def run_dataset(name, cfg):
    """``{label: [(score, hidden units, hidden layers, fallbacks per unit), ...]}``."""
    X, y, task = load(name, cfg["n_max"])
    splitter = (StratifiedShuffleSplit if task == "classification" else ShuffleSplit)(
        cfg["n_repeats"], test_size=cfg["test_size"], random_state=0)
    labels = [label for label in CONFIGS if label != RAW_Y or task == "regression"]
    results = {label: [] for label in labels}
    for seed, (train, test) in enumerate(splitter.split(X, y)):
        for label in labels:
            fitted = model(task, label, seed, cfg).fit(X[train], y[train])
            grower = final_estimator(fitted)
            units = [e for e in grower.growth_history_ if e.get("unit") is not None]
            fallbacks = sum(e.get("fallback") is not None for e in units)
            results[label].append((fitted.score(X[test], y[test]),
                                   sum(grower.hidden_layer_sizes_),
                                   len(grower.hidden_layer_sizes_),
                                   fallbacks / max(len(units), 1)))
    return task, results


def tables(all_results, cfg):
    """Score table (with mean paired difference to the default) and a growth-shape table."""
    names = list(all_results)
    score_rows, shape_rows = [], []
    for label, (factor, _) in CONFIGS.items():
        cells, deltas, shapes = [], [], []
        for name in names:
            runs = all_results[name].get(label)
            if runs is None:
                cells.append("—")
                shapes.append("—")
                continue
            scores = np.array([r[0] for r in runs])
            default = np.array([r[0] for r in all_results[name][DEFAULT]])
            deltas.append(100 * np.mean(scores - default))
            cells.append(mean_std(scores))
            units, layers, fallback = (np.mean([r[i] for r in runs]) for i in (1, 2, 3))
            shapes.append(f"{units:.1f} / {layers:.1f} / {fallback:.2f}")
        delta = "—" if label == DEFAULT else f"{np.mean(deltas):+.1f}"
        score_rows.append([factor, label] + cells + [delta])
        shape_rows.append([factor, label] + shapes)
    score_header = ["factor", "setting"] + names + ["mean Δ vs default (points)"]
    shape_header = ["factor", "setting"] + names
    return markdown_table(score_header, score_rows), markdown_table(shape_header, shape_rows)


def main():
    args = parse_args(__doc__.splitlines()[0])
    cfg = QUICK if args.quick else FULL
    all_results, wall, cpu = run_suite(cfg["datasets"], lambda name: run_dataset(name, cfg)[1])
    score_table, shape_table = tables(all_results, cfg)
    text = "\n".join([
        report_header("Ablations of the folding grower",
                      seeds=f"splits random_state=0; model random_state = split index "
                            f"0..{cfg['n_repeats'] - 1}",
                      quick=args.quick, wall_seconds=wall, cpu_seconds=cpu),
        "## Protocol",
        "",
        f"- {cfg['n_repeats']} repeated random splits (stratified for classification), "
        f"test size {cfg['test_size']}; score = accuracy or R² on the test part, mean ± std "
        "over splits.",
        f"- Default grower: `FoldGrowClassifier`/`FoldGrowRegressor` with "
        f"`max_hidden_units={cfg['max_hidden_units']}`, `max_iter={cfg['max_iter']}`, all else "
        "at its defaults (a seed unit per class or output, at least 2; plateau schedule, "
        "L-BFGS); each row changes only the setting it names.",
        "- `max_depth=3`: the network may insert identity layers (widened by folding in their "
        "own input space) when widening stalls for `growth_patience` growths.",
        f"- `{RAW_Y}`: the default grower on raw targets (X still standardised).",
        f"- {DATA_NOTES}",
        "",
        "## Test score",
        "",
        score_table,
        "",
        "## Final network: hidden units / hidden layers / fallbacks per unit added",
        "",
        "A fallback is a growth whose fold point search took a recorded fallback (segment's "
        "boundary missing the region, degenerate boundary, instance on the boundary).",
        "",
        shape_table,
        "",
    ])
    write_report(args.results_dir, "ablations_quick.md" if args.quick else "ablations.md", text)


if __name__ == "__main__":
    main()
