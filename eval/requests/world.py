"""What the request templates of the conversational benchmark are made of: :class:`World` (the catalog as
templates see it), :class:`Template` and its registry :data:`TEMPLATES`, :class:`Case` (one request with its
true parse), and the helpers the templates write with.  The templates themselves are in the sibling modules;
:mod:`eval.conversation_data` draws the benchmark from them."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from llmrec.converse.query import Constraints, Query, catalog_genres
from llmrec.data import Catalog

__all__ = ["KNOWN_SINGLE", "TEMPLATES", "Case", "Out", "Retry", "Template", "World", "parse_of",
           "pick_genres", "plain_title", "template", "typed_title"]

POOL = 150  # titles are drawn from the most popular items that pass the filters
#: One-word titles distinctive enough to name without the year ("Heat", "Ransom" are not).
KNOWN_SINGLE = {"Fargo", "Casablanca", "Braveheart", "Titanic", "Amadeus", "Gandhi", "Aladdin", "Jaws",
                 "Psycho", "Gattaca", "Trainspotting", "Clueless", "Heathers", "Highlander", "Stargate",
                 "Evita", "Dragonheart", "Aliens", "Twister", "Grease", "GoldenEye"}


@dataclass(frozen=True)
class Case:
    text: str
    parse: dict
    template: str
    family: str
    language: str


Out = tuple[str, dict]  # a request's text and its true parse


@dataclass(frozen=True)
class Template:
    id: str
    family: str
    language: str
    make: Callable[[random.Random, World], Out]


class Retry(Exception):
    """The draw does not fit the catalog (too few matching items, no such title): draw again."""


def parse_of(all: Iterable[str] = (), any: Iterable[str] = (), none: Iterable[str] = (),
             lo: int | None = None, hi: int | None = None, excl: Iterable[int] = (),
             seeds: Iterable[int] = (), k: int | None = None, unsup: Iterable[str] = ()) -> dict[str, Any]:
    """The true parse (wire form) of a request with these constraints, seeds, count and unsupported asks."""
    c = Constraints(tuple(all), tuple(any), tuple(none), lo, hi, tuple(excl))
    return Query(c, tuple(seeds), k=k, unsupported=tuple(unsup)).to_parse()


def typed_title(r: random.Random, name: str, year: int | None) -> str:
    """``name`` as a user might type it: sometimes lower case or with a lower-case "the", sometimes with its
    year."""
    roll = r.random()
    if roll < 0.2:
        name = name.lower()
    elif roll < 0.35 and name.startswith("The "):
        name = "the " + name[4:]
    if r.random() < 0.12 and year is not None:
        name += f" ({year})"
    return name


def plain_title(title: str) -> str:
    """"Independence Day (ID4)" -> "Independence Day": the name a person types."""
    return title.split(" (")[0].strip()


class World:
    """The catalog as templates see it: item genres and years, a pool of popular, unambiguous titles."""

    def __init__(self, catalog: Catalog, popularity: dict[int, int] | None) -> None:
        ids = [int(i) for i in catalog.item_ids]
        self.catalog = catalog
        self.rows = [(i, frozenset(catalog.genres(i)), catalog.year(i)) for i in ids]
        self.genres = catalog_genres(catalog)
        names: dict[str, int] = {}
        for i in ids:
            key = plain_title(catalog.title(i)).casefold()
            names[key] = names.get(key, 0) + 1
        order = sorted(ids, key=lambda i: (-popularity.get(i, 0), i)) if popularity else ids
        self.pool: list[tuple[int, str]] = []
        for i in order:
            name = plain_title(catalog.title(i))
            if (names[name.casefold()] == 1 and not name.casefold().startswith("like ") and len(name) >= 4
                    and (" " in name or name in KNOWN_SINGLE) and len(self.pool) < POOL):
                self.pool.append((i, name))
        self._counts: dict[tuple, int] = {}

    def count(self, p: dict[str, Any]) -> int:
        """How many items satisfy the parse's constraints."""
        key = (tuple(p["genres_all"]), tuple(p["genres_any"]), tuple(p["genres_none"]), p["year_min"],
               p["year_max"], tuple(p["exclude_items"]))
        if key not in self._counts:
            need, some, ban, lo, hi = set(key[0]), set(key[1]), set(key[2]), key[3], key[4]
            self._counts[key] = sum(
                1 for i, g, y in self.rows
                if need <= g and (not some or some & g) and not ban & g and i not in key[5]
                and (lo is None and hi is None or y is not None and (lo is None or y >= lo)
                     and (hi is None or y <= hi)))
        return self._counts[key]

    def need(self, p: dict[str, Any], at_least: int = 3) -> dict[str, Any]:
        """``p``, when at least ``at_least`` (and ``k``) items satisfy it; else draw again."""
        if self.count(p) < max(at_least, p["k"] or 0):
            raise Retry
        return p

    def none(self, p: dict[str, Any]) -> dict[str, Any]:
        """``p``, when no item satisfies it (an impossible request); else draw again."""
        if self.count(p):
            raise Retry
        return p

    def title(self, r: random.Random, genre: str | None = None, plain: bool = False,
              avoid: Iterable[int] = ()) -> tuple[int, str]:
        """A popular title (of ``genre``; without digits if ``plain``), written as a person would."""
        avoid = set(avoid)
        pool = [(i, t) for i, t in self.pool if i not in avoid and not (plain and re.search(r"\d", t))
                and (genre is None or genre in self.catalog.genres(i))]
        if not pool:
            raise Retry
        item, name = r.choice(pool[:60])
        return item, typed_title(r, name, self.catalog.year(item))


TEMPLATES: dict[str, Template] = {}


def template(tid: str, family: str, language: str = "en") -> Callable:
    def register(make: Callable[[random.Random, World], Out]) -> Callable:
        TEMPLATES[tid] = Template(tid, family, language, make)
        return make
    return register


def pick_genres(r: random.Random, w: World, n: int = 1) -> list[str]:
    return r.sample(list(w.genres), n)
