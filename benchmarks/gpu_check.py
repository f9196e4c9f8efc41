"""skfold on a CUDA device against the same fits on CPU, in under five minutes.

Run ``python benchmarks/gpu_check.py`` on a machine with CUDA. It checks, on ``device="cuda"``
against ``device="cpu"`` with the same seeds: fit (both solvers, both estimators), the growth
decisions (the same units from the same instances), predictions (within float tolerance),
``grow``, ``partial_fit``, save and a CUDA-saved model loaded on CPU; then it times one Adam
epoch over 1,000,000 rows on each device. It writes ``results/gpu_check.md`` saying where it ran.
Without a CUDA device it exits with status 2 and writes nothing.
"""

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_classification, make_regression

import skfold
from skfold import FoldGrowClassifier, FoldGrowRegressor

from _common import RESULTS_DIR, markdown_table, report_header

RTOL, ATOL = 1e-4, 1e-5
N_LARGE = 1_000_000


def decisions(est):
    """What each growth decided: the unit, its layer and the instance it was folded on."""
    return [(e.get("layer"), e.get("unit"), e.get("instance_index")) for e in est.growth_history_]


def same_fit(make, X, y, **params):
    """Fit on CPU and on CUDA; return (same growth decisions, largest prediction gap)."""
    cpu = make(device="cpu", random_state=0, **params).fit(X, y)
    gpu = make(device="cuda", random_state=0, **params).fit(X, y)
    gap = float(np.max(np.abs(_outputs(cpu, X) - _outputs(gpu, X))))
    return decisions(cpu) == decisions(gpu), gap, cpu, gpu


def _outputs(est, X):
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)


def check_fits():
    Xc, yc = make_classification(n_samples=600, n_features=10, random_state=0)
    Xr, yr = make_regression(n_samples=600, n_features=10, noise=5.0, random_state=0)
    rows, models = [], {}
    for name, make, X, y in (("classifier", FoldGrowClassifier, Xc, yc),
                             ("regressor", FoldGrowRegressor, Xr, yr)):
        for solver in ("lbfgs", "adam"):
            same, gap, cpu, gpu = same_fit(make, X, y, solver=solver, max_iter=300,
                                           max_hidden_units=8)
            rows.append([f"fit, {name}, {solver}", same, f"{gap:.2e}",
                         same and gap <= ATOL + RTOL])
            models[name, solver] = (cpu, gpu, X, y)
    cpu, gpu, X, y = models["classifier", "adam"]
    for est in (cpu, gpu):
        est.grow(X, y)
        est.partial_fit(X, y)
    gap = float(np.max(np.abs(_outputs(cpu, X) - _outputs(gpu, X))))
    rows.append(["grow + partial_fit, classifier", decisions(cpu) == decisions(gpu),
                 f"{gap:.2e}", decisions(cpu) == decisions(gpu) and gap <= ATOL + RTOL])
    buffer = io.BytesIO()
    skfold.save(gpu, buffer)
    buffer.seek(0)
    loaded = skfold.load(buffer)
    loaded.set_params(device="cpu")
    gap = float(np.max(np.abs(_outputs(loaded, X) - _outputs(gpu, X))))
    rows.append(["CUDA-saved model loaded, predicting on CPU", True, f"{gap:.2e}",
                 gap <= ATOL + RTOL])
    return rows


def epoch_seconds(device):
    X, y = make_classification(n_samples=N_LARGE, n_features=20, random_state=0)
    est = FoldGrowClassifier(device=device, solver="adam", max_iter=1, growth_schedule="none",
                             hidden_units=32, max_hidden_units=32, batch_size=4096,
                             random_state=0)
    start = time.perf_counter()
    est.fit(X, y)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check.py needs a CUDA device and none is available here "
              "(torch.cuda.is_available() is False); nothing was written.", file=sys.stderr)
        return 2
    start = time.perf_counter()
    rows = check_fits()
    cpu_s, gpu_s = epoch_seconds("cpu"), epoch_seconds("cuda")
    where = f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    text = "\n".join([
        report_header("GPU check: device='cuda' against device='cpu'", seeds="0", quick=False,
                      wall_seconds=time.perf_counter() - start),
        f"- Ran on: {where}", "",
        markdown_table(["check", "same growth decisions", "largest output gap", "passed"], rows),
        "", f"One Adam epoch over {N_LARGE:,} rows x 20 features (32 units, batch 4096): "
        f"CPU {cpu_s:.1f} s, CUDA {gpu_s:.1f} s ({cpu_s / gpu_s:.1f}x).", ""])
    print(text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "gpu_check.md").write_text(text)
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
