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
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

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


def _t(tid: str, family: str, language: str = "en") -> Callable:
    def register(make: Callable[[random.Random, _World], _Out]) -> Callable:
        TEMPLATES[tid] = Template(tid, family, language, make)
        return make
    return register


# Per language and genre: (one of it, several of it, the bare word).  For es/fr/de the third slot is a whole
# negation ("sin terror"), for en the word a negation takes ("no horror").  "|" separates variants.
_LEX: dict[str, dict[str, tuple[str, str, str]]] = {
    "en": {
        "Action": ("an action movie|an action film", "action movies|action films", "action"),
        "Adventure": ("an adventure movie|an adventure film", "adventure movies", "adventure"),
        "Animation": ("an animated movie|a cartoon|an animated film", "animated movies|cartoons",
                      "animation|cartoons"),
        "Children's": ("a children's movie|a children's film", "children's movies", "children's movies"),
        "Comedy": ("a comedy", "comedies", "comedy|comedies"),
        "Crime": ("a crime movie|a crime film", "crime movies|crime films", "crime"),
        "Documentary": ("a documentary", "documentaries", "documentaries"),
        "Drama": ("a drama", "dramas", "drama|dramas"),
        "Fantasy": ("a fantasy movie|a fantasy film", "fantasy movies", "fantasy"),
        "Film-Noir": ("a film noir|a noir", "film noirs|noir films", "film noir|noir"),
        "Horror": ("a horror movie|a horror film", "horror movies|horror films", "horror"),
        "Musical": ("a musical", "musicals", "musicals"),
        "Mystery": ("a mystery|a mystery movie", "mysteries|mystery movies", "mystery|mysteries"),
        "Romance": ("a romance|a romantic movie", "romances|romantic movies", "romance"),
        "Sci-Fi": ("a sci-fi movie|a science fiction film|a sci-fi film",
                   "sci-fi movies|science fiction films", "sci-fi|science fiction"),
        "Thriller": ("a thriller", "thrillers", "thrillers"),
        "War": ("a war movie|a war film", "war movies|war films", "war|war movies"),
        "Western": ("a western", "westerns", "westerns"),
    },
    "es": {
        "Action": ("una película de acción", "películas de acción", "sin acción|nada de acción"),
        "Adventure": ("una película de aventuras", "películas de aventuras", "sin aventuras"),
        "Animation": ("una película de animación|una de dibujos animados",
                      "películas de animación|dibujos animados", "nada de dibujos animados|sin animación"),
        "Children's": ("una película infantil", "películas infantiles", "nada infantil"),
        "Comedy": ("una comedia", "comedias", "nada de comedias|que no sea comedia|sin comedia"),
        "Crime": ("una película policíaca|una película de crímenes", "películas policíacas",
                  "nada policíaco"),
        "Documentary": ("un documental", "documentales", "nada de documentales|que no sea un documental"),
        "Drama": ("un drama", "dramas", "sin drama|nada de dramas"),
        "Fantasy": ("una película de fantasía", "películas de fantasía", "sin fantasía"),
        "Film-Noir": ("una película de cine negro", "películas de cine negro", "nada de cine negro"),
        "Horror": ("una película de terror", "películas de terror",
                   "sin terror|nada de terror|que no sea de terror"),
        "Musical": ("un musical", "musicales", "nada de musicales|sin musicales"),
        "Mystery": ("una película de misterio", "películas de misterio", "sin misterio"),
        "Romance": ("una película romántica", "películas románticas", "sin romance|nada romántico"),
        "Sci-Fi": ("una película de ciencia ficción", "películas de ciencia ficción",
                   "nada de ciencia ficción|sin ciencia ficción"),
        "Thriller": ("un thriller|una película de suspense", "thrillers", "nada de thrillers|sin suspense"),
        "War": ("una película bélica|una película de guerra", "películas bélicas|películas de guerra",
                "sin guerra|nada bélico"),
        "Western": ("un western|una película del oeste", "westerns|películas del oeste",
                    "nada de westerns"),
    },
    "fr": {
        "Action": ("un film d'action", "films d'action", "sans action|pas de film d'action"),
        "Adventure": ("un film d'aventure", "films d'aventure", "pas de film d'aventure"),
        "Animation": ("un film d'animation|un dessin animé", "films d'animation|dessins animés",
                      "pas de dessin animé|pas d'animation"),
        "Children's": ("un film pour enfants", "films pour enfants", "pas de film pour enfants"),
        "Comedy": ("une comédie", "comédies", "pas de comédie|sans comédie"),
        "Crime": ("un film policier|un polar", "films policiers|polars", "pas de polar|pas de film policier"),
        "Documentary": ("un documentaire", "documentaires", "pas de documentaire"),
        "Drama": ("un drame", "drames", "pas de drame|sans drame"),
        "Fantasy": ("un film fantastique", "films fantastiques", "pas de film fantastique"),
        "Film-Noir": ("un film noir", "films noirs", "pas de film noir"),
        "Horror": ("un film d'horreur", "films d'horreur",
                   "sans horreur|pas d'horreur|pas de film d'horreur"),
        "Musical": ("une comédie musicale|un film musical", "comédies musicales",
                    "pas de comédie musicale"),
        "Mystery": ("un film à énigme|un film de mystère", "films à énigme", "pas de mystère"),
        "Romance": ("un film romantique|une romance", "films romantiques", "sans romance|pas de romance"),
        "Sci-Fi": ("un film de science-fiction", "films de science-fiction",
                   "pas de science-fiction|sans science-fiction"),
        "Thriller": ("un thriller", "thrillers", "pas de thriller"),
        "War": ("un film de guerre", "films de guerre", "sans guerre|pas de film de guerre"),
        "Western": ("un western", "westerns", "pas de western"),
    },
    "de": {
        "Action": ("einen Actionfilm", "Actionfilme", "ohne Action|keine Actionfilme"),
        "Adventure": ("einen Abenteuerfilm", "Abenteuerfilme", "keine Abenteuerfilme"),
        "Animation": ("einen Zeichentrickfilm|einen Animationsfilm", "Zeichentrickfilme|Animationsfilme",
                      "keinen Zeichentrick|keine Zeichentrickfilme"),
        "Children's": ("einen Kinderfilm", "Kinderfilme", "keine Kinderfilme"),
        "Comedy": ("eine Komödie", "Komödien", "keine Komödien|keine Komödie"),
        "Crime": ("einen Krimi", "Krimis", "keine Krimis|keinen Krimi"),
        "Documentary": ("eine Doku|einen Dokumentarfilm", "Dokus|Dokumentarfilme", "keine Dokus"),
        "Drama": ("ein Drama", "Dramen", "kein Drama|keine Dramen"),
        "Fantasy": ("einen Fantasyfilm", "Fantasyfilme", "keine Fantasy|ohne Fantasy"),
        "Film-Noir": ("einen Film noir", "Films noirs", "keinen Film noir"),
        "Horror": ("einen Horrorfilm", "Horrorfilme", "ohne Horror|keinen Horror|keine Horrorfilme"),
        "Musical": ("ein Musical", "Musicals", "keine Musicals|kein Musical"),
        "Mystery": ("einen Mysteryfilm", "Mysteryfilme", "keine Mysteryfilme"),
        "Romance": ("einen Liebesfilm", "Liebesfilme",
                    "ohne Romantik|keine Liebesfilme|ohne Liebesgeschichte"),
        "Sci-Fi": ("einen Science-Fiction-Film|einen Sci-Fi-Film", "Science-Fiction-Filme|Sci-Fi-Filme",
                   "keine Science-Fiction|ohne Sci-Fi"),
        "Thriller": ("einen Thriller", "Thriller", "keine Thriller|keinen Thriller"),
        "War": ("einen Kriegsfilm", "Kriegsfilme", "ohne Krieg|keine Kriegsfilme"),
        "Western": ("einen Western", "Western", "keine Western|keinen Western"),
    },
}
_C, _R, _A, _D = "Comedy", "Romance", "Action", "Drama"
#: Two genres named as one kind, per language.
_COMPOUNDS: dict[str, tuple[tuple[str, tuple[str, str]], ...]] = {
    "en": (("an action comedy", (_A, _C)), ("a romantic comedy|a rom-com", (_C, _R)),
           ("a sci-fi thriller", ("Sci-Fi", "Thriller")), ("a crime drama", ("Crime", _D)),
           ("a war drama", (_D, "War")), ("a horror comedy", (_C, "Horror")),
           ("a sci-fi action movie", (_A, "Sci-Fi")), ("an animated musical", ("Animation", "Musical")),
           ("a western comedy|a comedy western", (_C, "Western")), ("a romantic drama", (_D, _R)),
           ("a crime thriller", ("Crime", "Thriller")), ("a mystery thriller", ("Mystery", "Thriller")),
           ("an action adventure", (_A, "Adventure")), ("a fantasy adventure", ("Adventure", "Fantasy")),
           ("a musical comedy", (_C, "Musical")), ("a sci-fi comedy", (_C, "Sci-Fi")),
           ("a crime comedy", (_C, "Crime")), ("an animated comedy", ("Animation", _C)),
           ("a horror thriller", ("Horror", "Thriller")), ("a romantic thriller", (_R, "Thriller")),
           ("a sci-fi horror movie", ("Horror", "Sci-Fi")), ("an adventure comedy", ("Adventure", _C))),
    "es": (("una comedia romántica", (_C, _R)), ("una comedia de acción", (_A, _C)),
           ("una comedia de terror", (_C, "Horror")),
           ("un thriller de ciencia ficción", ("Sci-Fi", "Thriller")),
           ("un drama bélico", (_D, "War")), ("un drama policíaco", ("Crime", _D)),
           ("un drama romántico", (_D, _R)), ("una película de acción y ciencia ficción", (_A, "Sci-Fi")),
           ("una película de aventuras y fantasía", ("Adventure", "Fantasy"))),
    "fr": (("une comédie romantique", (_C, _R)), ("une comédie d'action", (_A, _C)),
           ("une comédie horrifique", (_C, "Horror")),
           ("un thriller de science-fiction", ("Sci-Fi", "Thriller")),
           ("un drame de guerre", (_D, "War")), ("un drame policier", ("Crime", _D)),
           ("un drame romantique", (_D, _R)), ("un film d'action et de science-fiction", (_A, "Sci-Fi")),
           ("un film d'aventure fantastique", ("Adventure", "Fantasy"))),
    "de": (("eine romantische Komödie", (_C, _R)), ("eine Actionkomödie", (_A, _C)),
           ("eine Horrorkomödie", (_C, "Horror")),
           ("einen Science-Fiction-Thriller", ("Sci-Fi", "Thriller")),
           ("ein Kriegsdrama", (_D, "War")), ("ein Krimidrama", ("Crime", _D)), ("ein Liebesdrama", (_D, _R)),
           ("einen Science-Fiction-Actionfilm", (_A, "Sci-Fi")),
           ("einen Fantasy-Abenteuerfilm", ("Adventure", "Fantasy"))),
}
#: English modifiers for "a <genre> <genre noun>" ("an animated horror movie"); Drama, Thriller have none.
_EN_MOD = {"Action": "action", "Adventure": "adventure", "Animation": "animated", "Children's": "children's",
           "Comedy": "comedy", "Crime": "crime", "Documentary": "documentary", "Fantasy": "fantasy",
           "Film-Noir": "film-noir|noir", "Horror": "horror", "Musical": "musical", "Mystery": "mystery",
           "Romance": "romantic", "Sci-Fi": "sci-fi", "War": "war", "Western": "western"}
