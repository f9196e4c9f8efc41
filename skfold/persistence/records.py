"""Checks of a file's ``growth_history_``: every record has only fields skfold writes, each of
the type skfold writes, so that ``explain_unit`` and the plots can read it."""

from __future__ import annotations

from . import checks


def _label_or_values(value, name, context):
    """A classifier's class label, or a regressor's list of numbers (one per output)."""
    if value is None:
        return None
    classes = context["classes"]
    if classes is None:
        return checks.numbers(value, name, length=context["n_outputs"])
    if not any(type(value) is type(c.item() if hasattr(c, "item") else c) and value == c
               for c in classes):
        raise ValueError(f"{name} must be one of classes_, got {value!r}")
    return value


def _point(value, name, context):
    return checks.numbers(value, name, optional=True)


def _dead_units(value, name, context):
    if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
        raise ValueError(f"{name} must map layers to lists of units")
    return {checks.integer(k, f"{name} key"): [checks.integer(u, f"{name}[{k}]") for u in v]
            for k, v in value.items()}


def _opt(check):
    return lambda value, name, context: None if value is None else check(value, name)


FIELDS = {
    "kind": lambda v, n, c: checks.one_of(v, n, {"widen", "deepen"}),
    "layer": lambda v, n, c: checks.integer(v, n),
    "unit": _opt(checks.integer),
    "init": lambda v, n, c: checks.text(v, n, optional=True),
    "instance_index": _opt(checks.integer),
    "x_t": _point, "x_f": _point, "h_t": _point, "h_f": _point,
    "fold_distance": _opt(lambda v, n: checks.number(v, n, low=0)),
    "predicted": _label_or_values, "true": _label_or_values,
    "instance_loss": _opt(lambda v, n: checks.number(v, n, low=0)),
    "cluster_size": _opt(checks.integer),
    "cluster_mean_loss": _opt(lambda v, n: checks.number(v, n, infinite=True)),
    "cluster_rank": _opt(checks.integer),
    "n_clusters_used": _opt(checks.integer),
    "fallback": lambda v, n, c: checks.text(v, n, optional=True),
    "skipped": lambda v, n, c: checks.text(v, n, optional=True),
    "growth": lambda v, n, c: checks.integer(v, n),
    "epoch": lambda v, n, c: checks.integer(v, n),
    "loss_before": _opt(lambda v, n: checks.number(v, n, infinite=True)),
    "loss_after": _opt(lambda v, n: checks.number(v, n, infinite=True)),
    "gain_needed": _opt(lambda v, n: checks.number(v, n, low=0)),
    "dead_units": _dead_units,
    "search_seconds": _opt(lambda v, n: checks.number(v, n, low=0)),
    "hidden_layer_sizes": lambda v, n, c: tuple(checks.sizes(v, n)),
    "in_final_model": lambda v, n, c: None if v is None else checks.boolean(v, n),
    "width": lambda v, n, c: checks.integer(v, n, low=1),
    "paid": lambda v, n, c: None if v is None else checks.boolean(v, n),
}
#: Fields every record has (DESIGN section 6); the others depend on the kind of growth.
REQUIRED = ("kind", "layer", "unit", "init", "growth", "epoch")
#: What a record of a unit added for an instance ``x_t`` holds besides it; a folded one (the
#: fold inits) also its fold point and distance.
FOR_INSTANCE = ("unit", "instance_index", "predicted", "true")
FOLD_INITS = ("fold", "fold_direction")


def check_history(history, context):
    """``growth_history_`` as skfold writes it, or ``ValueError``."""
    if not isinstance(history, list):
        raise ValueError("growth_history_ must be a list of records")
    for i, record in enumerate(history):
        where = f"growth_history_[{i}]"
        if not isinstance(record, dict):
            raise ValueError(f"{where} must be a record (a dict)")
        unknown = set(record) - set(FIELDS)
        missing = [k for k in REQUIRED if k not in record]
        if unknown or missing:
            raise ValueError(f"{where} has fields skfold does not write ({sorted(unknown)}) "
                             f"or lacks required ones ({missing})")
        for key, value in record.items():
            checked = FIELDS[key](value, f"{where}.{key}", context)
            if key == "hidden_layer_sizes":
                record[key] = checked
        if any(record.get(k) is not None and len(record[k]) != context["n_features"]
               for k in ("x_t", "x_f")):
            raise ValueError(f"{where}: x_t and x_f must have n_features_in_ values")
        if record.get("x_t") is not None and (
                any(record.get(k) is None for k in FOR_INSTANCE)
                or record.get("init") in FOLD_INITS and (
                    record.get("fold_distance") is None
                    or record.get("x_f") is None and record.get("h_f") is None)):
            raise ValueError(f"{where}: a unit added for x_t records {list(FOR_INSTANCE)}, "
                             "and a folded one its fold point (x_f or h_f) and distance")
    return history
