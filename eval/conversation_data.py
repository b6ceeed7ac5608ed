"""Ground truth for the conversational constraint benchmark: requests in plain language, their true parses.

A :class:`Case` is one request (``text``), the parse a correct reader makes of it (``parse``, the wire form of
:meth:`llmrec.converse.query.Query.to_parse`, compared by exact match), the id of the template that wrote it,
its ``family`` (what it tests: ``genre``, ``combined``, ``negation``, ``decade``, ``year``, ``like``,
``seen``, ``impossible``, ``loose``, ``count``, ``unsupported``; every Spanish, French and German request is
``multilingual``) and its ``language`` (``en``, ``es``, ``fr``, ``de``).

    cases = generate(catalog, n=600, seed=0, popularity=counts)  # the benchmark, deterministic per seed
    train_ids, test_ids = split_templates()  # tune a parser on train templates, score it on test ones

The parses follow fixed semantics, written independently of any parser.  A genre word goes to
``genres_all`` (two genres as one kind, "an action comedy": both); alternatives ("a comedy or a drama") to
``genres_any``; negations ("no horror", "anything but westerns") to ``genres_none``.  "The 90s" is
1990-1999; "before 1990" ends at 1989, "after 1990" starts at 1991; "since 1990" / "nothing before 1990"
start at 1990; "up to 1990" / "nothing after 1990" end at 1990; "released in 1995" is 1995-1995.  "Like X"
seeds X; "not X" / "I've seen X" exclude X.  An explicit number of items ("5 movies", "three films") is
``k``; "a couple" is not.  Loose words map through a fixed intent table: kids +Children's; adults no
Animation, Children's; light no Film-Noir, Horror, War; scary / funny / romantic +Horror / +Comedy /
+Romance (negated: none of it); exciting any of Action, Adventure, Thriller; sad +Drama.  What the catalog
cannot express (language, runtime, person, rating, place, platform) is listed in ``unsupported``.  The
``impossible`` family asks for what no catalog item satisfies (checked against the data at each draw).
The words the templates write with (genres in four languages, decades, numbers, frames) are in
:mod:`eval.conversation_lexicon`.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from eval import conversation_lexicon as lx
from llmrec.converse.query import Constraints, Query, catalog_genres
from llmrec.data import Catalog

__all__ = ["FAMILIES", "LANGUAGES", "TEMPLATES", "Case", "Template", "generate", "halve_groups",
           "split_templates", "validate", "validate_parse"]

LANGUAGES = ("en", "es", "fr", "de")
FAMILIES = ("genre", "combined", "negation", "decade", "year", "like", "seen", "impossible", "loose",
            "count", "unsupported", "multilingual")
#: Share of the benchmark per family (``multilingual`` spreads evenly over es, fr and de).
_WEIGHTS = {"genre": 45, "combined": 50, "negation": 50, "decade": 45, "year": 50, "like": 45, "seen": 40,
            "impossible": 50, "loose": 70, "count": 40, "unsupported": 50, "multilingual": 125}
_POOL = 150  # titles are drawn from the most popular items that pass the filters
#: One-word titles distinctive enough to name without the year ("Heat", "Ransom" are not).
_KNOWN_SINGLE = {"Fargo", "Casablanca", "Braveheart", "Titanic", "Amadeus", "Gandhi", "Aladdin", "Jaws",
                 "Psycho", "Gattaca", "Trainspotting", "Clueless", "Heathers", "Highlander", "Stargate",
                 "Evita", "Dragonheart", "Aliens", "Twister", "Grease", "GoldenEye"}


@dataclass(frozen=True)
class Case:
    text: str
    parse: dict
    template: str
    family: str
    language: str


_Out = tuple[str, dict]


@dataclass(frozen=True)
class Template:
    id: str
    family: str
    language: str
    make: Callable[[random.Random, _World], _Out]


class _Retry(Exception):
    """The draw does not fit the catalog (too few matching items, no such title): draw again."""


def _parse(all: Iterable[str] = (), any: Iterable[str] = (), none: Iterable[str] = (), lo: int | None = None,
           hi: int | None = None, excl: Iterable[int] = (), seeds: Iterable[int] = (), k: int | None = None,
           unsup: Iterable[str] = ()) -> dict[str, Any]:
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


def _plain_title(title: str) -> str:
    """"Independence Day (ID4)" -> "Independence Day": the name a person types."""
    return title.split(" (")[0].strip()


class _World:
    """The catalog as templates see it: item genres and years, a pool of popular, unambiguous titles."""

    def __init__(self, catalog: Catalog, popularity: dict[int, int] | None) -> None:
        ids = [int(i) for i in catalog.item_ids]
        self.catalog = catalog
        self.rows = [(i, frozenset(catalog.genres(i)), catalog.year(i)) for i in ids]
        self.genres = catalog_genres(catalog)
        names: dict[str, int] = {}
        for i in ids:
            key = _plain_title(catalog.title(i)).casefold()
            names[key] = names.get(key, 0) + 1
        order = sorted(ids, key=lambda i: (-popularity.get(i, 0), i)) if popularity else ids
        self.pool: list[tuple[int, str]] = []
        for i in order:
            name = _plain_title(catalog.title(i))
            if (names[name.casefold()] == 1 and not name.casefold().startswith("like ") and len(name) >= 4
                    and (" " in name or name in _KNOWN_SINGLE) and len(self.pool) < _POOL):
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
            raise _Retry
        return p

    def none(self, p: dict[str, Any]) -> dict[str, Any]:
        """``p``, when no item satisfies it (an impossible request); else draw again."""
        if self.count(p):
            raise _Retry
        return p

    def title(self, r: random.Random, genre: str | None = None, plain: bool = False,
              avoid: Iterable[int] = ()) -> tuple[int, str]:
        """A popular title (of ``genre``; without digits if ``plain``), written as a person would."""
        avoid = set(avoid)
        pool = [(i, t) for i, t in self.pool if i not in avoid and not (plain and re.search(r"\d", t))
                and (genre is None or genre in self.catalog.genres(i))]
        if not pool:
            raise _Retry
        item, name = r.choice(pool[:60])
        return item, typed_title(r, name, self.catalog.year(item))


TEMPLATES: dict[str, Template] = {}
_C, _R, _A, _D = "Comedy", "Romance", "Action", "Drama"  # short names for the templates' parses


def _t(tid: str, family: str, language: str = "en") -> Callable:
    def register(make: Callable[[random.Random, _World], _Out]) -> Callable:
        TEMPLATES[tid] = Template(tid, family, language, make)
        return make
    return register


def _genres(r: random.Random, w: _World, n: int = 1) -> list[str]:
    return r.sample(list(w.genres), n)



# ---- English --------------------------------------------------------------------------------------------

@_t("en.genre.single", "genre")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    return lx.say(r, "en", lx.fill(r, "en", "{s}", g)), _parse(all=g)


@_t("en.genre.plural", "genre")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    return lx.cap(lx.fill(r, "en", "show me some {p}|any good {p}?|I'd like to watch {p}|got any {p}?", g)), \
        _parse(all=g)


@_t("en.genre.any", "genre")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 2)
    x = lx.fill(r, "en", "{s} or {s2}|either {s} or {s2}|{s} or maybe {s2}", g)
    return lx.say(r, "en", x), _parse(any=g)


@_t("en.genre.keyword", "genre")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    return lx.fill(r, "en", "{p}|{b}?|{b} pls|{p}, go|hmm, {b}|{p}!!", g), _parse(all=g)


@_t("en.combined.compound", "combined")
def _(r: random.Random, w: _World) -> _Out:
    x, g = r.choice(lx.COMPOUNDS["en"])
    return lx.say(r, "en", lx.pick(r, x)), w.need(_parse(all=g))


@_t("en.combined.both", "combined")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 2)
    x = lx.fill(r, "en", "something that's both {b} and {b2}|{b} and {b2} in one movie|a mix of {b} and {b2}|"
                       "a movie with {b} and {b2}", g)
    return lx.say(r, "en", x), w.need(_parse(all=g))


@_t("en.combined.genre_decade_none", "combined")
def _(r: random.Random, w: _World) -> _Out:
    g, d = _genres(r, w, 2), lx.decade(r)
    x = lx.fill(r, "en", "{s} {d} with no {b2}|{s} {d}, but no {b2}|{s} {d} without {b2}", g,
              d=lx.dec(r, "en", d))
    return lx.say(r, "en", x), w.need(_parse(all=g[:1], none=g[1:], lo=d, hi=d + 9))


@_t("en.combined.any_none", "combined")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 3)
    x = lx.fill(r, "en", "{s} or {s2}, but nothing with {b3}|{s} or {s2} without {b3}|"
                       "either {s} or {s2}, no {b3}", g)
    return lx.say(r, "en", x), w.need(_parse(any=g[:2], none=g[2:]))


@_t("en.combined.compound_year", "combined")
def _(r: random.Random, w: _World) -> _Out:
    (x, g), y = r.choice(lx.COMPOUNDS["en"]), r.randrange(1975, 1996)
    rel, p = r.choice((("after", _parse(all=g, lo=y + 1)), ("before", _parse(all=g, hi=y - 1)),
                       ("released since", _parse(all=g, lo=y))))
    return lx.say(r, "en", f"{lx.pick(r, x)} {rel} {y}"), w.need(p)


@_t("en.negation.only", "negation")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    x = lx.fill(r, "en", "anything but {p}|no {b} please|nothing with {b}|something that's not {s}|"
                       "I don't want {s}|a movie without {b}", g)
    return lx.cap(x), _parse(none=g)


@_t("en.negation.two", "negation")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 2)
    x = lx.fill(r, "en", "no {b} and no {b2}|nothing with {b} or {b2}|something without {b} or {b2}|"
                       "anything except {p} and {p2}", g)
    return lx.cap(x), _parse(none=g)


@_t("en.negation.with_genre", "negation")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 2)
    p = _parse(all=g[:1], none=g[1:])
    if w.count(p) == w.count(_parse(all=g[:1])):
        raise _Retry  # the negation would change nothing
    x = lx.fill(r, "en", "{s}, but not {s2}|{s} without {b2}|{s} with no {b2} in it|{s}, nothing with {b2}",
                g)
    return lx.say(r, "en", x), w.need(p)


@_t("en.negation.no_more", "negation")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 2)
    if r.random() < 0.5:
        x = lx.fill(r, "en", "no more {p}, something else|no more {p}! I need a change", g)
        return lx.cap(x), _parse(none=g[:1])
    x = lx.fill(r, "en", "no more {p}, give me {s2}|no more {p}; how about {s2}?|no more {p}, I want {s2}", g)
    return lx.cap(x), w.need(_parse(all=g[1:], none=g[:1]))


@_t("en.decade.number", "decade")
def _(r: random.Random, w: _World) -> _Out:
    g, d = _genres(r, w), lx.decade(r)
    return lx.say(r, "en", lx.fill(r, "en", "{s} {d}", g, d=lx.dec(r, "en", d, "num"))), \
        w.need(_parse(all=g, lo=d, hi=d + 9))


@_t("en.decade.word", "decade")
def _(r: random.Random, w: _World) -> _Out:
    g, d = _genres(r, w), lx.decade(r)
    return lx.say(r, "en", lx.fill(r, "en", "{s} {d}|{p} {d}", g, d=lx.dec(r, "en", d, "word"))), \
        w.need(_parse(all=g, lo=d, hi=d + 9))


@_t("en.decade.only", "decade")
def _(r: random.Random, w: _World) -> _Out:
    d = lx.decade(r)
    x = lx.fill(r, "en", "a movie {d}|something {d}|anything {d}|a film {d}", d=lx.dec(r, "en", d))
    return lx.say(r, "en", x), _parse(lo=d, hi=d + 9)


@_t("en.decade.adjective", "decade")
def _(r: random.Random, w: _World) -> _Out:
    g, d = _genres(r, w), lx.decade(r)
    x = lx.fill(r, "en", "some {d} {p}|{d} {p}|good {d} {p}", g, d=lx.pick(r, f"{d % 100}s|{d}s|'{d % 100}s"))
    return lx.cap(x), w.need(_parse(all=g, lo=d, hi=d + 9))


def _year(r: random.Random, w: _World, pattern: str, y: int, lo: int | None, hi: int | None) -> _Out:
    g = _genres(r, w)
    return lx.say(r, "en", lx.fill(r, "en", pattern, g, y=y)), w.need(_parse(all=g, lo=lo, hi=hi))


@_t("en.year.before", "year")
def _(r: random.Random, w: _World) -> _Out:
    y = r.randrange(1950, 1996)
    return _year(r, w, "{s} before {y}|{s} older than {y}|{s} earlier than {y}|{s} made before {y}",
                 y, None, y - 1)


@_t("en.year.after", "year")
def _(r: random.Random, w: _World) -> _Out:
    y = r.randrange(1960, 1996)
    return _year(r, w, "{s} after {y}|{s} newer than {y}|{s} released after {y}|{s} that came out after {y}",
                 y, y + 1, None)


@_t("en.year.since", "year")
def _(r: random.Random, w: _World) -> _Out:
    y = r.randrange(1960, 1997)
    return _year(r, w, "{s}, nothing before {y}|{s}, {y} or later|{s} since {y}|{s} from {y} on|"
                       "{s} from {y} onwards", y, y, None)


@_t("en.year.up_to", "year")
def _(r: random.Random, w: _World) -> _Out:
    y = r.randrange(1950, 1997)
    return _year(r, w, "{s}, nothing after {y}|{s} up to {y}|{s}, {y} or earlier|{s} released up to {y}",
                 y, None, y)


@_t("en.year.between", "year")
def _(r: random.Random, w: _World) -> _Out:
    g, a = _genres(r, w), r.randrange(1940, 1992)
    b = r.randrange(a + 2, min(a + 15, 1998))
    x = lx.fill(r, "en", "{s} between {y1} and {y2}|{s} from {y1} to {y2}|{s} released between {y1} and {y2}",
              g, y1=a, y2=b)
    return lx.say(r, "en", x), w.need(_parse(all=g, lo=a, hi=b))


@_t("en.year.exact", "year")
def _(r: random.Random, w: _World) -> _Out:
    y = r.randrange(1970, 1998)
    return _year(r, w, "{s} released in {y}|{s} from {y}|{s} that came out in {y}|a {y} {n}", y, y, y)


@_t("en.like.plain", "like")
def _(r: random.Random, w: _World) -> _Out:
    i, t = w.title(r)
    x = lx.pick(r, ("something like {t}", "movies similar to {t}", "something in the vein of {t}",
                  "more like {t}", "anything similar to {t}?", "a movie like {t}"))
    return lx.cap(x.format(t=t)), _parse(seeds=[i])


@_t("en.like.genre", "like")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    i, t = w.title(r, genre=g[0])
    x = lx.fill(r, "en", "{s} like {t}|{s} similar to {t}|{s} in the vein of {t}", g, t=t)
    return lx.say(r, "en", x), _parse(all=g, seeds=[i])


@_t("en.like.decade", "like")
def _(r: random.Random, w: _World) -> _Out:
    (i, t), d = w.title(r), lx.decade(r)
    x = lx.fill(r, "en", "something like {t} but {d}|like {t}, only {d}|similar to {t} but {d}", t=t,
              d=lx.dec(r, "en", d))
    return lx.cap(x), w.need(_parse(lo=d, hi=d + 9, seeds=[i]))


@_t("en.like.two", "like")
def _(r: random.Random, w: _World) -> _Out:
    i, t = w.title(r)
    j, u = w.title(r, avoid=[i])
    x = lx.fill(r, "en", "like {t} or {u}|similar to {t} and {u}|something like {t} and {u}|"
                       "in the vein of {t} or {u}", t=t, u=u)
    return lx.cap(x), _parse(seeds=[i, j])


@_t("en.like.but_no", "like")
def _(r: random.Random, w: _World) -> _Out:
    i, t = w.title(r)
    g = [r.choice(w.catalog.genres(i) or w.genres)]
    x = lx.fill(r, "en", "like {t} but without {b}|similar to {t}, no {b} though|"
                       "something like {t} minus the {b}|like {t} but with no {b}", g, t=t)
    return lx.cap(x), w.need(_parse(none=g, seeds=[i]))


@_t("en.seen.plain", "seen")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    i, t = w.title(r, genre=g[0])
    ask = lx.say(r, "en", lx.fill(r, "en", "{s}", g))
    x = lx.pick(r, ("I've already seen {t}, {a}", "I saw {t} last week. {A}", "already seen {t}; {a}"))
    return lx.cap(x.format(t=t, a=lx.low(ask), A=ask)), _parse(all=g, excl=[i])


@_t("en.seen.not", "seen")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    i, t = w.title(r, genre=g[0])
    x = lx.fill(r, "en", "{s}, but not {t}|{s} - not {t} though|{s}, just not {t}", g, t=t)
    return lx.say(r, "en", x), _parse(all=g, excl=[i])


@_t("en.seen.list", "seen")
def _(r: random.Random, w: _World) -> _Out:
    i, t = w.title(r)
    j, u = w.title(r, avoid=[i])
    x = lx.fill(r, "en", "I've seen {t} and {u} already, what else?|"
                "I already saw {t} and {u}. Something else?|seen {t}, seen {u}... what now?", t=t, u=u)
    return lx.cap(x), _parse(excl=[i, j])


@_t("en.seen.like_seen", "seen")
def _(r: random.Random, w: _World) -> _Out:
    i, t = w.title(r)
    j, u = w.title(r, avoid=[i])
    x = lx.fill(r, "en", "something like {t}, but I've already seen {u}|like {t} - I saw {u} already|"
                       "more like {t}; not {u}, I've seen it", t=t, u=u)
    return lx.cap(x), _parse(seeds=[i], excl=[j])


@_t("en.seen.other_than", "seen")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    i, t = w.title(r, genre=g[0])
    x = lx.fill(r, "en", "any {n} other than {t}?|{p} other than {t}|a good {n} other than {t}", g, t=t)
    return lx.cap(x), _parse(all=g, excl=[i])


@_t("en.impossible.pair", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    g = sorted(_genres(r, w, 2), key=lambda g: (g not in lx.EN_MOD, r.random()))
    p = w.none(_parse(all=g))
    if g[0] in lx.EN_MOD and r.random() < 0.6:
        return lx.say(r, "en", lx.an(f"{lx.pick(r, lx.EN_MOD[g[0]])} {lx.fill(r, 'en', '{n}', g[1:])}")), p
    x = lx.fill(r, "en", "{s} that is also {s2}|something that's {b} and {b2} at once", g)
    return lx.say(r, "en", x), p


@_t("en.impossible.triple", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 3)
    pairs_exist = all(w.count(_parse(all=[a, b])) for a in g for b in g)
    if g[0] not in lx.EN_MOD or g[1] not in lx.EN_MOD or not pairs_exist:
        raise _Retry  # every two of them exist together, only the three do not
    x = lx.an(f"{lx.pick(r, lx.EN_MOD[g[0]])} {lx.pick(r, lx.EN_MOD[g[1]])} {lx.fill(r, 'en', '{n}', g[2:])}")
    return lx.say(r, "en", x), w.none(_parse(all=g))


@_t("en.impossible.genre_decade", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    g, d = _genres(r, w), r.choice(lx.OLD_DECADES)
    p = w.none(_parse(all=g, lo=d, hi=d + 9))
    return lx.say(r, "en", lx.fill(r, "en", "{s} {d}", g, d=lx.dec(r, "en", d))), p


@_t("en.impossible.compound_decade", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    (x, g), d = r.choice(lx.COMPOUNDS["en"]), r.choice(lx.OLD_DECADES)
    return lx.say(r, "en", f"{lx.pick(r, x)} {lx.dec(r, 'en', d)}"), w.none(_parse(all=g, lo=d, hi=d + 9))


@_t("en.impossible.future", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    g, y = _genres(r, w), r.randrange(2000, 2016)
    rel, lo, hi = r.choice((("from the 2000s", 2000, 2009), (f"released after {y}", y + 1, None),
                            (f"released in {y}", y, y), (f"newer than {y}", y + 1, None),
                            (f"since {y}", y, None)))
    return lx.say(r, "en", lx.fill(r, "en", "{s} {rel}", g, rel=rel)), w.none(_parse(all=g, lo=lo, hi=hi))


@_t("en.impossible.compound_year", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    (x, g), y = r.choice(lx.COMPOUNDS["en"]), r.randrange(1930, 1980)
    rel, p = r.choice((("made before", _parse(all=g, hi=y - 1)), ("older than", _parse(all=g, hi=y - 1)),
                       ("from", _parse(all=g, lo=y, hi=y)), ("released in", _parse(all=g, lo=y, hi=y))))
    return lx.say(r, "en", f"{lx.pick(r, x)} {rel} {y}"), w.none(p)


@_t("en.loose.kids", "loose")
def _(r: random.Random, w: _World) -> _Out:
    x = lx.fill(r, "en", "something for my kids|a movie my {n}-year-old can watch|family movie night, ideas?|"
                       "something the whole family can watch|what can I put on for the kids?",
              n=r.randrange(4, 11))
    return lx.cap(x), _parse(all=["Children's"])


@_t("en.loose.adults", "loose")
def _(r: random.Random, w: _World) -> _Out:
    g = [r.choice([g for g in w.genres if g not in lx.KIDS])]
    x = lx.fill(r, "en", "{s} for adults|{s}, something grown-up|{s}, not for kids|a grown-up {n}", g)
    return lx.say(r, "en", x), w.need(_parse(all=g, none=lx.KIDS))


@_t("en.loose.light", "loose")
def _(r: random.Random, w: _World) -> _Out:
    if r.random() < 0.4:
        x = lx.pick(r, "something light|a feel-good movie|something lighthearted|easy watching please")
        return lx.cap(x), _parse(none=lx.LIGHT)
    g, d = [r.choice((_C, _R, "Adventure", "Musical", _D))], lx.decade(r)
    if r.random() < 0.3:
        return lx.cap(f"something light {lx.dec(r, 'en', d)}"), w.need(_parse(none=lx.LIGHT, lo=d, hi=d + 9))
    x = lx.fill(r, "en", "a feel-good {n} {d}|a lighthearted {n} {d}|{s}, something light, {d}", g,
              d=lx.dec(r, "en", d))
    return lx.cap(x), w.need(_parse(all=g, none=lx.LIGHT, lo=d, hi=d + 9))


@_t("en.loose.scary", "loose")
def _(r: random.Random, w: _World) -> _Out:
    x = lx.pick(r, "something scary|something spooky|a creepy movie|something to give me nightmares|"
                 "a really scary one")
    if r.random() < 0.5:
        return lx.cap(x), _parse(all=["Horror"])
    d = lx.decade(r)
    return lx.cap(f"{x} {lx.dec(r, 'en', d)}"), w.need(_parse(all=["Horror"], lo=d, hi=d + 9))


@_t("en.loose.negated", "loose")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    neg, ban = r.choice((("nothing too scary", "Horror"), ("not too scary", "Horror"),
                         ("nothing scary", "Horror"), ("nothing romantic", _R), ("no love stories", _R),
                         ("nothing funny", _C)))
    if g[0] == ban:
        raise _Retry
    return lx.cap(lx.fill(r, "en", "{s}, {neg}|{s} but {neg} please|{neg} - {s}", g, neg=neg)), \
        w.need(_parse(all=g, none=[ban]))


@_t("en.loose.funny", "loose")
def _(r: random.Random, w: _World) -> _Out:
    if r.random() < 0.4:
        x = lx.pick(r, "something funny|make me laugh|something hilarious|I need a laugh, something funny")
        return lx.cap(x), _parse(all=[_C])
    g = [r.choice((_A, "Sci-Fi", "Western", "Horror", "Crime", _R, _D, "War", "Musical"))]
    x = lx.fill(r, "en", "a funny {n}|a hilarious {n}|{s} that makes me laugh", g)
    return lx.say(r, "en", x), w.need(_parse(all=[*g, _C]))


@_t("en.loose.romantic", "loose")
def _(r: random.Random, w: _World) -> _Out:
    if r.random() < 0.5:
        x = lx.pick(r, "something romantic|date night movie?|a love story|something for date night")
        return lx.cap(x), _parse(all=[_R])
    g = [r.choice((_C, _D, "War", "Musical", "Thriller", _A))]
    x = lx.fill(r, "en", "a romantic {n}|{s} for date night|{s} with a love story", g)
    return lx.say(r, "en", x), w.need(_parse(all=[*g, _R]))


@_t("en.loose.exciting", "loose")
def _(r: random.Random, w: _World) -> _Out:
    if r.random() < 0.5:
        x = lx.pick(r, "something exciting|keep me on the edge of my seat|something thrilling|"
                     "I need some adrenaline|an exciting movie")
        return lx.cap(x), _parse(any=lx.EXCITING)
    x = lx.pick(r, "something exciting|something thrilling|an exciting movie|a thrilling movie")
    d = lx.decade(r)
    return lx.cap(f"{x} {lx.dec(r, 'en', d)}"), w.need(_parse(any=lx.EXCITING, lo=d, hi=d + 9))


@_t("en.loose.sad", "loose")
def _(r: random.Random, w: _World) -> _Out:
    x = lx.pick(r, "a tearjerker|something that makes me cry|something sad|a sad movie")
    if r.random() < 0.5:
        return lx.say(r, "en", x), _parse(all=[_D])
    g = [r.choice((_R, "War", "Musical", _C))]
    return lx.cap(lx.fill(r, "en", "{x}, {s}|{x} - {s} ideally", g, x=x)), w.need(_parse(all=[_D, *g]))


@_t("en.loose.mixed", "loose")
def _(r: random.Random, w: _World) -> _Out:
    x, p = r.choice((("something funny for the kids", _parse(all=["Children's", _C])),
                     ("a scary movie for adults", _parse(all=["Horror"], none=lx.KIDS)),
                     ("something exciting but not too scary", _parse(any=lx.EXCITING, none=["Horror"])),
                     ("something light and romantic", _parse(all=[_R], none=lx.LIGHT)),
                     ("a feel-good movie that makes me laugh", _parse(all=[_C], none=lx.LIGHT)),
                     ("date night, but nothing scary", _parse(all=[_R], none=["Horror"])),
                     ("something sad but not romantic", _parse(all=[_D], none=[_R])),
                     ("family movie night, something exciting", _parse(all=["Children's"], any=lx.EXCITING)),
                     ("a grown-up movie that makes me cry", _parse(all=[_D], none=lx.KIDS))))
    return lx.cap(x + r.choice(lx.SOFT["en"])), w.need(p)


@_t("en.count.digits", "count")
def _(r: random.Random, w: _World) -> _Out:
    g, k = _genres(r, w), r.randrange(2, 21)
    x = lx.fill(r, "en", "give me {k} {p}|{k} {p} please|recommend {k} {p}|list {k} {p}", g, k=k)
    return lx.cap(x), w.need(_parse(all=g, k=k))


@_t("en.count.words", "count")
def _(r: random.Random, w: _World) -> _Out:
    g, k = _genres(r, w, 2), r.randrange(2, 13)
    x = lx.fill(r, "en", "give me {k} {p} without {b2}|{k} {p}, no {b2}|I want {k} {p} but no {b2}", g,
              k=lx.NUMBERS["en"][k - 1])
    return lx.cap(x), w.need(_parse(all=g[:1], none=g[1:], k=k))


@_t("en.count.top", "count")
def _(r: random.Random, w: _World) -> _Out:
    g, k, d = _genres(r, w), r.randrange(3, 11), lx.decade(r)
    x = lx.fill(r, "en", "top {k} {p} {d}|your top {k} {p} {d}|the {k} best {p} {d}", g, k=k,
              d=lx.dec(r, "en", d))
    return lx.cap(x), w.need(_parse(all=g, lo=d, hi=d + 9, k=k))


@_t("en.count.like", "count")
def _(r: random.Random, w: _World) -> _Out:
    (i, t), k = w.title(r, plain=True), r.randrange(1, 11)
    if k == 1:
        x = lx.fill(r, "en", "one movie like {t}|just one film similar to {t}", t=t)
        return lx.cap(x), _parse(seeds=[i], k=1)
    x = lx.fill(r, "en", "{k} movies like {t}|{k} films similar to {t}|give me {k} more like {t}", t=t,
              k=str(k) if r.random() < 0.5 else lx.NUMBERS["en"][k - 1])
    return lx.cap(x), _parse(seeds=[i], k=k)


@_t("en.count.vague", "count")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    x = lx.fill(r, "en", "a couple of {p}|a few {p}|some {p}|a handful of {p}|several {p}", g)
    return lx.say(r, "en", x), _parse(all=g)


def _unsup(r: random.Random, n: int = 1) -> tuple[list[str], list[str]]:
    kinds = r.sample(sorted(lx.UNSUPPORTED), n)
    return kinds, [r.choice(lx.UNSUPPORTED[k]) for k in kinds]


@_t("en.unsupported.one", "unsupported")
def _(r: random.Random, w: _World) -> _Out:
    g, (kinds, (u,)) = _genres(r, w), _unsup(r)
    return lx.say(r, "en", lx.fill(r, "en", "{s} {u}", g, u=u)), _parse(all=g, unsup=kinds)


@_t("en.unsupported.two", "unsupported")
def _(r: random.Random, w: _World) -> _Out:
    g, (kinds, (u, v)) = _genres(r, w), _unsup(r, 2)
    x = lx.fill(r, "en", "{s} {u} and {v}|{s} {u}, {v}", g, u=u, v=v)
    return lx.say(r, "en", x), _parse(all=g, unsup=kinds)


@_t("en.unsupported.only", "unsupported")
def _(r: random.Random, w: _World) -> _Out:
    kinds, (u,) = _unsup(r)
    x = lx.fill(r, "en", "anything {u}|what's good {u}?|a movie {u}|something {u}", u=u)
    return lx.cap(x), _parse(unsup=kinds)


@_t("en.unsupported.decade", "unsupported")
def _(r: random.Random, w: _World) -> _Out:
    g, d, (kinds, (u,)) = _genres(r, w), lx.decade(r), _unsup(r)
    x = lx.fill(r, "en", "{s} {d} {u}|{s} {u}, {d}", g, u=u, d=lx.dec(r, "en", d))
    return lx.say(r, "en", x), w.need(_parse(all=g, lo=d, hi=d + 9, unsup=kinds))


@_t("en.unsupported.like", "unsupported")
def _(r: random.Random, w: _World) -> _Out:
    (i, t), (kinds, (u,)) = w.title(r), _unsup(r)
    x = lx.fill(r, "en", "something like {t} {u}|similar to {t}, {u}|like {t} but {u}", t=t, u=u)
    return lx.cap(x), _parse(seeds=[i], unsup=kinds)


# ---- Spanish, French, German (family "multilingual") ----------------------------------------------------

#: Per language: alternatives, before / after / since a year, "like X", "I've seen X", asking for k, please.
_ML = {
    "es": ("{s} o {s2}|o {s} o {s2}", "anterior a {y}|antes de {y}", "posterior a {y}|después de {y}",
           "de {y} en adelante|desde {y}",
           "algo parecido a {t}|una película como {t}|algo en la línea de {t}", "ya vi {u}",
           "Dame {k} {p}|Recomiéndame {k} {p}|{k} {p}, por favor", ", por favor", "Algo {d}, {b}"),
    "fr": ("{s} ou {s2}|soit {s} soit {s2}", "d'avant {y}|qui date d'avant {y}",
           "d'après {y}|qui date d'après {y}",
           "à partir de {y}|depuis {y}", "un film comme {t}|quelque chose dans le style de {t}",
           "j'ai déjà vu {u}", "Donne-moi {k} {p}|Propose-moi {k} {p}|{k} {p}, s'il te plaît",
           ", s'il te plaît", "Un film {d}, {b}"),
    "de": ("{s} oder {s2}|entweder {s} oder {s2}", "aus der Zeit vor {y}|von vor {y}",
           "neuer als {y}|, nach {y} erschienen", "ab {y}|ab dem Jahr {y}",
           "etwas wie {t}|einen Film ähnlich wie {t}|so was wie {t}", "{u} habe ich schon gesehen",
           "Nenn mir {k} {p}|Gib mir {k} {p}|{k} {p}, bitte", ", bitte", "Irgendwas {d}, aber {b}"),
}


def _multilingual(lang: str) -> None:
    alt, before, after, since, like, seen, counted, please, neg_decade = _ML[lang]

    @_t(f"{lang}.genre", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g = _genres(r, w)
        return lx.say(r, lang, lx.fill(r, lang, "{s}", g)), _parse(all=g)

    @_t(f"{lang}.decade", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g, d = _genres(r, w), lx.decade(r)
        x = lx.fill(r, lang, "{s} {d}", g, d=lx.dec(r, lang, d))
        return lx.say(r, lang, x), w.need(_parse(all=g, lo=d, hi=d + 9))

    @_t(f"{lang}.decade_none", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g, d = _genres(r, w, 2), lx.decade(r)
        x = lx.fill(r, lang, {"es": "{s} {d} {b2}|{s} {d}, {b2}", "fr": "{s} {d}, {b2}",
                            "de": "{s} {d}, {b2}|{s} {d}, aber {b2}"}[lang], g, d=lx.dec(r, lang, d))
        return lx.say(r, lang, x), w.need(_parse(all=g[:1], none=g[1:], lo=d, hi=d + 9))

    @_t(f"{lang}.negation", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g, d = _genres(r, w), lx.decade(r)
        if r.random() < 0.5:
            return lx.cap(lx.fill(r, lang, "{b}" + please, g)), _parse(none=g)
        x = lx.fill(r, lang, neg_decade, g, d=lx.dec(r, lang, d))
        return lx.cap(x), w.need(_parse(none=g, lo=d, hi=d + 9))

    @_t(f"{lang}.compound", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        x, g = r.choice(lx.COMPOUNDS[lang])
        return lx.say(r, lang, x), w.need(_parse(all=g))

    @_t(f"{lang}.any", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g = _genres(r, w, 2)
        return lx.say(r, lang, lx.fill(r, lang, alt, g)), _parse(any=g)

    @_t(f"{lang}.year", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g, y = _genres(r, w), r.randrange(1960, 1996)
        rel, p = r.choice(((before, _parse(all=g, hi=y - 1)), (after, _parse(all=g, lo=y + 1)),
                           (since, _parse(all=g, lo=y))))
        return lx.say(r, lang, lx.fill(r, lang, "{s} " + lx.pick(r, rel), g, y=y)), w.need(p)

    @_t(f"{lang}.count", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g, k = _genres(r, w), r.randrange(2, 11)
        x = lx.fill(r, lang, counted, g, k=lx.NUMBERS[lang][k - 1] if r.random() < 0.6 else k)
        return lx.cap(x), w.need(_parse(all=g, k=k))

    @_t(f"{lang}.like", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        i, t = w.title(r)
        if r.random() < 0.5:
            return lx.cap(lx.fill(r, lang, like, t=t)), _parse(seeds=[i])
        j, u = w.title(r, avoid=[i])
        return lx.cap(lx.fill(r, lang, like, t=t) + ", " + seen.format(u=u)), _parse(seeds=[i], excl=[j])


for _lang in ("es", "fr", "de"):
    _multilingual(_lang)


# ---- the benchmark --------------------------------------------------------------------------------------

def split_templates(seed: int = 0) -> tuple[set[str], set[str]]:
    """Template ids to train on and to test on: each (family, language) group is halved at random (an odd
    group's extra template goes to either side in turn), so both halves cover every family and language."""
    return halve_groups(TEMPLATES.values(), str(seed))


def halve_groups(templates: Iterable[Any], salt: str) -> tuple[set[str], set[str]]:
    """Template ids (``.id``) halved within each (``.family``, ``.language``) group by a shuffle seeded with
    ``salt`` and the group; an odd group's extra template goes to either side in turn."""
    groups: dict[tuple[str, str], list[str]] = {}
    for t in templates:
        groups.setdefault((t.family, t.language), []).append(t.id)
    train: set[str] = set()
    test: set[str] = set()
    extra_to_train = True
    for key in sorted(groups):
        ids = sorted(groups[key])
        random.Random(f"{salt}/{key[0]}/{key[1]}").shuffle(ids)
        cut = len(ids) // 2 + (len(ids) % 2 if extra_to_train else 0)
        extra_to_train ^= bool(len(ids) % 2)
        train.update(ids[:cut])
        test.update(ids[cut:])
    return train, test


def generate(catalog: Catalog, n: int = 600, seed: int = 0, split: str = "all",
             popularity: dict[int, int] | None = None) -> list[Case]:
    """``n`` distinct requests from the templates of ``split`` ("all", "train" or "test"), families in the
    shares of ``_WEIGHTS``, a family's templates used in turn.  Deterministic for a seed and catalog."""
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    ids = set(TEMPLATES) if split == "all" else split_templates(seed)[0 if split == "train" else 1]
    world = _World(catalog, popularity)
    by_family: dict[str, list[Template]] = {}
    for tid in sorted(ids):
        by_family.setdefault(TEMPLATES[tid].family, []).append(TEMPLATES[tid])
    total = sum(_WEIGHTS[f] for f in by_family)
    shares = {f: n * _WEIGHTS[f] / total for f in sorted(by_family)}
    quota = {f: math.floor(s) for f, s in shares.items()}
    for f in sorted(shares, key=lambda f: (quota[f] - shares[f], f))[: n - sum(quota.values())]:
        quota[f] += 1
    cases: list[Case] = []
    seen: set[str] = set()
    for family, templates in sorted(by_family.items()):
        made = 0
        for j in range(60 * quota[family] + 60):
            if made == quota[family]:
                break
            t = templates[j % len(templates)]
            r = random.Random(f"{seed}/{t.id}/{j}")
            for _attempt in range(50):
                try:
                    text, parse = t.make(r, world)
                except _Retry:
                    continue
                text = re.sub(r" +([,;.!])", r"\1", re.sub(r"\s+", " ", text)).strip()
                if text.casefold() not in seen:
                    seen.add(text.casefold())
                    cases.append(Case(text, parse, t.id, t.family, t.language))
                    made += 1
                    break
        if made < quota[family]:
            raise RuntimeError(f"only {made} distinct {family!r} requests of {quota[family]} (seed {seed})")
    random.Random(f"{seed}/order").shuffle(cases)
    return cases


def validate(case: Case, catalog: Catalog) -> None:
    """Raise ValueError unless ``case`` is well-formed: text, a known template, family and language, and a
    parse that passes :func:`validate_parse`."""
    if not case.text.strip():
        raise ValueError("empty request text")
    if case.language not in LANGUAGES or case.family not in FAMILIES:
        raise ValueError(f"unknown language {case.language!r} or family {case.family!r}")
    template = TEMPLATES.get(case.template)
    if template is None or (template.family, template.language) != (case.family, case.language):
        raise ValueError(f"template {case.template!r} is unknown or of another family or language")
    validate_parse(case.parse, catalog)


def validate_parse(parse: dict[str, Any], catalog: Catalog) -> None:
    """Raise ValueError (or ConfigError) unless ``parse`` is its own normal form (every field, lists sorted,
    through :meth:`Query.from_parse`), names only the catalog's genres and items, and asks for 1..20 items."""
    fields = set(Query().to_parse())
    if set(parse) != fields:
        raise ValueError(f"parse fields {sorted(parse)} are not {sorted(fields)}")
    query = Query.from_parse(parse)
    if query.to_parse() != parse:
        raise ValueError(f"parse is not in normal form: {parse} vs {query.to_parse()}")
    query.constraints.check_genres(catalog_genres(catalog))
    unknown = [i for i in (*query.constraints.exclude_items, *query.seeds) if i not in catalog]
    if unknown:
        raise ValueError(f"item {unknown[0]} is not in the catalog")
    if query.k is not None and not 1 <= query.k <= 20:
        raise ValueError(f"k={query.k} is outside 1..20")