_DECADE_WORDS = {  # 1920s .. 1990s
    "en": ("twenties", "thirties", "forties", "fifties", "sixties", "seventies", "eighties", "nineties"),
    "es": ("veinte", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa"),
    "fr": ("vingt", "trente", "quarante", "cinquante", "soixante", "soixante-dix", "quatre-vingt",
           "quatre-vingt-dix"),
    "de": ("Zwanzigern", "Dreißigern", "Vierzigern", "Fünfzigern", "Sechzigern", "Siebzigern", "Achtzigern",
           "Neunzigern"),
}
_NUMBERS = {  # 1 .. 20 (en), 1 .. 10
    "en": ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
           "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"),
    "es": ("uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"),
    "fr": ("un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"),
    "de": ("eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn"),
}
_FRAMES = {
    "en": ("{x}", "I want {x}", "recommend {x}", "can you recommend {x}?", "looking for {x}", "find me {x}",
           "I'm in the mood for {x}", "any ideas for {x}?", "suggest {x}", "what's {x} I should watch?"),
    "es": ("{x}", "Quiero ver {x}", "Recomiéndame {x}", "Busco {x}", "¿Me recomiendas {x}?",
           "Me apetece {x}"),
    "fr": ("{x}", "Je cherche {x}", "Tu me conseilles {x} ?", "Propose-moi {x}", "J'ai envie de voir {x}"),
    "de": ("Ich suche {x}", "Empfiehl mir {x}", "Hast du {x}?", "Ich hätte gern {x}", "Zeig mir {x}"),
}
_SOFT = {"en": ("", "", "", " tonight", " please", ", something good"), "es": ("", "", " para esta noche"),
         "fr": ("", "", " pour ce soir"), "de": ("", "", " für heute Abend")}
