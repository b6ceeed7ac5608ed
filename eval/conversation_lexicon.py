"""The words the constraint benchmark's templates write requests with: genres in four languages (one of it,
several, the bare word or negation), compounds, decades, numbers, request frames, soft words, what the catalog
cannot express, and the small helpers that fill them in (see :mod:`eval.conversation_data`)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["COMPOUNDS", "DECADE_WORDS", "EN_MOD", "EXCITING", "FRAMES", "KIDS", "LEX", "LIGHT", "NUMBERS",
           "OLD_DECADES", "SOFT", "UNSUPPORTED", "an", "cap", "dec", "decade", "fill", "low", "pick",
           "say"]


# Per language and genre: (one of it, several of it, the bare word).  For es/fr/de the third slot is a whole
# negation ("sin terror"), for en the word a negation takes ("no horror").  "|" separates variants.
LEX: dict[str, dict[str, tuple[str, str, str]]] = {
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
COMPOUNDS: dict[str, tuple[tuple[str, tuple[str, str]], ...]] = {
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
EN_MOD = {"Action": "action", "Adventure": "adventure", "Animation": "animated", "Children's": "children's",
           "Comedy": "comedy", "Crime": "crime", "Documentary": "documentary", "Fantasy": "fantasy",
           "Film-Noir": "film-noir|noir", "Horror": "horror", "Musical": "musical", "Mystery": "mystery",
           "Romance": "romantic", "Sci-Fi": "sci-fi", "War": "war", "Western": "western"}
DECADE_WORDS = {  # 1920s .. 1990s
    "en": ("twenties", "thirties", "forties", "fifties", "sixties", "seventies", "eighties", "nineties"),
    "es": ("veinte", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa"),
    "fr": ("vingt", "trente", "quarante", "cinquante", "soixante", "soixante-dix", "quatre-vingt",
           "quatre-vingt-dix"),
    "de": ("Zwanzigern", "Dreißigern", "Vierzigern", "Fünfzigern", "Sechzigern", "Siebzigern", "Achtzigern",
           "Neunzigern"),
}
NUMBERS = {  # 1 .. 20 (en), 1 .. 10
    "en": ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
           "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"),
    "es": ("uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"),
    "fr": ("un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"),
    "de": ("eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn"),
}
FRAMES = {
    "en": ("{x}", "I want {x}", "recommend {x}", "can you recommend {x}?", "looking for {x}", "find me {x}",
           "I'm in the mood for {x}", "any ideas for {x}?", "suggest {x}", "what's {x} I should watch?"),
    "es": ("{x}", "Quiero ver {x}", "Recomiéndame {x}", "Busco {x}", "¿Me recomiendas {x}?",
           "Me apetece {x}"),
    "fr": ("{x}", "Je cherche {x}", "Tu me conseilles {x} ?", "Propose-moi {x}", "J'ai envie de voir {x}"),
    "de": ("Ich suche {x}", "Empfiehl mir {x}", "Hast du {x}?", "Ich hätte gern {x}", "Zeig mir {x}"),
}
SOFT = {"en": ("", "", "", " tonight", " please", ", something good"), "es": ("", "", " para esta noche"),
         "fr": ("", "", " pour ce soir"), "de": ("", "", " für heute Abend")}
UNSUPPORTED = {
    "language": ("in French", "in Spanish", "with English subtitles", "that's dubbed", "in Japanese"),
    "runtime": ("under two hours", "that's short", "less than 90 minutes long", "that isn't too long"),
    "person": ("with Tom Hanks", "starring Meryl Streep", "directed by Spielberg",
               "with Harrison Ford in it"),
    "rating": ("rated PG", "that's PG-13", "that's rated R", "rated G"),
    "place": ("set in Paris", "filmed in New Zealand", "set in New York", "that takes place in Tokyo"),
    "platform": ("on Netflix", "streaming on Hulu", "that's on Amazon Prime", "available on Disney+"),
}
LIGHT = ("Film-Noir", "Horror", "War")
KIDS = ("Animation", "Children's")
EXCITING = ("Action", "Adventure", "Thriller")
OLD_DECADES = (1920, 1930, 1940, 1950, 1960, 1970, 1980)


def pick(r: random.Random, options: str | tuple[str, ...]) -> str:
    return r.choice(options.split("|") if isinstance(options, str) else options)


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def fill(r: random.Random, lang: str, pattern: str, genres: Iterable[str] = (), **extra: Any) -> str:
    """One variant of ``pattern`` ("{s} or {s2}") with each genre's words: {s} one of it ("a comedy"), {p}
    several ("comedies"), {b} bare / negation ("comedy"; "sin comedia"), {n} (en) its noun ("comedy")."""
    slots = dict(extra)
    for n, g in enumerate(genres, 1):
        tag = "" if n == 1 else str(n)
        for slot, index in (("s", 0), ("p", 1), ("b", 2)):
            slots[slot + tag] = pick(r, LEX[lang][g][index])
        slots["n" + tag] = slots["s" + tag].split(" ", 1)[1]
    return pick(r, pattern).format(**slots)


def say(r: random.Random, lang: str, x: str) -> str:
    """``x`` (a noun phrase) in a request frame ("can you recommend {x}?"), maybe with soft words."""
    simple = x.startswith(("a ", "an ")) and not re.search(r"[,;]| - ", x)  # "what's {x} I should watch?"
    frames = [f for f in FRAMES[lang] if simple or not f.endswith("watch?")]
    m = re.fullmatch(r"(.*?)(\s*\?)?", r.choice(frames).format(x=x))
    assert m is not None
    return cap(m.group(1) + r.choice(SOFT[lang]) + (m.group(2) or ""))


def decade(r: random.Random) -> int:
    return r.choice((1930, 1940, 1950, 1960, 1970, 1980, 1990, 1990, 1980))


def dec(r: random.Random, lang: str, d: int, form: str = "") -> str:
    """"from the 90s" / "de los años 90" / "des années 90" / "aus den 90ern" (``form``: "num" or "word")."""
    yy, word = f"{d % 100:02d}", DECADE_WORDS[lang][(d - 1920) // 10]
    words = (form or r.choice(("num", "num", "word"))) == "word"
    forms = {"en": (f"from the {word}", f"from the {yy}s|from the {d}s|from the '{yy}s"),
             "es": (f"de los {word}", f"de los años {yy}|de los {yy}|de la década de {d}"),
             "fr": (f"des années {word}", f"des années {yy}|des années {d}"),
             "de": (f"aus den {word}", f"aus den {yy}ern|aus den {yy}er Jahren|aus den {d}ern")}[lang]
    return forms[0] if words else pick(r, forms[1])


def an(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def low(sentence: str) -> str:
    return sentence if re.match(r"I\b", sentence) else sentence[:1].lower() + sentence[1:]
