"""A generic loader for other catalogs: interactions and items as CSV or Parquet tables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from llmrec.data._dataset import Catalog, Dataset, Interactions
from llmrec.errors import DataError

__all__ = ["TableColumns", "load_table_dataset"]


@dataclass(frozen=True)
class TableColumns:
    """Which source columns hold what.  ``rating``/``timestamp``/``year``/``genres`` may be ``None``."""

    user: str = "user"  # interactions: user id (integer)
    item: str = "item"  # both tables: item id (integer)
    rating: str | None = "rating"  # interactions: explicit rating; None -> 1.0 (implicit feedback)
    timestamp: str | None = "timestamp"  # interactions: unix seconds; None -> row order
    title: str = "title"  # items: display title
    year: str | None = "year"  # items: release year
    genres: str | None = "genres"  # items: '|'-separated genres


def load_table_dataset(interactions: str | os.PathLike, items: str | os.PathLike, *,
                       columns: TableColumns = TableColumns(), name: str | None = None) -> Dataset:
    """Load a dataset from two tables (``.csv``/``.tsv``/``.parquet``).

    Item columns other than id/title/year/genres are kept as free text.  Line numbers in errors count
    the header as line 1, as an editor shows them.
    """
    ipath, cpath = Path(interactions), Path(items)
    inter = _read(ipath)
    _require(inter, ipath,
             [columns.user, columns.item] + [c for c in (columns.rating, columns.timestamp) if c])
    frame = pd.DataFrame({
        "user": _integers(inter, columns.user, ipath),
        "item": _integers(inter, columns.item, ipath),
        "rating": _numbers(inter, columns.rating, ipath) if columns.rating else 1.0,
        "timestamp": _integers(inter, columns.timestamp, ipath) if columns.timestamp else range(len(inter)),
    })
    cat = _read(cpath)
    _require(cat, cpath, [columns.item, columns.title] + [c for c in (columns.year, columns.genres) if c])
    item_ids = _integers(cat, columns.item, cpath)
    dup = item_ids.duplicated()
    if dup.any():
        row = int(dup.to_numpy().nonzero()[0][0])
        raise DataError(f"duplicate item id {int(item_ids.iloc[row])}", cpath, _line(cpath, row))
    catalog_frame = pd.DataFrame({
        "item": item_ids,
        "title": cat[columns.title].fillna("").astype(str),
        "year": _integers(cat, columns.year, cpath, allow_missing=True) if columns.year else None,
        "genres": cat[columns.genres] if columns.genres else None,
    })
    used = {columns.item, columns.title, columns.year, columns.genres}
    for col in cat.columns:
        if col not in used:
            catalog_frame[col] = cat[col].fillna("").astype(str)
    catalog = Catalog(catalog_frame.set_index("item"))
    unknown = ~frame["item"].isin(catalog.frame.index)
    if unknown.any():
        row = int(unknown.to_numpy().nonzero()[0][0])
        raise DataError(f"unknown item id {int(frame['item'].iloc[row])} (not in {cpath.name})",
                        ipath, _line(ipath, row))
    return Dataset(Interactions(frame), catalog, name=name or ipath.stem,
                   source={"interactions": str(ipath.resolve()), "items": str(cpath.resolve())})


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError("file not found", path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".tsv", ".txt"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", on_bad_lines="error",
                               encoding="utf-8", dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.ParserError as err:  # "Expected 3 fields in line 5, saw 4"
        raise DataError(f"wrong column count: {err}".strip(), path) from None
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text: {err}", path) from None
    raise DataError(f"unsupported table format {suffix!r} (use .csv, .tsv or .parquet)", path)


def _require(frame: pd.DataFrame, path: Path, cols: list[str]) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; the table has {list(frame.columns)}", path)


def _line(path: Path, row: int) -> int | None:
    return row + 2 if path.suffix.lower() != ".parquet" else None  # header is line 1


def _numbers(frame: pd.DataFrame, col: str, path: Path, allow_missing: bool = False) -> pd.Series:
    values = pd.to_numeric(frame[col], errors="coerce")
    bad = values.isna() & (frame[col].notna() | (not allow_missing))
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(f"column {col!r} has a non-numeric value {frame[col].iloc[row]!r}", path,
                        _line(path, row))
    return values


def _integers(frame: pd.DataFrame, col: str, path: Path, allow_missing: bool = False) -> pd.Series:
    values = _numbers(frame, col, path, allow_missing)
    frac = values.notna() & (values != values.round())
    if frac.any():
        row = int(frac.to_numpy().nonzero()[0][0])
        raise DataError(f"column {col!r} needs integers, got {frame[col].iloc[row]!r}", path,
                        _line(path, row))
    return values.astype("Int64") if allow_missing else values.astype("int64")