_UNSUPPORTED = {
    "language": ("in French", "in Spanish", "with English subtitles", "that's dubbed", "in Japanese"),
    "runtime": ("under two hours", "that's short", "less than 90 minutes long", "that isn't too long"),
    "person": ("with Tom Hanks", "starring Meryl Streep", "directed by Spielberg",
               "with Harrison Ford in it"),
    "rating": ("rated PG", "that's PG-13", "that's rated R", "rated G"),
    "place": ("set in Paris", "filmed in New Zealand", "set in New York", "that takes place in Tokyo"),
    "platform": ("on Netflix", "streaming on Hulu", "that's on Amazon Prime", "available on Disney+"),
}
_LIGHT = ("Film-Noir", "Horror", "War")
_KIDS = ("Animation", "Children's")
_EXCITING = ("Action", "Adventure", "Thriller")
_OLD_DECADES = (1920, 1930, 1940, 1950, 1960, 1970, 1980)


def _pick(r: random.Random, options: str | tuple[str, ...]) -> str:
    return r.choice(options.split("|") if isinstance(options, str) else options)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fill(r: random.Random, lang: str, pattern: str, genres: Iterable[str] = (), **extra: Any) -> str:
    """One variant of ``pattern`` ("{s} or {s2}") with each genre's words: {s} one of it ("a comedy"), {p}
    several ("comedies"), {b} bare / negation ("comedy"; "sin comedia"), {n} (en) its noun ("comedy")."""
    slots = dict(extra)
    for n, g in enumerate(genres, 1):
        tag = "" if n == 1 else str(n)
        for slot, index in (("s", 0), ("p", 1), ("b", 2)):
            slots[slot + tag] = _pick(r, _LEX[lang][g][index])
        slots["n" + tag] = slots["s" + tag].split(" ", 1)[1]
    return _pick(r, pattern).format(**slots)


def _say(r: random.Random, lang: str, x: str) -> str:
    """``x`` (a noun phrase) in a request frame ("can you recommend {x}?"), maybe with soft words."""
    simple = x.startswith(("a ", "an ")) and not re.search(r"[,;]| - ", x)  # "what's {x} I should watch?"
    frames = [f for f in _FRAMES[lang] if simple or not f.endswith("watch?")]
    m = re.fullmatch(r"(.*?)(\s*\?)?", r.choice(frames).format(x=x))
    assert m is not None
    return _cap(m.group(1) + r.choice(_SOFT[lang]) + (m.group(2) or ""))


