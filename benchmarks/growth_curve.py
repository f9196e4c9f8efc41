"""Accuracy vs hidden units (issue 4, item 4; the paper's Fig. 2): grown vs static networks.

For each seed (a stratified 70/30 split and the models' ``random_state``), one network starts at
2 hidden units and grows one unit at a time by hand: ``fit`` with ``growth_schedule="none"`` and
``warm_start=True`` trains until the plateau rule stops the phase (at most ``PHASE_ITER`` L-BFGS
iterations), the test accuracy is recorded, then ``grow`` adds a unit and training resumes from
the grown network. This is the plateau schedule made observable: every width's score is
measured on the very network that grew through it. The static networks are trained from scratch
at each width with the same code path (``FoldGrowClassifier(growth_schedule="none")``, L-BFGS
until the plateau rule or ``max_iter=1000``), and scikit-learn's ``MLPClassifier`` (Adam, its
default, ``max_iter=1000``) is shown for reference. Both grow by folding (``init="fold"``) and by
random incoming weights (``init="random"``), to separate "growing" from "folding".

Run ``python benchmarks/growth_curve.py`` (full) or with ``--quick``.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from _common import (load, markdown_table, mean_std, parse_args, report_header, run_suite,
                     write_report)
from skfold import FoldGrowClassifier

GROWN_INITS = ("fold", "random")
FULL = dict(datasets=["digits", "spirals"], n_max=None, seeds=[0, 1, 2], max_units=32,
            phase_iter=200, static_widths=[2, 3, 4, 6, 8, 12, 16, 24, 32], max_iter=1000)
QUICK = dict(datasets=["spirals"], n_max=150, seeds=[0, 1], max_units=5, phase_iter=20,
             static_widths=[2, 5], max_iter=60)


def split(name, seed, n_max):
    X, y, _ = load(name, n_max)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def grown_curve(data, init, seed, cfg):
    """``{width: test accuracy}`` after each growth phase, and total iterations per width.

    The curve ends early when the search finds no mis-predicted training row to fold on.
    """
    X_train, X_test, y_train, y_test = data
    # margin_fraction=0: growth stops once every training row is right, as the plateau
    # schedule's does ("auto" folds on margins in an explicit grow())
    clf = FoldGrowClassifier(hidden_units=2, max_hidden_units=cfg["max_units"],
                             growth_schedule="none", warm_start=True, init=init,
                             margin_fraction=0.0, max_iter=cfg["phase_iter"],
                             random_state=seed)
    clf.fit(X_train, y_train)
    scores, iterations = {}, {}
    while True:
        width = clf.hidden_layer_sizes_[0]
        scores[width] = clf.score(X_test, y_test)
        iterations[width] = clf.n_iter_
        if width >= cfg["max_units"]:
            break
        clf.grow(X_train, y_train)
        if clf.hidden_layer_sizes_[0] == width:  # nothing left to fold on
            break
        clf.fit(X_train, y_train)
    return scores, iterations


def static_scores(data, width, seed, cfg):
    """Test accuracy of the skfold static network and of ``MLPClassifier`` of this width."""
    X_train, X_test, y_train, y_test = data
    static = FoldGrowClassifier(hidden_units=width, max_hidden_units=width,
                                growth_schedule="none", max_iter=cfg["max_iter"],
                                random_state=seed).fit(X_train, y_train)
    mlp = MLPClassifier(hidden_layer_sizes=(width,), max_iter=cfg["max_iter"],
                        random_state=seed).fit(X_train, y_train)
    return static.score(X_test, y_test), static.n_iter_, mlp.score(X_test, y_test)


def run_dataset(name, cfg):
    """Scores per curve ``{curve: {width: [score per seed]}}``, iteration counts, final widths."""
    curves = {f"grown ({init})": {} for init in GROWN_INITS}
    curves.update({"static (skfold, same trainer)": {}, "static MLPClassifier (Adam)": {}})
    iterations = {key: {} for key in curves}
    ends = {f"grown ({init})": [] for init in GROWN_INITS}
    for seed in cfg["seeds"]:
        data = split(name, seed, cfg["n_max"])
        for init in GROWN_INITS:
            scores, iters = grown_curve(data, init, seed, cfg)
            ends[f"grown ({init})"].append(max(scores))
            for width, score in scores.items():
                curves[f"grown ({init})"].setdefault(width, []).append(score)
                iterations[f"grown ({init})"].setdefault(width, []).append(iters[width])
        for width in cfg["static_widths"]:
            static, n_iter, mlp = static_scores(data, width, seed, cfg)
            curves["static (skfold, same trainer)"].setdefault(width, []).append(static)
            iterations["static (skfold, same trainer)"].setdefault(width, []).append(n_iter)
            curves["static MLPClassifier (Adam)"].setdefault(width, []).append(mlp)
    return curves, iterations, ends


STYLES = {"grown (fold)": dict(color="tab:blue", marker="o", markersize=3),
          "grown (random)": dict(color="tab:orange", marker="^", markersize=3),
          "static (skfold, same trainer)": dict(color="tab:green", marker="s", linestyle="--"),
          "static MLPClassifier (Adam)": dict(color="tab:gray", marker="d", linestyle=":")}


def plot(results, path, cfg):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for ax, (name, (curves, _, _)) in zip(axes[0], results.items()):
        for label, by_width in curves.items():
            widths = sorted(by_width)
            mean = np.array([np.mean(by_width[w]) for w in widths])
            std = np.array([np.std(by_width[w]) for w in widths])
            ax.plot(widths, mean, label=label, **STYLES[label])
            ax.fill_between(widths, mean - std, mean + std, alpha=0.2,
                            color=STYLES[label]["color"])
        ax.set_title(f"{name}: test accuracy vs hidden units ({len(cfg['seeds'])} seeds)")
        ax.set_xlabel("hidden units")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("test accuracy (mean ± std over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.text(0.5, 0.01, "A grown curve ends where no training row is mis-predicted any more "
             "(nothing left to fold on); past the first such end, means are over the seeds "
             "still growing.", ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(name, curves, iterations, cfg):
    header = ["data set", "hidden units"] + [f"{label}" for label in curves] + [
        "iterations: grown (fold) cumulative / static"]
    rows = []
    for width in cfg["static_widths"]:
        cells = []
        for by_width in curves.values():
            scores = by_width.get(width, [])  # none: every seed's curve ended before it
            fewer = "" if len(scores) in (0, len(cfg["seeds"])) else (
                f" ({len(scores)} seed{'s' if len(scores) > 1 else ''})")
            cells.append("—" if not scores else mean_std(scores) + fewer)
        grown_iter = iterations["grown (fold)"].get(width)
        static_iter = iterations["static (skfold, same trainer)"][width]
        cells.append(f"{np.mean(grown_iter):.0f} / {np.mean(static_iter):.0f}"
                     if grown_iter else "—")
        rows.append([name, width] + cells)
    return markdown_table(header, rows)


def main():
    args = parse_args(__doc__.splitlines()[0])
    cfg = QUICK if args.quick else FULL
    results, wall, cpu = run_suite(cfg["datasets"], lambda name: run_dataset(name, cfg))

    suffix = "_quick" if args.quick else ""
    args.results_dir.mkdir(parents=True, exist_ok=True)
    png = args.results_dir / f"growth_curve{suffix}.png"
    plot(results, png, cfg)
    tables = []
    for name, (curves, iters, ends) in results.items():
        tables += [table(name, curves, iters, cfg), "",
                   f"Final width of each grown curve on {name} (seed order {cfg['seeds']}): "
                   + "; ".join(f"{label}: {widths}" for label, widths in ends.items()), ""]
    text = "\n".join([
        report_header("Accuracy vs hidden units: grown vs static networks",
                      seeds=f"split and model random_state in {cfg['seeds']}",
                      quick=args.quick, wall_seconds=wall, cpu_seconds=cpu),
        "## Protocol",
        "",
        f"- Data: {', '.join(cfg['datasets'])}; stratified 70/30 split per seed, "
        "`StandardScaler` fitted on the training part.",
        f"- Grown: start at 2 units; each phase trains with `growth_schedule=\"none\"`, "
        f"`warm_start=True` until the plateau rule (defaults `tol=1e-4`, `n_iter_no_change=10`) "
        f"or {cfg['phase_iter']} L-BFGS iterations; then `grow()` adds one unit (`init` as "
        f"labelled, default `instance_selection=\"kmeans\"`, `fold_point=\"segment\"`), up to "
        f"{cfg['max_units']} units. A curve ends early when no training row is mis-predicted "
        "(nothing left to fold on); the table then says over how many seeds a mean is taken.",
        f"- Static: trained from scratch at each width, `max_iter={cfg['max_iter']}`.",
        "- Why this design: recording the test score inside `fit` would need a callback the "
        "estimator does not have; growing by hand between warm-started fits is the plateau "
        "schedule step by step, on public API only.",
        "",
        f"![accuracy vs hidden units]({png.name})",
        "",
        *tables,
        "",
    ])
    write_report(args.results_dir, f"growth_curve{suffix}.md", text)


if __name__ == "__main__":
    main()
