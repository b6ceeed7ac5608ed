"""English templates of loose language (an intent table: kids, adults, light, scary...), asked-for counts,
and what the catalog cannot express."""

from __future__ import annotations

import random

from eval import conversation_lexicon as lx
from eval.requests.world import Out, Retry, World, parse_of, pick_genres, template

_C, _R, _A, _D = "Comedy", "Romance", "Action", "Drama"  # short names for the parses


@template("en.loose.kids", "loose")
def _(r: random.Random, w: World) -> Out:
    x = lx.fill(r, "en", "something for my kids|a movie my {n}-year-old can watch|family movie night, ideas?|"
                       "something the whole family can watch|what can I put on for the kids?",
              n=r.randrange(4, 11))
    return lx.cap(x), parse_of(all=["Children's"])


@template("en.loose.adults", "loose")
def _(r: random.Random, w: World) -> Out:
    g = [r.choice([g for g in w.genres if g not in lx.KIDS])]
    x = lx.fill(r, "en", "{s} for adults|{s}, something grown-up|{s}, not for kids|a grown-up {n}", g)
    return lx.say(r, "en", x), w.need(parse_of(all=g, none=lx.KIDS))


@template("en.loose.light", "loose")
def _(r: random.Random, w: World) -> Out:
    if r.random() < 0.4:
        x = lx.pick(r, "something light|a feel-good movie|something lighthearted|easy watching please")
        return lx.cap(x), parse_of(none=lx.LIGHT)
    g, d = [r.choice((_C, _R, "Adventure", "Musical", _D))], lx.decade(r)
    if r.random() < 0.3:
        p = parse_of(none=lx.LIGHT, lo=d, hi=d + 9)
        return lx.cap(f"something light {lx.dec(r, 'en', d)}"), w.need(p)
    x = lx.fill(r, "en", "a feel-good {n} {d}|a lighthearted {n} {d}|{s}, something light, {d}", g,
              d=lx.dec(r, "en", d))
    return lx.cap(x), w.need(parse_of(all=g, none=lx.LIGHT, lo=d, hi=d + 9))


@template("en.loose.scary", "loose")
def _(r: random.Random, w: World) -> Out:
    x = lx.pick(r, "something scary|something spooky|a creepy movie|something to give me nightmares|"
                 "a really scary one")
    if r.random() < 0.5:
        return lx.cap(x), parse_of(all=["Horror"])
    d = lx.decade(r)
    return lx.cap(f"{x} {lx.dec(r, 'en', d)}"), w.need(parse_of(all=["Horror"], lo=d, hi=d + 9))


@template("en.loose.negated", "loose")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w)
    neg, ban = r.choice((("nothing too scary", "Horror"), ("not too scary", "Horror"),
                         ("nothing scary", "Horror"), ("nothing romantic", _R), ("no love stories", _R),
                         ("nothing funny", _C)))
    if g[0] == ban:
        raise Retry
    return lx.cap(lx.fill(r, "en", "{s}, {neg}|{s} but {neg} please|{neg} - {s}", g, neg=neg)), \
        w.need(parse_of(all=g, none=[ban]))


@template("en.loose.funny", "loose")
def _(r: random.Random, w: World) -> Out:
    if r.random() < 0.4:
        x = lx.pick(r, "something funny|make me laugh|something hilarious|I need a laugh, something funny")
        return lx.cap(x), parse_of(all=[_C])
    g = [r.choice((_A, "Sci-Fi", "Western", "Horror", "Crime", _R, _D, "War", "Musical"))]
    x = lx.fill(r, "en", "a funny {n}|a hilarious {n}|{s} that makes me laugh", g)
    return lx.say(r, "en", x), w.need(parse_of(all=[*g, _C]))


@template("en.loose.romantic", "loose")
def _(r: random.Random, w: World) -> Out:
    if r.random() < 0.5:
        x = lx.pick(r, "something romantic|date night movie?|a love story|something for date night")
        return lx.cap(x), parse_of(all=[_R])
    g = [r.choice((_C, _D, "War", "Musical", "Thriller", _A))]
    x = lx.fill(r, "en", "a romantic {n}|{s} for date night|{s} with a love story", g)
    return lx.say(r, "en", x), w.need(parse_of(all=[*g, _R]))


@template("en.loose.exciting", "loose")
def _(r: random.Random, w: World) -> Out:
    if r.random() < 0.5:
        x = lx.pick(r, "something exciting|keep me on the edge of my seat|something thrilling|"
                     "I need some adrenaline|an exciting movie")
        return lx.cap(x), parse_of(any=lx.EXCITING)
    x = lx.pick(r, "something exciting|something thrilling|an exciting movie|a thrilling movie")
    d = lx.decade(r)
    return lx.cap(f"{x} {lx.dec(r, 'en', d)}"), w.need(parse_of(any=lx.EXCITING, lo=d, hi=d + 9))


@template("en.loose.sad", "loose")
def _(r: random.Random, w: World) -> Out:
    x = lx.pick(r, "a tearjerker|something that makes me cry|something sad|a sad movie")
    if r.random() < 0.5:
        return lx.say(r, "en", x), parse_of(all=[_D])
    g = [r.choice((_R, "War", "Musical", _C))]
    return lx.cap(lx.fill(r, "en", "{x}, {s}|{x} - {s} ideally", g, x=x)), w.need(parse_of(all=[_D, *g]))