def _genres(r: random.Random, w: _World, n: int = 1) -> list[str]:
    return r.sample(list(w.genres), n)


def _decade(r: random.Random) -> int:
    return r.choice((1930, 1940, 1950, 1960, 1970, 1980, 1990, 1990, 1980))


def _dec(r: random.Random, lang: str, d: int, form: str = "") -> str:
    """"from the 90s" / "de los años 90" / "des années 90" / "aus den 90ern" (``form``: "num" or "word")."""
    yy, word = f"{d % 100:02d}", _DECADE_WORDS[lang][(d - 1920) // 10]
    words = (form or r.choice(("num", "num", "word"))) == "word"
    forms = {"en": (f"from the {word}", f"from the {yy}s|from the {d}s|from the '{yy}s"),
             "es": (f"de los {word}", f"de los años {yy}|de los {yy}|de la década de {d}"),
             "fr": (f"des années {word}", f"des années {yy}|des années {d}"),
             "de": (f"aus den {word}", f"aus den {yy}ern|aus den {yy}er Jahren|aus den {d}ern")}[lang]
    return forms[0] if words else _pick(r, forms[1])


def _a(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _low(sentence: str) -> str:
    return sentence if re.match(r"I\b", sentence) else sentence[:1].lower() + sentence[1:]


# ---- English --------------------------------------------------------------------------------------------

@_t("en.genre.single", "genre")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    return _say(r, "en", _fill(r, "en", "{s}", g)), _parse(all=g)


@_t("en.genre.plural", "genre")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    return _cap(_fill(r, "en", "show me some {p}|any good {p}?|I'd like to watch {p}|got any {p}?", g)), \
        _parse(all=g)


@_t("en.genre.any", "genre")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 2)
    return _say(r, "en", _fill(r, "en", "{s} or {s2}|either {s} or {s2}|{s} or maybe {s2}", g)), _parse(any=g)


@_t("en.genre.keyword", "genre")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    return _fill(r, "en", "{p}|{b}?|{b} pls|{p}, go|hmm, {b}|{p}!!", g), _parse(all=g)


@_t("en.combined.compound", "combined")
def _(r: random.Random, w: _World) -> _Out:
    x, g = r.choice(_COMPOUNDS["en"])
    return _say(r, "en", _pick(r, x)), w.need(_parse(all=g))


@_t("en.combined.both", "combined")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 2)
    x = _fill(r, "en", "something that's both {b} and {b2}|{b} and {b2} in one movie|a mix of {b} and {b2}|"
                       "a movie with {b} and {b2}", g)
    return _say(r, "en", x), w.need(_parse(all=g))


@_t("en.combined.genre_decade_none", "combined")
def _(r: random.Random, w: _World) -> _Out:
    g, d = _genres(r, w, 2), _decade(r)
    x = _fill(r, "en", "{s} {d} with no {b2}|{s} {d}, but no {b2}|{s} {d} without {b2}", g,
              d=_dec(r, "en", d))
    return _say(r, "en", x), w.need(_parse(all=g[:1], none=g[1:], lo=d, hi=d + 9))


@_t("en.combined.any_none", "combined")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 3)
    x = _fill(r, "en", "{s} or {s2}, but nothing with {b3}|{s} or {s2} without {b3}|"
                       "either {s} or {s2}, no {b3}", g)
    return _say(r, "en", x), w.need(_parse(any=g[:2], none=g[2:]))


@_t("en.combined.compound_year", "combined")
def _(r: random.Random, w: _World) -> _Out:
    (x, g), y = r.choice(_COMPOUNDS["en"]), r.randrange(1975, 1996)
    rel, p = r.choice((("after", _parse(all=g, lo=y + 1)), ("before", _parse(all=g, hi=y - 1)),
                       ("released since", _parse(all=g, lo=y))))
    return _say(r, "en", f"{_pick(r, x)} {rel} {y}"), w.need(p)


@_t("en.negation.only", "negation")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    x = _fill(r, "en", "anything but {p}|no {b} please|nothing with {b}|something that's not {s}|"
                       "I don't want {s}|a movie without {b}", g)
    return _cap(x), _parse(none=g)


@_t("en.negation.two", "negation")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 2)
    x = _fill(r, "en", "no {b} and no {b2}|nothing with {b} or {b2}|something without {b} or {b2}|"
                       "anything except {p} and {p2}", g)
    return _cap(x), _parse(none=g)


@_t("en.negation.with_genre", "negation")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 2)
    p = _parse(all=g[:1], none=g[1:])
    if w.count(p) == w.count(_parse(all=g[:1])):
        raise _Retry  # the negation would change nothing
    x = _fill(r, "en", "{s}, but not {s2}|{s} without {b2}|{s} with no {b2} in it|{s}, nothing with {b2}", g)
    return _say(r, "en", x), w.need(p)


@_t("en.negation.no_more", "negation")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 2)
    if r.random() < 0.5:
        x = _fill(r, "en", "no more {p}, something else|no more {p}! I need a change", g)
        return _cap(x), _parse(none=g[:1])
    x = _fill(r, "en", "no more {p}, give me {s2}|no more {p}; how about {s2}?|no more {p}, I want {s2}", g)
    return _cap(x), w.need(_parse(all=g[1:], none=g[:1]))


