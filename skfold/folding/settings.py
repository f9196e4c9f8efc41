"""The settings every growth step of a fit shares, as one small object."""

from __future__ import annotations

from dataclasses import dataclass

from ..tasks import Task

INITS = ("fold", "fold_direction", "gradmax", "random")
INSTANCE_SELECTIONS = ("kmeans", "max_loss", "random")
FOLD_POINTS = ("segment", "nearest")
OUTGOING_WEIGHTS = ("zero", "line_search")


@dataclass(frozen=True)
class GrowthSettings:
    """The estimator's growth-search parameters (see its docstring for each)."""

    task: Task
    init: str = "fold"
    instance_selection: str = "kmeans"
    n_clusters: int = 8
    search_subsample: int = 2000
    fold_point: str = "segment"
    margin_fraction: float = 0.0
    outgoing_weights: str = "zero"
