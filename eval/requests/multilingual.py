"""Spanish, French and German templates (family ``multilingual``): genres, decades, negation, years,
counts and "like X"."""

from __future__ import annotations

import random

from eval import conversation_lexicon as lx
from eval.requests.world import Out, World, parse_of, pick_genres, template

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

    @template(f"{lang}.genre", "multilingual", lang)
    def _(r: random.Random, w: World) -> Out:
        g = pick_genres(r, w)
        return lx.say(r, lang, lx.fill(r, lang, "{s}", g)), parse_of(all=g)

    @template(f"{lang}.decade", "multilingual", lang)
    def _(r: random.Random, w: World) -> Out:
        g, d = pick_genres(r, w), lx.decade(r)
        x = lx.fill(r, lang, "{s} {d}", g, d=lx.dec(r, lang, d))
        return lx.say(r, lang, x), w.need(parse_of(all=g, lo=d, hi=d + 9))

    @template(f"{lang}.decade_none", "multilingual", lang)
    def _(r: random.Random, w: World) -> Out:
        g, d = pick_genres(r, w, 2), lx.decade(r)
        x = lx.fill(r, lang, {"es": "{s} {d} {b2}|{s} {d}, {b2}", "fr": "{s} {d}, {b2}",
                            "de": "{s} {d}, {b2}|{s} {d}, aber {b2}"}[lang], g, d=lx.dec(r, lang, d))
        return lx.say(r, lang, x), w.need(parse_of(all=g[:1], none=g[1:], lo=d, hi=d + 9))

    @template(f"{lang}.negation", "multilingual", lang)
    def _(r: random.Random, w: World) -> Out:
        g, d = pick_genres(r, w), lx.decade(r)
        if r.random() < 0.5:
            return lx.cap(lx.fill(r, lang, "{b}" + please, g)), parse_of(none=g)
        x = lx.fill(r, lang, neg_decade, g, d=lx.dec(r, lang, d))
        return lx.cap(x), w.need(parse_of(none=g, lo=d, hi=d + 9))

    @template(f"{lang}.compound", "multilingual", lang)
    def _(r: random.Random, w: World) -> Out:
        x, g = r.choice(lx.COMPOUNDS[lang])
        return lx.say(r, lang, x), w.need(parse_of(all=g))

    @template(f"{lang}.any", "multilingual", lang)
    def _(r: random.Random, w: World) -> Out:
        g = pick_genres(r, w, 2)
        return lx.say(r, lang, lx.fill(r, lang, alt, g)), parse_of(any=g)

    @template(f"{lang}.year", "multilingual", lang)
    def _(r: random.Random, w: World) -> Out:
        g, y = pick_genres(r, w), r.randrange(1960, 1996)
        rel, p = r.choice(((before, parse_of(all=g, hi=y - 1)), (after, parse_of(all=g, lo=y + 1)),
                           (since, parse_of(all=g, lo=y))))
        return lx.say(r, lang, lx.fill(r, lang, "{s} " + lx.pick(r, rel), g, y=y)), w.need(p)

    @template(f"{lang}.count", "multilingual", lang)
    def _(r: random.Random, w: World) -> Out:
        g, k = pick_genres(r, w), r.randrange(2, 11)
        x = lx.fill(r, lang, counted, g, k=lx.NUMBERS[lang][k - 1] if r.random() < 0.6 else k)
        return lx.cap(x), w.need(parse_of(all=g, k=k))

    @template(f"{lang}.like", "multilingual", lang)
    def _(r: random.Random, w: World) -> Out:
        i, t = w.title(r)
        if r.random() < 0.5:
            return lx.cap(lx.fill(r, lang, like, t=t)), parse_of(seeds=[i])
        j, u = w.title(r, avoid=[i])
        return lx.cap(lx.fill(r, lang, like, t=t) + ", " + seen.format(u=u)), parse_of(seeds=[i], excl=[j])


for _lang in ("es", "fr", "de"):
    _multilingual(_lang)