@_t("en.decade.number", "decade")
def _(r: random.Random, w: _World) -> _Out:
    g, d = _genres(r, w), _decade(r)
    return _say(r, "en", _fill(r, "en", "{s} {d}", g, d=_dec(r, "en", d, "num"))), \
        w.need(_parse(all=g, lo=d, hi=d + 9))


@_t("en.decade.word", "decade")
def _(r: random.Random, w: _World) -> _Out:
    g, d = _genres(r, w), _decade(r)
    return _say(r, "en", _fill(r, "en", "{s} {d}|{p} {d}", g, d=_dec(r, "en", d, "word"))), \
        w.need(_parse(all=g, lo=d, hi=d + 9))


@_t("en.decade.only", "decade")
def _(r: random.Random, w: _World) -> _Out:
    d = _decade(r)
    x = _fill(r, "en", "a movie {d}|something {d}|anything {d}|a film {d}", d=_dec(r, "en", d))
    return _say(r, "en", x), _parse(lo=d, hi=d + 9)


@_t("en.decade.adjective", "decade")
def _(r: random.Random, w: _World) -> _Out:
    g, d = _genres(r, w), _decade(r)
    x = _fill(r, "en", "some {d} {p}|{d} {p}|good {d} {p}", g, d=_pick(r, f"{d % 100}s|{d}s|'{d % 100}s"))
    return _cap(x), w.need(_parse(all=g, lo=d, hi=d + 9))


def _year(r: random.Random, w: _World, pattern: str, y: int, lo: int | None, hi: int | None) -> _Out:
    g = _genres(r, w)
    return _say(r, "en", _fill(r, "en", pattern, g, y=y)), w.need(_parse(all=g, lo=lo, hi=hi))


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
    x = _fill(r, "en", "{s} between {y1} and {y2}|{s} from {y1} to {y2}|{s} released between {y1} and {y2}",
              g, y1=a, y2=b)
    return _say(r, "en", x), w.need(_parse(all=g, lo=a, hi=b))


@_t("en.year.exact", "year")
def _(r: random.Random, w: _World) -> _Out:
    y = r.randrange(1970, 1998)
    return _year(r, w, "{s} released in {y}|{s} from {y}|{s} that came out in {y}|a {y} {n}", y, y, y)


@_t("en.like.plain", "like")
def _(r: random.Random, w: _World) -> _Out:
    i, t = w.title(r)
    x = _pick(r, ("something like {t}", "movies similar to {t}", "something in the vein of {t}",
                  "more like {t}", "anything similar to {t}?", "a movie like {t}"))
    return _cap(x.format(t=t)), _parse(seeds=[i])


@_t("en.like.genre", "like")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    i, t = w.title(r, genre=g[0])
    return _say(r, "en", _fill(r, "en", "{s} like {t}|{s} similar to {t}|{s} in the vein of {t}", g, t=t)), \
        _parse(all=g, seeds=[i])


@_t("en.like.decade", "like")
def _(r: random.Random, w: _World) -> _Out:
    (i, t), d = w.title(r), _decade(r)
    x = _fill(r, "en", "something like {t} but {d}|like {t}, only {d}|similar to {t} but {d}", t=t,
              d=_dec(r, "en", d))
    return _cap(x), w.need(_parse(lo=d, hi=d + 9, seeds=[i]))


@_t("en.like.two", "like")
def _(r: random.Random, w: _World) -> _Out:
    i, t = w.title(r)
    j, u = w.title(r, avoid=[i])
    x = _fill(r, "en", "like {t} or {u}|similar to {t} and {u}|something like {t} and {u}|"
                       "in the vein of {t} or {u}", t=t, u=u)
    return _cap(x), _parse(seeds=[i, j])


@_t("en.like.but_no", "like")
def _(r: random.Random, w: _World) -> _Out:
    i, t = w.title(r)
    g = [r.choice(w.catalog.genres(i) or w.genres)]
    x = _fill(r, "en", "like {t} but without {b}|similar to {t}, no {b} though|"
                       "something like {t} minus the {b}|like {t} but with no {b}", g, t=t)
    return _cap(x), w.need(_parse(none=g, seeds=[i]))


@_t("en.seen.plain", "seen")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    i, t = w.title(r, genre=g[0])
    ask = _say(r, "en", _fill(r, "en", "{s}", g))
    x = _pick(r, ("I've already seen {t}, {a}", "I saw {t} last week. {A}", "already seen {t}; {a}"))
    return _cap(x.format(t=t, a=_low(ask), A=ask)), _parse(all=g, excl=[i])


@_t("en.seen.not", "seen")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    i, t = w.title(r, genre=g[0])
    return _say(r, "en", _fill(r, "en", "{s}, but not {t}|{s} - not {t} though|{s}, just not {t}", g, t=t)), \
        _parse(all=g, excl=[i])


@_t("en.seen.list", "seen")
def _(r: random.Random, w: _World) -> _Out:
    i, t = w.title(r)
    j, u = w.title(r, avoid=[i])
    x = _fill(r, "en", "I've seen {t} and {u} already, what else?|I already saw {t} and {u}. Something else?|"
                       "seen {t}, seen {u}... what now?", t=t, u=u)
    return _cap(x), _parse(excl=[i, j])


