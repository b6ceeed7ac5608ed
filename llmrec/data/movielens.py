"""MovieLens-100K: read a local copy or download and verify the official GroupLens archive.

Every malformed line fails with :class:`~llmrec.errors.DataError` naming file and line.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import pandas as pd

from llmrec.artifacts import cache_dir, sha256_file
from llmrec.data._dataset import Catalog, Dataset, Interactions
from llmrec.errors import DataError

__all__ = ["ML100K_UDATA_SHA256", "ML100K_URL", "load_movielens_100k", "natural_title"]

log = logging.getLogger(__name__)

ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
#: SHA-256 of the official ``u.data``; a download (or local copy, with ``verify=True``) must match it.
ML100K_UDATA_SHA256 = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"
_ARTICLE_SUFFIX = re.compile(r"^(?P<body>.*), (?P<article>The|A|An|Les|La|Le|L'|Il|El|Das|Der|Die)$")
_YEAR_SUFFIX = re.compile(r"\s*\((?P<year>\d{4})\)\s*$")


def natural_title(raw: str) -> tuple[str, int | None]:
    """Split MovieLens' ``"Usual Suspects, The (1995)"`` into ``("The Usual Suspects", 1995)``."""
    year = None
    m = _YEAR_SUFFIX.search(raw)
    if m:
        year = int(m.group("year"))
        raw = raw[: m.start()]
    raw = raw.strip()
    # An article may also stand before a parenthesised alternative title:
    # "City of Lost Children, The (Cité ...)".
    head, sep, tail = raw.partition(" (")
    a = _ARTICLE_SUFFIX.match(head)
    if a:
        article = a.group("article")
        joiner = "" if article.endswith("'") else " "
        head = f"{article}{joiner}{a.group('body')}"
    return head + (sep + tail if sep else ""), year


def load_movielens_100k(path: str | os.PathLike | None = None, *, download: bool = False,
                        verify: bool = False) -> Dataset:
    """Load MovieLens-100K.

    Args:
        path: directory holding ``u.data`` and ``u.item`` (the unpacked ``ml-100k`` folder).  When it
            does not exist and ``download`` is true, the official archive is downloaded into it.
            ``None`` means the cache directory (``$LLMREC_CACHE/data/ml-100k``).
        download: fetch the archive from GroupLens when the directory is missing.
        verify: check ``u.data`` against the official SHA-256 even for a local copy.
    """
    directory = Path(path) if path is not None else cache_dir() / "data" / "ml-100k"
    udata = directory / "u.data"
    if not udata.exists():
        if not download:
            raise DataError(
                "MovieLens-100K not found (expected u.data here); pass download=True / --download "
                f"to fetch {ML100K_URL}", directory)
        _download(directory)
        verify = True
    digest = sha256_file(udata)
    if verify and digest != ML100K_UDATA_SHA256:
        raise DataError(f"checksum mismatch: sha256 {digest}, expected {ML100K_UDATA_SHA256}", udata)
    catalog = _read_items(directory / "u.item", _read_genres(directory / "u.genre"))
    interactions = _read_ratings(udata)
    dataset_source = {"path": str(directory.resolve()), "u.data.sha256": digest[:16]}
    try:
        return Dataset(interactions, catalog, name="ml-100k", source=dataset_source,
                       users=_read_users(directory / "u.user"))
    except DataError as err:  # re-raise naming the file and the line of the unknown item
        frame = interactions.frame
        unknown = ~frame["item"].isin(catalog.frame.index)
        line = int(unknown.to_numpy().nonzero()[0][0]) + 1
        raise DataError(f"unknown item id {int(frame['item'][line - 1])} (not in u.item)", udata,
                        line) from err


def _read_users(path: Path) -> pd.DataFrame | None:
    """``u.user`` (user id | age | gender | occupation | zip code) indexed by user; None when absent."""
    if not path.exists():
        return None
    rows = []
    with _open(path, "latin-1") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split("|")
            if len(parts) != 5 or not parts[0].isdigit() or not parts[1].isdigit():
                raise DataError(f"expected 'user|age|gender|occupation|zip', got {line.strip()!r}", path,
                                lineno)
            rows.append((int(parts[0]), int(parts[1]), parts[2], parts[3], parts[4]))
    return pd.DataFrame(rows, columns=["user", "age", "gender", "occupation", "zip"]).set_index("user")


def _read_ratings(path: Path) -> Interactions:
    rows = []
    with _open(path, "utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 4:
                raise DataError(f"expected 4 tab-separated fields (user, item, rating, timestamp), "
                                f"got {len(fields)}", path, lineno)
            try:
                user, item, rating, ts = int(fields[0]), int(fields[1]), float(fields[2]), int(fields[3])
            except ValueError as err:
                raise DataError(f"bad value: {err}", path, lineno) from None
            rows.append((user, item, rating, ts))
    if not rows:
        raise DataError("no interactions", path)
    return Interactions(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]))


def _read_genres(path: Path) -> list[str]:
    genres: list[tuple[int, str]] = []
    with _open(path, "latin-1") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            name, sep, idx = line.strip().rpartition("|")
            if not sep or not idx.isdigit():
                raise DataError("expected 'genre|index'", path, lineno)
            genres.append((int(idx), name))
    return [name for _, name in sorted(genres)]


def _read_items(path: Path, genres: list[str]) -> Catalog:
    n_fields = 5 + len(genres)
    rows = []
    with _open(path, "latin-1") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("|")
            if len(fields) != n_fields:
                raise DataError(f"expected {n_fields} '|'-separated fields, got {len(fields)}", path, lineno)
            try:
                item = int(fields[0])
                flags = [int(f) for f in fields[5:]]
            except ValueError as err:
                raise DataError(f"bad value: {err}", path, lineno) from None
            title, year = natural_title(fields[1])
            if year is None and fields[2][-4:].isdigit():
                year = int(fields[2][-4:])
            item_genres = tuple(g for g, f in zip(genres, flags) if f and g != "unknown")
            rows.append({"item": item, "title": title, "year": year, "genres": item_genres,
                         "release_date": fields[2], "imdb_url": fields[4]})
    frame = pd.DataFrame(rows).set_index("item")
    if not frame.index.is_unique:
        raise DataError(f"duplicate item id {frame.index[frame.index.duplicated()][0]}", path)
    return Catalog(frame)


def _open(path: Path, encoding: str):
    if not path.exists():
        raise DataError("file not found", path)
    return open(path, encoding=encoding, newline="")


def _download(directory: Path) -> None:
    """Download the archive and unpack ``ml-100k/`` into ``directory`` atomically."""
    from tqdm.auto import tqdm

    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory.parent) as tmp:
        archive = Path(tmp) / "ml-100k.zip"
        log.info("downloading url=%s", ML100K_URL)
        with urllib.request.urlopen(ML100K_URL, timeout=60) as resp, open(archive, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="ml-100k.zip") as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        unpacked = Path(tmp) / "ml-100k"
        digest = sha256_file(unpacked / "u.data")
        if digest != ML100K_UDATA_SHA256:
            raise DataError(f"downloaded archive fails its checksum (sha256 {digest})", ML100K_URL)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(unpacked, directory)