@template("en.loose.mixed", "loose")
def _(r: random.Random, w: World) -> Out:
    x, p = r.choice((("something funny for the kids", parse_of(all=["Children's", _C])),
                     ("a scary movie for adults", parse_of(all=["Horror"], none=lx.KIDS)),
                     ("something exciting but not too scary", parse_of(any=lx.EXCITING, none=["Horror"])),
                     ("something light and romantic", parse_of(all=[_R], none=lx.LIGHT)),
                     ("a feel-good movie that makes me laugh", parse_of(all=[_C], none=lx.LIGHT)),
                     ("date night, but nothing scary", parse_of(all=[_R], none=["Horror"])),
                     ("something sad but not romantic", parse_of(all=[_D], none=[_R])),
                     ("family movie night, something exciting",
                      parse_of(all=["Children's"], any=lx.EXCITING)),
                     ("a grown-up movie that makes me cry", parse_of(all=[_D], none=lx.KIDS))))
    return lx.cap(x + r.choice(lx.SOFT["en"])), w.need(p)


@template("en.count.digits", "count")
def _(r: random.Random, w: World) -> Out:
    g, k = pick_genres(r, w), r.randrange(2, 21)
    x = lx.fill(r, "en", "give me {k} {p}|{k} {p} please|recommend {k} {p}|list {k} {p}", g, k=k)
    return lx.cap(x), w.need(parse_of(all=g, k=k))


@template("en.count.words", "count")
def _(r: random.Random, w: World) -> Out:
    g, k = pick_genres(r, w, 2), r.randrange(2, 13)
    x = lx.fill(r, "en", "give me {k} {p} without {b2}|{k} {p}, no {b2}|I want {k} {p} but no {b2}", g,
              k=lx.NUMBERS["en"][k - 1])
    return lx.cap(x), w.need(parse_of(all=g[:1], none=g[1:], k=k))


@template("en.count.top", "count")
def _(r: random.Random, w: World) -> Out:
    g, k, d = pick_genres(r, w), r.randrange(3, 11), lx.decade(r)
    x = lx.fill(r, "en", "top {k} {p} {d}|your top {k} {p} {d}|the {k} best {p} {d}", g, k=k,
              d=lx.dec(r, "en", d))
    return lx.cap(x), w.need(parse_of(all=g, lo=d, hi=d + 9, k=k))


@template("en.count.like", "count")
def _(r: random.Random, w: World) -> Out:
    (i, t), k = w.title(r, plain=True), r.randrange(1, 11)
    if k == 1:
        x = lx.fill(r, "en", "one movie like {t}|just one film similar to {t}", t=t)
        return lx.cap(x), parse_of(seeds=[i], k=1)
    x = lx.fill(r, "en", "{k} movies like {t}|{k} films similar to {t}|give me {k} more like {t}", t=t,
              k=str(k) if r.random() < 0.5 else lx.NUMBERS["en"][k - 1])
    return lx.cap(x), parse_of(seeds=[i], k=k)


@template("en.count.vague", "count")
def _(r: random.Random, w: World) -> Out:
    g = pick_genres(r, w)
    x = lx.fill(r, "en", "a couple of {p}|a few {p}|some {p}|a handful of {p}|several {p}", g)
    return lx.say(r, "en", x), parse_of(all=g)


def _unsup(r: random.Random, n: int = 1) -> tuple[list[str], list[str]]:
    kinds = r.sample(sorted(lx.UNSUPPORTED), n)
    return kinds, [r.choice(lx.UNSUPPORTED[k]) for k in kinds]


@template("en.unsupported.one", "unsupported")
def _(r: random.Random, w: World) -> Out:
    g, (kinds, (u,)) = pick_genres(r, w), _unsup(r)
    return lx.say(r, "en", lx.fill(r, "en", "{s} {u}", g, u=u)), parse_of(all=g, unsup=kinds)


@template("en.unsupported.two", "unsupported")
def _(r: random.Random, w: World) -> Out:
    g, (kinds, (u, v)) = pick_genres(r, w), _unsup(r, 2)
    x = lx.fill(r, "en", "{s} {u} and {v}|{s} {u}, {v}", g, u=u, v=v)
    return lx.say(r, "en", x), parse_of(all=g, unsup=kinds)


@template("en.unsupported.only", "unsupported")
def _(r: random.Random, w: World) -> Out:
    kinds, (u,) = _unsup(r)
    x = lx.fill(r, "en", "anything {u}|what's good {u}?|a movie {u}|something {u}", u=u)
    return lx.cap(x), parse_of(unsup=kinds)


@template("en.unsupported.decade", "unsupported")
def _(r: random.Random, w: World) -> Out:
    g, d, (kinds, (u,)) = pick_genres(r, w), lx.decade(r), _unsup(r)
    x = lx.fill(r, "en", "{s} {d} {u}|{s} {u}, {d}", g, u=u, d=lx.dec(r, "en", d))
    return lx.say(r, "en", x), w.need(parse_of(all=g, lo=d, hi=d + 9, unsup=kinds))


@template("en.unsupported.like", "unsupported")
def _(r: random.Random, w: World) -> Out:
    (i, t), (kinds, (u,)) = w.title(r), _unsup(r)
    x = lx.fill(r, "en", "something like {t} {u}|similar to {t}, {u}|like {t} but {u}", t=t, u=u)
    return lx.cap(x), parse_of(seeds=[i], unsup=kinds)