@_t("en.seen.like_seen", "seen")
def _(r: random.Random, w: _World) -> _Out:
    i, t = w.title(r)
    j, u = w.title(r, avoid=[i])
    x = _fill(r, "en", "something like {t}, but I've already seen {u}|like {t} - I saw {u} already|"
                       "more like {t}; not {u}, I've seen it", t=t, u=u)
    return _cap(x), _parse(seeds=[i], excl=[j])


@_t("en.seen.other_than", "seen")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    i, t = w.title(r, genre=g[0])
    x = _fill(r, "en", "any {n} other than {t}?|{p} other than {t}|a good {n} other than {t}", g, t=t)
    return _cap(x), _parse(all=g, excl=[i])


@_t("en.impossible.pair", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    g = sorted(_genres(r, w, 2), key=lambda g: (g not in _EN_MOD, r.random()))
    p = w.none(_parse(all=g))
    if g[0] in _EN_MOD and r.random() < 0.6:
        return _say(r, "en", _a(f"{_pick(r, _EN_MOD[g[0]])} {_fill(r, 'en', '{n}', g[1:])}")), p
    return _say(r, "en", _fill(r, "en", "{s} that is also {s2}|something that's {b} and {b2} at once", g)), p


@_t("en.impossible.triple", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w, 3)
    pairs_exist = all(w.count(_parse(all=[a, b])) for a in g for b in g)
    if g[0] not in _EN_MOD or g[1] not in _EN_MOD or not pairs_exist:
        raise _Retry  # every two of them exist together, only the three do not
    x = _a(f"{_pick(r, _EN_MOD[g[0]])} {_pick(r, _EN_MOD[g[1]])} {_fill(r, 'en', '{n}', g[2:])}")
    return _say(r, "en", x), w.none(_parse(all=g))


@_t("en.impossible.genre_decade", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    g, d = _genres(r, w), r.choice(_OLD_DECADES)
    p = w.none(_parse(all=g, lo=d, hi=d + 9))
    return _say(r, "en", _fill(r, "en", "{s} {d}", g, d=_dec(r, "en", d))), p


@_t("en.impossible.compound_decade", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    (x, g), d = r.choice(_COMPOUNDS["en"]), r.choice(_OLD_DECADES)
    return _say(r, "en", f"{_pick(r, x)} {_dec(r, 'en', d)}"), w.none(_parse(all=g, lo=d, hi=d + 9))


@_t("en.impossible.future", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    g, y = _genres(r, w), r.randrange(2000, 2016)
    rel, lo, hi = r.choice((("from the 2000s", 2000, 2009), (f"released after {y}", y + 1, None),
                            (f"released in {y}", y, y), (f"newer than {y}", y + 1, None),
                            (f"since {y}", y, None)))
    return _say(r, "en", _fill(r, "en", "{s} {rel}", g, rel=rel)), w.none(_parse(all=g, lo=lo, hi=hi))


@_t("en.impossible.compound_year", "impossible")
def _(r: random.Random, w: _World) -> _Out:
    (x, g), y = r.choice(_COMPOUNDS["en"]), r.randrange(1930, 1980)
    rel, p = r.choice((("made before", _parse(all=g, hi=y - 1)), ("older than", _parse(all=g, hi=y - 1)),
                       ("from", _parse(all=g, lo=y, hi=y)), ("released in", _parse(all=g, lo=y, hi=y))))
    return _say(r, "en", f"{_pick(r, x)} {rel} {y}"), w.none(p)


@_t("en.loose.kids", "loose")
def _(r: random.Random, w: _World) -> _Out:
    x = _fill(r, "en", "something for my kids|a movie my {n}-year-old can watch|family movie night, ideas?|"
                       "something the whole family can watch|what can I put on for the kids?",
              n=r.randrange(4, 11))
    return _cap(x), _parse(all=["Children's"])


@_t("en.loose.adults", "loose")
def _(r: random.Random, w: _World) -> _Out:
    g = [r.choice([g for g in w.genres if g not in _KIDS])]
    x = _fill(r, "en", "{s} for adults|{s}, something grown-up|{s}, not for kids|a grown-up {n}", g)
    return _say(r, "en", x), w.need(_parse(all=g, none=_KIDS))


@_t("en.loose.light", "loose")
def _(r: random.Random, w: _World) -> _Out:
    if r.random() < 0.4:
        x = _pick(r, "something light|a feel-good movie|something lighthearted|easy watching please")
        return _cap(x), _parse(none=_LIGHT)
    g, d = [r.choice((_C, _R, "Adventure", "Musical", _D))], _decade(r)
    if r.random() < 0.3:
        return _cap(f"something light {_dec(r, 'en', d)}"), w.need(_parse(none=_LIGHT, lo=d, hi=d + 9))
    x = _fill(r, "en", "a feel-good {n} {d}|a lighthearted {n} {d}|{s}, something light, {d}", g,
              d=_dec(r, "en", d))
    return _cap(x), w.need(_parse(all=g, none=_LIGHT, lo=d, hi=d + 9))


@_t("en.loose.scary", "loose")
def _(r: random.Random, w: _World) -> _Out:
    x = _pick(r, "something scary|something spooky|a creepy movie|something to give me nightmares|"
                 "a really scary one")
    if r.random() < 0.5:
        return _cap(x), _parse(all=["Horror"])
    d = _decade(r)
    return _cap(f"{x} {_dec(r, 'en', d)}"), w.need(_parse(all=["Horror"], lo=d, hi=d + 9))


@_t("en.loose.negated", "loose")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    neg, ban = r.choice((("nothing too scary", "Horror"), ("not too scary", "Horror"),
                         ("nothing scary", "Horror"), ("nothing romantic", _R), ("no love stories", _R),
                         ("nothing funny", _C)))
    if g[0] == ban:
        raise _Retry
    return _cap(_fill(r, "en", "{s}, {neg}|{s} but {neg} please|{neg} - {s}", g, neg=neg)), \
        w.need(_parse(all=g, none=[ban]))


@_t("en.loose.funny", "loose")
def _(r: random.Random, w: _World) -> _Out:
    if r.random() < 0.4:
        x = _pick(r, "something funny|make me laugh|something hilarious|I need a laugh, something funny")
        return _cap(x), _parse(all=[_C])
    g = [r.choice((_A, "Sci-Fi", "Western", "Horror", "Crime", _R, _D, "War", "Musical"))]
    x = _fill(r, "en", "a funny {n}|a hilarious {n}|{s} that makes me laugh", g)
    return _say(r, "en", x), w.need(_parse(all=[*g, _C]))


@_t("en.loose.romantic", "loose")
def _(r: random.Random, w: _World) -> _Out:
    if r.random() < 0.5:
        x = _pick(r, "something romantic|date night movie?|a love story|something for date night")
        return _cap(x), _parse(all=[_R])
    g = [r.choice((_C, _D, "War", "Musical", "Thriller", _A))]
    x = _fill(r, "en", "a romantic {n}|{s} for date night|{s} with a love story", g)
    return _say(r, "en", x), w.need(_parse(all=[*g, _R]))


@_t("en.loose.exciting", "loose")
def _(r: random.Random, w: _World) -> _Out:
    if r.random() < 0.5:
        x = _pick(r, "something exciting|keep me on the edge of my seat|something thrilling|"
                     "I need some adrenaline|an exciting movie")
        return _cap(x), _parse(any=_EXCITING)
    x, d = _pick(r, "something exciting|something thrilling|an exciting movie|a thrilling movie"), _decade(r)
    return _cap(f"{x} {_dec(r, 'en', d)}"), w.need(_parse(any=_EXCITING, lo=d, hi=d + 9))


@_t("en.loose.sad", "loose")
def _(r: random.Random, w: _World) -> _Out:
    x = _pick(r, "a tearjerker|something that makes me cry|something sad|a sad movie")
    if r.random() < 0.5:
        return _say(r, "en", x), _parse(all=[_D])
    g = [r.choice((_R, "War", "Musical", _C))]
    return _cap(_fill(r, "en", "{x}, {s}|{x} - {s} ideally", g, x=x)), w.need(_parse(all=[_D, *g]))


@_t("en.loose.mixed", "loose")
def _(r: random.Random, w: _World) -> _Out:
    x, p = r.choice((("something funny for the kids", _parse(all=["Children's", _C])),
                     ("a scary movie for adults", _parse(all=["Horror"], none=_KIDS)),
                     ("something exciting but not too scary", _parse(any=_EXCITING, none=["Horror"])),
                     ("something light and romantic", _parse(all=[_R], none=_LIGHT)),
                     ("a feel-good movie that makes me laugh", _parse(all=[_C], none=_LIGHT)),
                     ("date night, but nothing scary", _parse(all=[_R], none=["Horror"])),
                     ("something sad but not romantic", _parse(all=[_D], none=[_R])),
                     ("family movie night, something exciting", _parse(all=["Children's"], any=_EXCITING)),
                     ("a grown-up movie that makes me cry", _parse(all=[_D], none=_KIDS))))
    return _cap(x + r.choice(_SOFT["en"])), w.need(p)


@_t("en.count.digits", "count")
def _(r: random.Random, w: _World) -> _Out:
    g, k = _genres(r, w), r.randrange(2, 21)
    return _cap(_fill(r, "en", "give me {k} {p}|{k} {p} please|recommend {k} {p}|list {k} {p}", g, k=k)), \
        w.need(_parse(all=g, k=k))


@_t("en.count.words", "count")
def _(r: random.Random, w: _World) -> _Out:
    g, k = _genres(r, w, 2), r.randrange(2, 13)
    x = _fill(r, "en", "give me {k} {p} without {b2}|{k} {p}, no {b2}|I want {k} {p} but no {b2}", g,
              k=_NUMBERS["en"][k - 1])
    return _cap(x), w.need(_parse(all=g[:1], none=g[1:], k=k))


@_t("en.count.top", "count")
def _(r: random.Random, w: _World) -> _Out:
    g, k, d = _genres(r, w), r.randrange(3, 11), _decade(r)
    x = _fill(r, "en", "top {k} {p} {d}|your top {k} {p} {d}|the {k} best {p} {d}", g, k=k,
              d=_dec(r, "en", d))
    return _cap(x), w.need(_parse(all=g, lo=d, hi=d + 9, k=k))


@_t("en.count.like", "count")
def _(r: random.Random, w: _World) -> _Out:
    (i, t), k = w.title(r, plain=True), r.randrange(1, 11)
    if k == 1:
        x = _fill(r, "en", "one movie like {t}|just one film similar to {t}", t=t)
        return _cap(x), _parse(seeds=[i], k=1)
    x = _fill(r, "en", "{k} movies like {t}|{k} films similar to {t}|give me {k} more like {t}", t=t,
              k=str(k) if r.random() < 0.5 else _NUMBERS["en"][k - 1])
    return _cap(x), _parse(seeds=[i], k=k)


@_t("en.count.vague", "count")
def _(r: random.Random, w: _World) -> _Out:
    g = _genres(r, w)
    x = _fill(r, "en", "a couple of {p}|a few {p}|some {p}|a handful of {p}|several {p}", g)
    return _say(r, "en", x), _parse(all=g)


def _unsup(r: random.Random, n: int = 1) -> tuple[list[str], list[str]]:
    kinds = r.sample(sorted(_UNSUPPORTED), n)
    return kinds, [r.choice(_UNSUPPORTED[k]) for k in kinds]


@_t("en.unsupported.one", "unsupported")
def _(r: random.Random, w: _World) -> _Out:
    g, (kinds, (u,)) = _genres(r, w), _unsup(r)
    return _say(r, "en", _fill(r, "en", "{s} {u}", g, u=u)), _parse(all=g, unsup=kinds)


@_t("en.unsupported.two", "unsupported")
def _(r: random.Random, w: _World) -> _Out:
    g, (kinds, (u, v)) = _genres(r, w), _unsup(r, 2)
    x = _fill(r, "en", "{s} {u} and {v}|{s} {u}, {v}", g, u=u, v=v)
    return _say(r, "en", x), _parse(all=g, unsup=kinds)


@_t("en.unsupported.only", "unsupported")
def _(r: random.Random, w: _World) -> _Out:
    kinds, (u,) = _unsup(r)
    x = _fill(r, "en", "anything {u}|what's good {u}?|a movie {u}|something {u}", u=u)
    return _cap(x), _parse(unsup=kinds)


@_t("en.unsupported.decade", "unsupported")
def _(r: random.Random, w: _World) -> _Out:
    g, d, (kinds, (u,)) = _genres(r, w), _decade(r), _unsup(r)
    x = _fill(r, "en", "{s} {d} {u}|{s} {u}, {d}", g, u=u, d=_dec(r, "en", d))
    return _say(r, "en", x), w.need(_parse(all=g, lo=d, hi=d + 9, unsup=kinds))


@_t("en.unsupported.like", "unsupported")
def _(r: random.Random, w: _World) -> _Out:
    (i, t), (kinds, (u,)) = w.title(r), _unsup(r)
    x = _fill(r, "en", "something like {t} {u}|similar to {t}, {u}|like {t} but {u}", t=t, u=u)
    return _cap(x), _parse(seeds=[i], unsup=kinds)


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
        return _say(r, lang, _fill(r, lang, "{s}", g)), _parse(all=g)

    @_t(f"{lang}.decade", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g, d = _genres(r, w), _decade(r)
        x = _fill(r, lang, "{s} {d}", g, d=_dec(r, lang, d))
        return _say(r, lang, x), w.need(_parse(all=g, lo=d, hi=d + 9))

    @_t(f"{lang}.decade_none", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g, d = _genres(r, w, 2), _decade(r)
        x = _fill(r, lang, {"es": "{s} {d} {b2}|{s} {d}, {b2}", "fr": "{s} {d}, {b2}",
                            "de": "{s} {d}, {b2}|{s} {d}, aber {b2}"}[lang], g, d=_dec(r, lang, d))
        return _say(r, lang, x), w.need(_parse(all=g[:1], none=g[1:], lo=d, hi=d + 9))

    @_t(f"{lang}.negation", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g, d = _genres(r, w), _decade(r)
        if r.random() < 0.5:
            return _cap(_fill(r, lang, "{b}" + please, g)), _parse(none=g)
        return _cap(_fill(r, lang, neg_decade, g, d=_dec(r, lang, d))), w.need(_parse(none=g, lo=d, hi=d + 9))

    @_t(f"{lang}.compound", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        x, g = r.choice(_COMPOUNDS[lang])
        return _say(r, lang, x), w.need(_parse(all=g))

    @_t(f"{lang}.any", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g = _genres(r, w, 2)
        return _say(r, lang, _fill(r, lang, alt, g)), _parse(any=g)

    @_t(f"{lang}.year", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g, y = _genres(r, w), r.randrange(1960, 1996)
        rel, p = r.choice(((before, _parse(all=g, hi=y - 1)), (after, _parse(all=g, lo=y + 1)),
                           (since, _parse(all=g, lo=y))))
        return _say(r, lang, _fill(r, lang, "{s} " + _pick(r, rel), g, y=y)), w.need(p)

    @_t(f"{lang}.count", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        g, k = _genres(r, w), r.randrange(2, 11)
        x = _fill(r, lang, counted, g, k=_NUMBERS[lang][k - 1] if r.random() < 0.6 else k)
        return _cap(x), w.need(_parse(all=g, k=k))

    @_t(f"{lang}.like", "multilingual", lang)
    def _(r: random.Random, w: _World) -> _Out:
        i, t = w.title(r)
        if r.random() < 0.5:
            return _cap(_fill(r, lang, like, t=t)), _parse(seeds=[i])
        j, u = w.title(r, avoid=[i])
        return _cap(_fill(r, lang, like, t=t) + ", " + seen.format(u=u)), _parse(seeds=[i], excl=[j])


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
