"""English templates that state constraints: genres, combinations, negations, decades and years."""

from __future__ import annotations

import random

from eval import conversation_lexicon as lx
from eval.requests.world import Out, Retry, World, parse_of, pick_genres, template


@template("en.genre.single", "genre")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w)
    return lx.say(r, "en", lx.fill(r, "en", "{s}", g)), parse_of(all=g)


@template("en.genre.plural", "genre")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w)
    return lx.cap(lx.fill(r, "en", "show me some {p}|any good {p}?|I'd like to watch {p}|got any {p}?", g)), \
        parse_of(all=g)


@template("en.genre.any", "genre")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w, 2)
    x = lx.fill(r, "en", "{s} or {s2}|either {s} or {s2}|{s} or maybe {s2}", g)
    return lx.say(r, "en", x), parse_of(any=g)


@template("en.genre.keyword", "genre")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w)
    return lx.fill(r, "en", "{p}|{b}?|{b} pls|{p}, go|hmm, {b}|{p}!!", g), parse_of(all=g)


@template("en.combined.compound", "combined")
def _(r: random.Random, w: World) -> Out:
    x, g = r.choice(lx.COMPOUNDS["en"])
    return lx.say(r, "en", lx.pick(r, x)), w.need(parse_of(all=g))


@template("en.combined.both", "combined")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w, 2)
    x = lx.fill(r, "en", "something that's both {b} and {b2}|{b} and {b2} in one movie|a mix of {b} and {b2}|"
                       "a movie with {b} and {b2}", g)
    return lx.say(r, "en", x), w.need(parse_of(all=g))


@template("en.combined.genre_decade_none", "combined")
def _(r: random.Random, w: World) -> Out:
    g, d = pick_genres(r, w, 2), lx.decade(r)
    x = lx.fill(r, "en", "{s} {d} with no {b2}|{s} {d}, but no {b2}|{s} {d} without {b2}", g,
              d=lx.dec(r, "en", d))
    return lx.say(r, "en", x), w.need(parse_of(all=g[:1], none=g[1:], lo=d, hi=d + 9))


@template("en.combined.any_none", "combined")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w, 3)
    x = lx.fill(r, "en", "{s} or {s2}, but nothing with {b3}|{s} or {s2} without {b3}|"
                       "either {s} or {s2}, no {b3}", g)
    return lx.say(r, "en", x), w.need(parse_of(any=g[:2], none=g[2:]))


@template("en.combined.compound_year", "combined")
def _(r: random.Random, w: World) -> Out:
    (x, g), y = r.choice(lx.COMPOUNDS["en"]), r.randrange(1975, 1996)
    rel, p = r.choice((("after", parse_of(all=g, lo=y + 1)), ("before", parse_of(all=g, hi=y - 1)),
                       ("released since", parse_of(all=g, lo=y))))
    return lx.say(r, "en", f"{lx.pick(r, x)} {rel} {y}"), w.need(p)


@template("en.negation.only", "negation")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w)
    x = lx.fill(r, "en", "anything but {p}|no {b} please|nothing with {b}|something that's not {s}|"
                       "I don't want {s}|a movie without {b}", g)
    return lx.cap(x), parse_of(none=g)


@template("en.negation.two", "negation")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w, 2)
    x = lx.fill(r, "en", "no {b} and no {b2}|nothing with {b} or {b2}|something without {b} or {b2}|"
                       "anything except {p} and {p2}", g)
    return lx.cap(x), parse_of(none=g)


@template("en.negation.with_genre", "negation")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w, 2)
    p = parse_of(all=g[:1], none=g[1:])
    if w.count(p) == w.count(parse_of(all=g[:1])):
        raise Retry  # the negation would change nothing
    x = lx.fill(r, "en", "{s}, but not {s2}|{s} without {b2}|{s} with no {b2} in it|{s}, nothing with {b2}",
                g)
    return lx.say(r, "en", x), w.need(p)


