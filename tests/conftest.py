"""Shared fixtures: a tiny hand-built dataset for logic, the real MovieLens-100K for figures."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pandas as pd
import pytest

from llmrec.data import Catalog, Dataset, Interactions, default_data_path, load_movielens_100k


def make_dataset(rows: list[tuple[int, int, float, int]], n_items: int = 6) -> Dataset:
    """A dataset from (user, item, rating, timestamp) rows over items 1..n_items."""
    catalog = Catalog(pd.DataFrame({
        "item": list(range(1, n_items + 1)),
        "title": [f"Movie {i}" for i in range(1, n_items + 1)],
        "year": [1990 + i for i in range(1, n_items + 1)],
        "genres": ["Drama|Comedy" if i % 2 else "Horror" for i in range(1, n_items + 1)],
    }).set_index("item"))
    return Dataset(Interactions(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])), catalog,
                   name="tiny")


@pytest.fixture
def tiny() -> Dataset:
    """Two users with 4 interactions each (user 2 has a timestamp tie) and one user with only 2."""
    return make_dataset([
        (1, 1, 5, 100), (1, 2, 4, 200), (1, 3, 3, 300), (1, 4, 2, 400),
        (2, 5, 5, 100), (2, 3, 4, 200), (2, 2, 3, 300), (2, 1, 1, 300),  # tie at t=300: item 1 before 2
        (3, 1, 4, 100), (3, 6, 4, 200),
    ])


@pytest.fixture(scope="session")
def ml100k() -> Dataset:
    path = default_data_path()
    if path is None or not (path / "u.data").exists():
        pytest.skip("MovieLens-100K not found (set LLMREC_DATA or place it in ../shared/data/ml-100k)")
    return load_movielens_100k(path)
