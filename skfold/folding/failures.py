"""Numerical failures of a growth search: they skip the growth; anything else is a bug."""

from __future__ import annotations

import contextlib

import numpy as np
import torch


class SearchFailed(ArithmeticError):
    """A numerical routine of the growth search (its QP, LP, k-means, SVD...) broke down: the
    growth is skipped, recorded, and training goes on."""


@contextlib.contextmanager
def numerical(what):
    """Turn a numerical library's failure inside the block into :class:`SearchFailed`."""
    try:
        yield
    except (ValueError, ArithmeticError, np.linalg.LinAlgError,
            torch.linalg.LinAlgError) as exc:
        raise SearchFailed(f"{what}: {type(exc).__name__}: {exc}") from exc