@template("en.negation.no_more", "negation")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w, 2)
    if r.random() < 0.5:
        x = lx.fill(r, "en", "no more {p}, something else|no more {p}! I need a change", g)
        return lx.cap(x), parse_of(none=g[:1])
    x = lx.fill(r, "en", "no more {p}, give me {s2}|no more {p}; how about {s2}?|no more {p}, I want {s2}", g)
    return lx.cap(x), w.need(parse_of(all=g[1:], none=g[:1]))


@template("en.decade.number", "decade")
def _(r: random.Random, w: World) -> Out:
    g, d = pick_genres(r, w), lx.decade(r)
    return lx.say(r, "en", lx.fill(r, "en", "{s} {d}", g, d=lx.dec(r, "en", d, "num"))), \
        w.need(parse_of(all=g, lo=d, hi=d + 9))


@template("en.decade.word", "decade")
def _(r: random.Random, w: World) -> Out:
    g, d = pick_genres(r, w), lx.decade(r)
    return lx.say(r, "en", lx.fill(r, "en", "{s} {d}|{p} {d}", g, d=lx.dec(r, "en", d, "word"))), \
        w.need(parse_of(all=g, lo=d, hi=d + 9))


@template("en.decade.only", "decade")
def _(r: random.Random, w: World) -> Out:
    d = lx.decade(r)
    x = lx.fill(r, "en", "a movie {d}|something {d}|anything {d}|a film {d}", d=lx.dec(r, "en", d))
    return lx.say(r, "en", x), parse_of(lo=d, hi=d + 9)


@template("en.decade.adjective", "decade")
def _(r: random.Random, w: World) -> Out:
    g, d = pick_genres(r, w), lx.decade(r)
    x = lx.fill(r, "en", "some {d} {p}|{d} {p}|good {d} {p}", g, d=lx.pick(r, f"{d % 100}s|{d}s|'{d % 100}s"))
    return lx.cap(x), w.need(parse_of(all=g, lo=d, hi=d + 9))


def _year(r: random.Random, w: World, pattern: str, y: int, lo: int | None, hi: int | None) -> Out:
    g = pick_genres(r, w)
    return lx.say(r, "en", lx.fill(r, "en", pattern, g, y=y)), w.need(parse_of(all=g, lo=lo, hi=hi))


@template("en.year.before", "year")
def _(r: random.Random, w: World) -> Out:
    y = r.randrange(1950, 1996)
    return _year(r, w, "{s} before {y}|{s} older than {y}|{s} earlier than {y}|{s} made before {y}",
                 y, None, y - 1)


@template("en.year.after", "year")
def _(r: random.Random, w: World) -> Out:
    y = r.randrange(1960, 1996)
    return _year(r, w, "{s} after {y}|{s} newer than {y}|{s} released after {y}|{s} that came out after {y}",
                 y, y + 1, None)


@template("en.year.since", "year")
def _(r: random.Random, w: World) -> Out:
    y = r.randrange(1960, 1997)
    return _year(r, w, "{s}, nothing before {y}|{s}, {y} or later|{s} since {y}|{s} from {y} on|"
                       "{s} from {y} onwards", y, y, None)


@template("en.year.up_to", "year")
def _(r: random.Random, w: World) -> Out:
    y = r.randrange(1950, 1997)
    return _year(r, w, "{s}, nothing after {y}|{s} up to {y}|{s}, {y} or earlier|{s} released up to {y}",
                 y, None, y)


@template("en.year.between", "year")
def _(r: random.Random, w: World) -> Out:
    g, a = pick_genres(r, w), r.randrange(1940, 1992)
    b = r.randrange(a + 2, min(a + 15, 1998))
    x = lx.fill(r, "en", "{s} between {y1} and {y2}|{s} from {y1} to {y2}|{s} released between {y1} and {y2}",
              g, y1=a, y2=b)
    return lx.say(r, "en", x), w.need(parse_of(all=g, lo=a, hi=b))


@template("en.year.exact", "year")
def _(r: random.Random, w: World) -> Out:
    y = r.randrange(1970, 1998)
    return _year(r, w, "{s} released in {y}|{s} from {y}|{s} that came out in {y}|a {y} {n}", y, y, y)
