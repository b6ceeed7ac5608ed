"""The dataset abstraction: an interaction log and an item catalog.

``Interactions`` wraps a DataFrame with columns ``user, item, rating, timestamp`` (ints, float, int
seconds).  ``Catalog`` wraps a DataFrame indexed by item id with ``title, year, genres`` and any free-text
columns.  Both are validated on construction so every later stage can trust them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from llmrec.errors import DataError

__all__ = ["Catalog", "Dataset", "Interactions"]

INTERACTION_COLUMNS = ("user", "item", "rating", "timestamp")


@dataclass(frozen=True)
class Interactions:
    """An interaction log: one row per (user, item, rating, timestamp)."""

    frame: pd.DataFrame

    def __post_init__(self) -> None:
        missing = [c for c in INTERACTION_COLUMNS if c not in self.frame.columns]
        if missing:
            raise DataError(f"interactions lack columns {missing}; have {list(self.frame.columns)}")
        frame = self.frame.loc[:, list(INTERACTION_COLUMNS)].astype(
            {"user": "int64", "item": "int64", "rating": "float64", "timestamp": "int64"}
        )
        object.__setattr__(self, "frame", frame.reset_index(drop=True))

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def users(self) -> np.ndarray:
        """Sorted unique user ids."""
        return np.sort(self.frame["user"].unique())

    def ordered(self) -> pd.DataFrame:
        """Rows sorted by user, then (timestamp, item id) — the protocol's order."""
        return self.frame.sort_values(["user", "timestamp", "item"], kind="mergesort").reset_index(drop=True)

    def fingerprint(self) -> str:
        """A short content hash, written into reports so figures can be traced to their data."""
        values = self.ordered().to_numpy(dtype="float64")
        return hashlib.sha256(values.tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Catalog:
    """Item metadata indexed by item id.

    Required columns: ``title`` (str), ``year`` (Int64, may be missing), ``genres`` (tuple of str).
    Any other string column is free text (e.g. a plot summary) that renderers may use.
    """

    frame: pd.DataFrame

    def __post_init__(self) -> None:
        frame = self.frame
        if frame.index.name != "item":
            raise DataError(f"catalog must be indexed by 'item', got index {frame.index.name!r}")
        if not frame.index.is_unique:
            dup = frame.index[frame.index.duplicated()][0]
            raise DataError(f"catalog has duplicate item id {dup}")
        for col in ("title", "year", "genres"):
            if col not in frame.columns:
                raise DataError(f"catalog lacks column {col!r}; have {list(frame.columns)}")
        frame = frame.copy()
        frame["title"] = frame["title"].fillna("").astype(str)
        frame["year"] = pd.array(frame["year"], dtype="Int64")
        frame["genres"] = frame["genres"].map(_as_genres)
        frame = frame.sort_index()
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "_ids", frame.index.to_numpy(dtype="int64"))
        counts = frame["title"].value_counts()
        object.__setattr__(self, "_shared_titles", frozenset(counts.index[counts > 1]))

    def __len__(self) -> int:
        return len(self.frame)

    def __contains__(self, item: object) -> bool:
        return item in self.frame.index

    def append(self, item: int, title: str, year: int | None = None, genres: Iterable[str] = (),
               **text: str) -> None:
        """Add a new item to this catalog in place (real-time updates: every holder of the catalog sees it).

        ``item`` must be greater than every id already here, so the new item takes the last position and the
        :meth:`positions` of the existing items (rows of the vectors indexed by them) do not move.  ``text``:
        free-text columns (a new column is empty, ``""``, for the other items, so their text is unchanged).
        """
        if isinstance(item, bool) or not isinstance(item, int | np.integer):
            raise DataError(f"a new item id must be an integer, got {item!r}")
        if len(self) and int(item) <= int(self.item_ids[-1]):
            raise DataError(f"a new item id must be greater than every catalog id (largest "
                            f"{int(self.item_ids[-1])}), got {int(item)}")
        if not isinstance(title, str) or not title.strip():
            raise DataError(f"a new item needs a title, got {title!r}")
        row = {c: "" for c in self.text_columns} | {"title": title.strip(), "year": year,
                                                    "genres": _as_genres(list(genres))}
        for col, value in text.items():
            if col in ("title", "year", "genres") or not isinstance(value, str):
                raise DataError(f"free-text column {col!r} must be a string other than title/year/genres, "
                                f"got {value!r}")
            row[col] = value
        frame = self.frame.copy()
        for col in row:
            if col not in frame.columns:
                frame[col] = ""
        frame.loc[int(item)] = pd.Series(row, dtype=object)
        frame["year"] = pd.array(frame["year"], dtype="Int64")
        frame.index = frame.index.astype("int64")
        frame.index.name = "item"
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "_ids", frame.index.to_numpy(dtype="int64"))
        counts = frame["title"].value_counts()
        object.__setattr__(self, "_shared_titles", frozenset(counts.index[counts > 1]))

    @property
    def item_ids(self) -> np.ndarray:
        """All item ids, ascending."""
        return self._ids  # type: ignore[attr-defined]

    def positions(self, items: np.ndarray | Iterable[int]) -> np.ndarray:
        """Row positions (0..n-1) of ``items`` in :attr:`item_ids`; an unknown id raises DataError."""
        items = np.asarray(items, dtype=np.int64)
        ids = self.item_ids
        pos = np.searchsorted(ids, items)
        bad = (pos >= len(ids)) | (ids[np.minimum(pos, len(ids) - 1)] != items)
        if bad.any():
            raise DataError(f"unknown item id {int(items[bad][0])} (not in the catalog)")
        return pos

    @property
    def text_columns(self) -> list[str]:
        """Free-text columns beyond title/year/genres."""
        return [c for c in self.frame.columns if c not in ("title", "year", "genres")]

    def title(self, item: int) -> str:
        return str(self.frame.at[item, "title"])

    def year(self, item: int) -> int | None:
        y = self.frame.at[item, "year"]
        return None if pd.isna(y) else int(y)

    def genre_matrix(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The catalog's genre names (sorted) and an (items, genres) 0/1 matrix in :attr:`item_ids` order."""
        ids = self.item_ids
        names = tuple(sorted({g for i in ids for g in self.genres(int(i))}))
        col = {g: c for c, g in enumerate(names)}
        matrix = np.zeros((len(ids), len(names)), dtype=np.float64)
        for r, i in enumerate(ids):
            for g in self.genres(int(i)):
                matrix[r, col[g]] = 1.0
        return names, matrix

    def genres(self, item: int) -> tuple[str, ...]:
        return self.frame.at[item, "genres"]

    def display_title(self, item: int) -> str:
        """Title with the year appended unless the title already carries it."""
        title, year = self.title(item), self.year(item)
        if year is None or title.rstrip().endswith(f"({year})"):
            return title
        return f"{title} ({year})"

    def short_title(self, item: int) -> str:
        """The title alone, or :meth:`display_title` when another item has the same title (remakes)."""
        title = self.title(item)
        return self.display_title(item) if title in self._shared_titles else title  # type: ignore[attr-defined]


def _as_genres(value: object) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    if isinstance(value, str):
        return tuple(g.strip() for g in value.split("|") if g.strip())
    if isinstance(value, Iterable):
        return tuple(str(g) for g in value)
    raise DataError(f"genres must be a '|'-separated string or a list, got {value!r}")


@dataclass(frozen=True)
class Dataset:
    """Interactions plus the catalog they refer to.  Every interaction's item must be in the catalog."""

    interactions: Interactions
    catalog: Catalog
    name: str = "dataset"
    source: dict[str, str] = field(default_factory=dict)
    #: optional user profiles indexed by user id (MovieLens: age, gender, occupation, zip); None: unknown
    users: pd.DataFrame | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        unknown = ~self.interactions.frame["item"].isin(self.catalog.frame.index)
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            item = int(self.interactions.frame["item"].iloc[row])
            raise DataError(f"interaction row {row} refers to item {item}, which is not in the catalog")

    def with_interactions(self, interactions: Interactions) -> Dataset:
        """The same catalog with another interaction log (e.g. a training split)."""
        return Dataset(interactions, self.catalog, self.name, dict(self.source), self.users)
