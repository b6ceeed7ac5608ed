"""The typed query a request in plain language becomes, and the hard constraints it states.

    q = Query(constraints=Constraints(genres_all=("Comedy",), year_min=1990, year_max=1999,
                                      genres_none=("Romance",)), text="something light")
    q.interpretation()        # "Comedy, 1990-1999, no Romance"
    q.constraints.allows(catalog, item)   # True / False, in code (never left to the model)

A :class:`Query` is what one turn asks; a conversation folds the turns' queries into one (later turns add to
or override earlier ones, see :mod:`llmrec.converse.state`).  Its wire form (:meth:`Query.to_parse`) is the
*parse*: the dict the constraint benchmark and the hand-written request set store as the truth, and that
"exact match" compares (every field but the soft ``text``):

=================  ==========================================================================================
``genres_all``     genres every returned item must have (sorted)
``genres_any``     at least one of these (sorted; empty: no such constraint)
``genres_none``    genres no returned item may have (sorted)
``year_min/max``   release-year range, inclusive (None: open)
``exclude_items``  catalog item ids never to return ("not Toy Story", titles already seen)
``seeds``          item ids the request is "like" ("like Toy Story"); never returned either
``k``              how many items were asked for (None: the caller's default)
``unsupported``    what was asked that the catalog cannot express, by kind: ``language``, ``runtime``,
                   ``person`` (actors, directors), ``rating`` (MPAA / age ratings), ``place``, ``platform``
=================  ==========================================================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.data import Catalog
from llmrec.errors import ConfigError

__all__ = ["UNSUPPORTED_KINDS", "Constraints", "Query", "catalog_genres"]

#: The kinds of constraint the catalog cannot express; a request asking one is told so, never guessed.
UNSUPPORTED_KINDS = ("language", "runtime", "person", "rating", "place", "platform")


def catalog_genres(catalog: Catalog) -> tuple[str, ...]:
    """The genre names the catalog uses, sorted (the only values a parse may name)."""
    seen: set[str] = set()
    for genres in catalog.frame["genres"]:
        seen.update(genres)
    seen.discard("unknown")
    return tuple(sorted(seen))


def _sorted_unique(values: Iterable) -> tuple:
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class Constraints:
    """Hard constraints: every returned item satisfies all of them (checked by :meth:`allows`)."""

    genres_all: tuple[str, ...] = ()
    genres_any: tuple[str, ...] = ()
    genres_none: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    exclude_items: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("genres_all", "genres_any", "genres_none"):
            object.__setattr__(self, name, _sorted_unique(str(g) for g in getattr(self, name)))
        object.__setattr__(self, "exclude_items", _sorted_unique(int(i) for i in self.exclude_items))
        for name in ("year_min", "year_max"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer)):
                raise ConfigError(f"Constraints.{name} must be a year (an integer) or None, got {value!r}")
            if value is not None:
                object.__setattr__(self, name, int(value))

    def is_empty(self) -> bool:
        return self == Constraints()

    def check_genres(self, known: Iterable[str]) -> None:
        """Every genre named is one of ``known`` (the catalog's); else an error naming it."""
        known = set(known)
        for name in ("genres_all", "genres_any", "genres_none"):
            bad = [g for g in getattr(self, name) if g not in known]
            if bad:
                raise ConfigError(f"{name} names {bad[0]!r}, which is not a genre of this catalog "
                                  f"(known: {', '.join(sorted(known))})")

    def violations(self, catalog: Catalog, item: int) -> list[str]:
        """What ``item`` breaks, in words (empty: it satisfies every constraint)."""
        item = int(item)
        out = []
        genres = set(catalog.genres(item))
        missing = [g for g in self.genres_all if g not in genres]
        if missing:
            out.append(f"not {', '.join(missing)}")
        if self.genres_any and not genres & set(self.genres_any):
            out.append(f"none of {', '.join(self.genres_any)}")
        banned = [g for g in self.genres_none if g in genres]
        if banned:
            out.append(f"is {', '.join(banned)}")
        year = catalog.year(item)
        if (self.year_min is not None or self.year_max is not None) and year is None:
            out.append("release year unknown")
        elif year is not None and self.year_min is not None and year < self.year_min:
            out.append(f"released {year}, before {self.year_min}")
        elif year is not None and self.year_max is not None and year > self.year_max:
            out.append(f"released {year}, after {self.year_max}")
        if item in self.exclude_items:
            out.append("excluded")
        return out

    def allows(self, catalog: Catalog, item: int) -> bool:
        return not self.violations(catalog, item)

    def mask(self, catalog: Catalog, items: np.ndarray | None = None) -> np.ndarray:
        """The ``items`` (default: the whole catalog) that satisfy every constraint, vectorised."""
        items = catalog.item_ids if items is None else np.asarray(items, dtype=np.int64)
        frame = catalog.frame.loc[items]
        keep = np.ones(len(items), dtype=bool)
        genres = frame["genres"].to_numpy()
        if self.genres_all or self.genres_any or self.genres_none:
            need, some, ban = set(self.genres_all), set(self.genres_any), set(self.genres_none)
            keep &= np.fromiter((need <= set(g) and (not some or bool(some & set(g))) and not ban & set(g)
                                 for g in genres), dtype=bool, count=len(items))
        if self.year_min is not None or self.year_max is not None:
            years = frame["year"].to_numpy(dtype="float64", na_value=np.nan)
            keep &= ~np.isnan(years)
            if self.year_min is not None:
                keep &= years >= self.year_min
            if self.year_max is not None:
                keep &= years <= self.year_max
        if self.exclude_items:
            keep &= ~np.isin(items, np.asarray(self.exclude_items, dtype=np.int64))
        return items[keep]

    def describe(self, catalog: Catalog | None = None) -> list[str]:
        """The constraints as short phrases: ``["Comedy", "1990-1999", "no Romance"]``."""
        parts = []
        if self.genres_all:
            parts.append(" and ".join(self.genres_all))
        if self.genres_any:
            parts.append(" or ".join(self.genres_any))
        if self.year_min is not None and self.year_max is not None:
            parts.append(f"{self.year_min}-{self.year_max}" if self.year_min != self.year_max
                         else str(self.year_min))
        elif self.year_min is not None:
            parts.append(f"from {self.year_min} on")
        elif self.year_max is not None:
            parts.append(f"up to {self.year_max}")
        parts.extend(f"no {g}" for g in self.genres_none)
        if self.exclude_items:
            if catalog is not None and len(self.exclude_items) <= 5:
                names = [catalog.short_title(i) if i in catalog else str(i) for i in self.exclude_items]
                parts.append("not " + ", ".join(names))
            else:
                parts.append(f"{len(self.exclude_items)} titles excluded")
        return parts

    def merged(self, other: Constraints) -> Constraints:
        """These constraints and ``other``'s together (a later turn's genres and years win a conflict)."""
        none = set(self.genres_none) | set(other.genres_none)
        all_ = (set(self.genres_all) | set(other.genres_all)) - set(other.genres_none)
        any_ = set(other.genres_any) or set(self.genres_any)
        none -= set(other.genres_all) | set(other.genres_any)
        any_ -= none
        year_min, year_max = self.year_min, self.year_max
        if other.year_min is not None or other.year_max is not None:
            year_min, year_max = other.year_min, other.year_max
        return Constraints(tuple(all_), tuple(any_), tuple(none), year_min, year_max,
                           tuple(set(self.exclude_items) | set(other.exclude_items)))


@dataclass(frozen=True)
class Query:
    """What one request asks: hard constraints, seed items, the soft remainder and what was not understood."""

    constraints: Constraints = field(default_factory=Constraints)
    seeds: tuple[int, ...] = ()  # "like X": recall near these; never returned
    text: str = ""  # the soft remainder, used by recall and the ranking prompt (as data)
    k: int | None = None
    unsupported: tuple[str, ...] = ()  # kinds in UNSUPPORTED_KINDS
    notes: tuple[str, ...] = ()  # how each part was read (for debugging and the eval's LLM share)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(dict.fromkeys(int(i) for i in self.seeds)))
        object.__setattr__(self, "unsupported", _sorted_unique(self.unsupported))
        bad = [u for u in self.unsupported if u not in UNSUPPORTED_KINDS]
        if bad:
            raise ConfigError(f"unsupported kind {bad[0]!r} is not one of {', '.join(UNSUPPORTED_KINDS)}")
        if self.k is not None and (isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1):
            raise ConfigError(f"Query.k must be a positive integer or None, got {self.k!r}")

    def excluded(self) -> set[int]:
        """Items never to return: the excluded ones and the seeds ("like X" never returns X)."""
        return set(self.constraints.exclude_items) | set(self.seeds)

    def interpretation(self, catalog: Catalog | None = None) -> str:
        """How the request was read, in one line: ``"Comedy, 1990-1999, no Romance; like Toy Story"``."""
        parts = self.constraints.describe(catalog)
        text = ", ".join(parts) if parts else "no hard constraints"
        if self.seeds:
            names = [catalog.short_title(i) if catalog is not None and i in catalog else str(i)
                     for i in self.seeds]
            text += "; like " + ", ".join(names)
        if self.k is not None:
            text += f"; {self.k} items"
        if self.unsupported:
            text += "; not understood (the catalog has no " + ", ".join(self.unsupported) + " data)"
        return text

    def to_parse(self) -> dict[str, Any]:
        """The wire form compared by exact match (every field but ``text`` and ``notes``)."""
        c = self.constraints
        return {"genres_all": list(c.genres_all), "genres_any": list(c.genres_any),
                "genres_none": list(c.genres_none), "year_min": c.year_min, "year_max": c.year_max,
                "exclude_items": list(c.exclude_items), "seeds": sorted(self.seeds), "k": self.k,
                "unsupported": list(self.unsupported)}

    @classmethod
    def from_parse(cls, parse: dict[str, Any], text: str = "") -> Query:
        """A query from its wire form (unknown keys are an error naming them)."""
        known = {"genres_all", "genres_any", "genres_none", "year_min", "year_max", "exclude_items", "seeds",
                 "k", "unsupported"}
        unknown = sorted(set(parse) - known)
        if unknown:
            raise ConfigError(f"unknown parse fields {unknown}; known: {sorted(known)}")
        c = Constraints(tuple(parse.get("genres_all", ())), tuple(parse.get("genres_any", ())),
                        tuple(parse.get("genres_none", ())), parse.get("year_min"), parse.get("year_max"),
                        tuple(parse.get("exclude_items", ())))
        return cls(c, tuple(parse.get("seeds", ())), text, parse.get("k"),
                   tuple(parse.get("unsupported", ())))

    def replace(self, **changes: Any) -> Query:
        return dataclasses.replace(self, **changes)
