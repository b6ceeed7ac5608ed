"""Resolve a ``--data`` argument to a Dataset (MovieLens directory or a pair of tables)."""

from __future__ import annotations

import os
from pathlib import Path

from llmrec.data._dataset import Dataset
from llmrec.data.movielens import load_movielens_100k
from llmrec.data.tabular import load_table_dataset
from llmrec.errors import DataError

__all__ = ["default_data_path", "load_dataset"]


def default_data_path() -> Path | None:
    """``$LLMREC_DATA``, else a ``shared/data/ml-100k`` beside the checkout, else None (use the cache)."""
    env = os.environ.get("LLMREC_DATA")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[3] / "shared" / "data" / "ml-100k"
    return beside if beside.exists() else None


def load_dataset(data: str | os.PathLike | None = None, items: str | os.PathLike | None = None, *,
                 download: bool = False) -> Dataset:
    """Load ``data``: a MovieLens-100K directory, or (with ``items``) an interactions table.

    With ``data=None`` the default location is used (see :func:`default_data_path`), downloading
    MovieLens-100K into the cache when ``download`` is true.
    """
    if items is not None:
        if data is None:
            raise DataError("--items needs --data naming the interactions table")
        return load_table_dataset(data, items)
    path = Path(data) if data is not None else default_data_path()
    if path is not None and path.is_file():
        raise DataError("a single table needs --items naming the item table", path)
    return load_movielens_100k(path, download=download)
