"""Checks of what callers hand the item index: item ids (1-D integers, no duplicates) and vectors (2-D,
finite, of the index's dimension), with errors that name the offending ids or rows."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_ids", "few", "normalised"]


def few(values: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(v) for v in values[:limit].tolist())
    return f"[{shown}{', ...' if len(values) > limit else ''}] ({len(values)} in all)"


def check_ids(item_ids: Any, n: int) -> np.ndarray:
    """Item ids as a 1-D int64 array of length ``n`` (-1: any length) without duplicates."""
    ids = np.asarray(item_ids)
    if ids.size == 0:
        ids = ids.astype(np.int64).reshape(0)
    if ids.ndim != 1 or (n >= 0 and len(ids) != n):
        raise ValueError(f"item_ids must be a 1-D array{f' of {n} ids, one per vector,' if n >= 0 else ''} "
                         f"got shape {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"item_ids must be integers, got dtype {ids.dtype}")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"duplicate item ids: {few(uniq[counts > 1])}")
    return ids.astype(np.int64, copy=False)


def normalised(x: Any, dim: int | None, what: str, ids: np.ndarray | None, encoder: str = "",
                unit: bool = True) -> np.ndarray:
    """A C-contiguous float32 copy of ``x`` (n, d) with unit rows (``unit=False``: as they are); NaN/inf rows
    (and with ``unit``, zero rows) raise ValueError."""
    a = np.asarray(x)
    if a.ndim != 2 or (a.shape[1] == 0 and a.shape[0] > 0):
        raise ValueError(f"{what} must be a 2-D array (n, d), got shape {a.shape}"
                         + ("; use queries.reshape(1, -1) for one query" if a.ndim == 1 else ""))
    if dim is not None and a.shape[1] != dim:
        raise ValueError(f"{what} have dimension {a.shape[1]} but the index holds {dim}-d vectors"
                         f"{f' from encoder {encoder!r}' if encoder else ''}; encode them with the index's "
                         "encoder (or rebuild the index)")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{what} must be real numbers, got dtype {a.dtype}")
    a = np.array(a, dtype=np.float32, order="C", copy=True)
    norms = np.sqrt(np.einsum("ij,ij->i", a, a))
    if (bad := ~np.isfinite(norms) | ((norms == 0) & unit)).any():
        rows = np.flatnonzero(bad)
        where = f"item ids {few(ids[rows])}" if ids is not None else f"rows {few(rows)}"
        raise ValueError(f"{what} for {where} are NaN, infinite or all zero and cannot be normalised")
    if unit:
        a /= norms[:, None]
    return a
