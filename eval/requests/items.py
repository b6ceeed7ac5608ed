"""English templates that name items: "like X", titles already seen, and impossible requests."""

from __future__ import annotations

import random

from eval import conversation_lexicon as lx
from eval.requests.world import Out, Retry, World, parse_of, pick_genres, template


@template("en.like.plain", "like")
def _(r: random.Random, w: World) -> Out:
    i, t = w.title(r)
    x = lx.pick(r, ("something like {t}", "movies similar to {t}", "something in the vein of {t}",
                  "more like {t}", "anything similar to {t}?", "a movie like {t}"))
    return lx.cap(x.format(t=t)), parse_of(seeds=[i])


@template("en.like.genre", "like")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w)
    i, t = w.title(r, genre=g[0])
    x = lx.fill(r, "en", "{s} like {t}|{s} similar to {t}|{s} in the vein of {t}", g, t=t)
    return lx.say(r, "en", x), parse_of(all=g, seeds=[i])


@template("en.like.decade", "like")
def _(r: random.Random, w: World) -> Out:
    (i, t), d = w.title(r), lx.decade(r)
    x = lx.fill(r, "en", "something like {t} but {d}|like {t}, only {d}|similar to {t} but {d}", t=t,
              d=lx.dec(r, "en", d))
    return lx.cap(x), w.need(parse_of(lo=d, hi=d + 9, seeds=[i]))


@template("en.like.two", "like")
def _(r: random.Random, w: World) -> Out:
    i, t = w.title(r)
    j, u = w.title(r, avoid=[i])
    x = lx.fill(r, "en", "like {t} or {u}|similar to {t} and {u}|something like {t} and {u}|"
                       "in the vein of {t} or {u}", t=t, u=u)
    return lx.cap(x), parse_of(seeds=[i, j])


@template("en.like.but_no", "like")
def _(r: random.Random, w: World) -> Out:
    i, t = w.title(r)
    g = [r.choice(w.catalog.genres(i) or w.genres)]
    x = lx.fill(r, "en", "like {t} but without {b}|similar to {t}, no {b} though|"
                       "something like {t} minus the {b}|like {t} but with no {b}", g, t=t)
    return lx.cap(x), w.need(parse_of(none=g, seeds=[i]))


@template("en.seen.plain", "seen")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w)
    i, t = w.title(r, genre=g[0])
    ask = lx.say(r, "en", lx.fill(r, "en", "{s}", g))
    x = lx.pick(r, ("I've already seen {t}, {a}", "I saw {t} last week. {A}", "already seen {t}; {a}"))
    return lx.cap(x.format(t=t, a=lx.low(ask), A=ask)), parse_of(all=g, excl=[i])


@template("en.seen.not", "seen")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w)
    i, t = w.title(r, genre=g[0])
    x = lx.fill(r, "en", "{s}, but not {t}|{s} - not {t} though|{s}, just not {t}", g, t=t)
    return lx.say(r, "en", x), parse_of(all=g, excl=[i])


@template("en.seen.list", "seen")
def _(r: random.Random, w: World) -> Out:
    i, t = w.title(r)
    j, u = w.title(r, avoid=[i])
    x = lx.fill(r, "en", "I've seen {t} and {u} already, what else?|"
                "I already saw {t} and {u}. Something else?|seen {t}, seen {u}... what now?", t=t, u=u)
    return lx.cap(x), parse_of(excl=[i, j])


@template("en.seen.like_seen", "seen")
def _(r: random.Random, w: World) -> Out:
    i, t = w.title(r)
    j, u = w.title(r, avoid=[i])
    x = lx.fill(r, "en", "something like {t}, but I've already seen {u}|like {t} - I saw {u} already|"
                       "more like {t}; not {u}, I've seen it", t=t, u=u)
    return lx.cap(x), parse_of(seeds=[i], excl=[j])


@template("en.seen.other_than", "seen")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w)
    i, t = w.title(r, genre=g[0])
    x = lx.fill(r, "en", "any {n} other than {t}?|{p} other than {t}|a good {n} other than {t}", g, t=t)
    return lx.cap(x), parse_of(all=g, excl=[i])


@template("en.impossible.pair", "impossible")
def _(r: random.Random, w: World) -> Out:
    g = sorted(pick_genres(r, w, 2), key=lambda g: (g not in lx.EN_MOD, r.random()))
    p = w.none(parse_of(all=g))
    if g[0] in lx.EN_MOD and r.random() < 0.6:
        return lx.say(r, "en", lx.an(f"{lx.pick(r, lx.EN_MOD[g[0]])} {lx.fill(r, 'en', '{n}', g[1:])}")), p
    x = lx.fill(r, "en", "{s} that is also {s2}|something that's {b} and {b2} at once", g)
    return lx.say(r, "en", x), p


@template("en.impossible.triple", "impossible")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w, 3)
    pairs_exist = all(w.count(parse_of(all=[a, b])) for a in g for b in g)
    if g[0] not in lx.EN_MOD or g[1] not in lx.EN_MOD or not pairs_exist:
        raise Retry  # every two of them exist together, only the three do not
    x = lx.an(f"{lx.pick(r, lx.EN_MOD[g[0]])} {lx.pick(r, lx.EN_MOD[g[1]])} {lx.fill(r, 'en', '{n}', g[2:])}")
    return lx.say(r, "en", x), w.none(parse_of(all=g))


@template("en.impossible.genre_decade", "impossible")
def _(r: random.Random, w: World) -> Out:
    g, d = pick_genres(r, w), r.choice(lx.OLD_DECADES)
    p = w.none(parse_of(all=g, lo=d, hi=d + 9))
    return lx.say(r, "en", lx.fill(r, "en", "{s} {d}", g, d=lx.dec(r, "en", d))), p


@template("en.impossible.compound_decade", "impossible")
def _(r: random.Random, w: World) -> Out:
    (x, g), d = r.choice(lx.COMPOUNDS["en"]), r.choice(lx.OLD_DECADES)
    return lx.say(r, "en", f"{lx.pick(r, x)} {lx.dec(r, 'en', d)}"), w.none(parse_of(all=g, lo=d, hi=d + 9))


@template("en.impossible.future", "impossible")
def _(r: random.Random, w: World) -> Out:
    g, y = pick_genres(r, w), r.randrange(2000, 2016)
    rel, lo, hi = r.choice((("from the 2000s", 2000, 2009), (f"released after {y}", y + 1, None),
                            (f"released in {y}", y, y), (f"newer than {y}", y + 1, None),
                            (f"since {y}", y, None)))
    return lx.say(r, "en", lx.fill(r, "en", "{s} {rel}", g, rel=rel)), w.none(parse_of(all=g, lo=lo, hi=hi))


@template("en.impossible.compound_year", "impossible")
def _(r: random.Random, w: World) -> Out:
    (x, g), y = r.choice(lx.COMPOUNDS["en"]), r.randrange(1930, 1980)
    rel, p = r.choice((("made before", parse_of(all=g, hi=y - 1)), ("older than", parse_of(all=g, hi=y - 1)),
                       ("from", parse_of(all=g, lo=y, hi=y)), ("released in", parse_of(all=g, lo=y, hi=y))))
    return lx.say(r, "en", f"{lx.pick(r, x)} {rel} {y}"), w.none(p)
