"""The words the deterministic request parser knows, in English, Spanish, French and German.

Each table maps a regular expression (matched case-insensitively on accent-folded text, whole words) to
what it means.  Genre values are the MovieLens genre names; a catalog with other genres never matches those.
The *intents* are the loose phrases ("for my kids", "something light") read through a fixed table of hard
constraints, so that a request means the same whether the words were caught here or by the LLM reader.
"""

from __future__ import annotations

import re

__all__ = [
           "COUNT",
           "DECADE_WORDS",
           "GENRES",
           "INTENTS",
           "INTENT_WORDS",
           "ITEM_WORDS",
           "NEGATION",
           "NUMBER_WORDS",
           "UNIT_WORDS",
           "UNSUPPORTED",
]

_F = re.IGNORECASE

#: Genre words (after accent folding: "comédie" is matched as "comedie").
GENRES: list[tuple[str, tuple[str, ...]]] = [
    ((r"romantic[\s-]+comed(?:y|ies)|rom[\s-]?coms?|comedias?\s+romanticas?|comedies?\s+romantiques?"
     r"|liebeskomodien?|romantische\s+komodien?"), ("Comedy", "Romance")),
    (r"action[\s-]+comed(?:y|ies)|actionkomodien?", ("Action", "Comedy")),
    (r"dramed(?:y|ies)", ("Comedy", "Drama")),
    (r"liebesdram(?:a|en)", ("Drama", "Romance")),
    (r"krimidram(?:a|en)", ("Crime", "Drama")),
    (r"comedies?\s+musicales?|musicalkomodien?", ("Musical",)),
    ((r"sci[\s-]?fi|science[\s-]+fiction|space[\s-]+operas?|ciencia[\s-]+ficcion|science-fiction"
     r"|ciencia-ficcion"), ("Sci-Fi",)),
    (r"(?:film|neo)[\s-]+noirs?|noirs?|cine\s+negro", ("Film-Noir",)),
    ((r"romances?|romantic|love[\s-]+stor(?:y|ies)|romantic[oa]s?|romantiques?|romantisch\w*|romantik"
     r"|liebesfilme?|romanzen?|historias?\s+de\s+amor|histoires?\s+d'?\s*amour"), ("Romance",)),
    (r"comed(?:y|ies)|comedias?|comedies?|komodien?", ("Comedy",)),
    ((r"action(?:[\s-]+(?:packed|movies?|films?|flicks?))?|actioners?|martial[\s-]+arts|accion|actionfilme?"
     r"|peliculas?\s+de\s+accion"), ("Action",)),
    (r"adventures?|adventurous|aventuras?|aventures?|abenteuer\w*", ("Adventure",)),
    ((r"animat(?:ed|ion)|cartoons?|anime|animad[ao]s?|animacion|dibujos\s+animados|animes?|dessins?\s+animes?"
     r"|zeichentrick\w*|animationsfilme?"), ("Animation",)),
    ((r"children['’]?s(?:\s+(?:movies?|films?))?|kids['’]?\s+(?:movies?|films?)|infantil(?:es)?"
     r"|pour\s+enfants|kinderfilme?|familienfilme?"), ("Children's",)),
    ((r"crime|criminal|gangsters?|heists?|mobsters?|mafia|crimen|policiac[ao]s?|policiers?|krimis?"
     r"|kriminalfilme?"), ("Crime",)),
    (r"documentar(?:y|ies|ios?)|documental(?:es)?|documentaires?|dokumentar\w*|dokus?", ("Documentary",)),
    (r"dramas?|dramatic|dramatiques?|drames?|dramen", ("Drama",)),
    (r"fantasy(?:filme?)?|fantasies|fantastical|fantasia|fantastiques?|fairy[\s-]+tales?|marchen\w*",
     ("Fantasy",)),
    (r"horror(?:s|filme?)?|slashers?|terror|de\s+miedo|horreur|d'?\s*epouvante|gruselfilme?", ("Horror",)),
    (r"musicals?|musicales?|comedies?\s+musicales?|musicalfilme?", ("Musical",)),
    (r"myster(?:y|ies)|whodunn?its?|misterios?|mysteres?|mystery-?filme?|a\s+enigmes?", ("Mystery",)),
    (r"thrillers?|suspenso|suspense", ("Thriller",)),
    (r"war(?:\s+(?:movies?|films?))?|guerra|guerre|kriegsfilme?|krieg|belic[ao]s?", ("War",)),
    (r"westerns?|westernfilme?|cowboys?|del\s+oeste|(?:de\s+)?vaqueros", ("Western",)),
]

#: Negation cues: a genre, intent or title after one of these (in the same clause) is excluded.
NEGATION = re.compile(
    r"\b(?:no(?:\s+more)?|not(?:\s+(?:a|an|any|too))?|minus|w/o\b|nada(?:\s+de)?|nothing(?:\s+(?:with|that'?s|too))?|none|without|never"
    r"|anything\s+but|except|excluding|other\s+than|skip|avoid|hate|don'?t\s+(?:want|like|show)|dont\s+want"
    r"|isn'?t|aren'?t|no\s+(?:to|way)|sin|ningun[ao]?|ni|sans|pas(?:\s+de|\s+d)?|aucun\w*|jamais"
    r"|ohne|keine?[nmrs]?|nicht|weder|bitte\s+keine?[nmrs]?)\b", _F)

#: Words that end a negation's scope ("no horror, but a comedy").
SCOPE_BREAK = re.compile(r"[.;:!?\n]|\s[-–—]\s|,(?!\s*(?:or|and|nor|ni|ou|oder|y|et|und)\b)"
                         r"|\b(?:but|pero|mais|aber|sondern|instead|rather|only|just|want|like|prefer)\b", _F)

#: Alternatives between positive genres ("a comedy or a drama"): genres_any.
ALTERNATIVE = re.compile(r"\b(?:or|either|o|ou|oder|whichever)\b", _F)

DECADE_WORDS = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
                "seventies": 1970, "eighties": 1980, "nineties": 1990, "veinte": 1920, "treinta": 1930,
                "cuarenta": 1940, "cincuenta": 1950, "sesenta": 1960, "setenta": 1970, "ochenta": 1980,
                "noventa": 1990, "zwanziger": 1920, "dreissiger": 1930, "dreißiger": 1930,  # folding keeps ß
                "vierziger": 1940, "funfziger": 1950, "sechziger": 1960, "siebziger": 1970, "achtziger": 1980,
                "neunziger": 1990, "trente": 1930,
                "quarante": 1940, "cinquante": 1950, "soixante": 1960, "soixante-dix": 1970,
                "quatre-vingt": 1980, "quatre-vingts": 1980, "quatre-vingt-dix": 1990}

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
                "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
                "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
                "nueve": 9, "diez": 10, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
                "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "zwei": 2,
                "drei": 3, "vier": 4, "funf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10}
_NUM = r"(?P<n>\d{1,2}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"
#: Words that name what is counted ("5 movies", "cinq films"); genre words count too ("three westerns").
ITEM_WORDS = re.compile(r"movies?|films?|flicks?|titles?|picks?|options?|recommendations?|suggestions?|ones?"
                        r"|peliculas?|pelis?|filmes?|filme", _F)
#: Words after a number that make it a quantity of something else ("2 hours", "5 stars", "90 minutes").
UNIT_WORDS = re.compile(r"hours?|hrs?|minutes?|mins?|seconds?|years?|stars?|out|of|percent|times|pm|am|horas?"
                        r"|heures?|stunden?|minuten?|minutos?|anos?|annees|jahre?n?|er|s", _F)
#: A count candidate: "top 3", or a number and the next word (checked by the parser).
_TOP = _NUM.replace("?P<n>", "?P<top>")
COUNT = re.compile(rf"\b(?:top\s+{_TOP}\b|{_NUM}\s+(?:more\s+)?(?P<next>[\w'-]+))", _F)

#: Loose phrases read through a fixed table: intent -> (genres_all, genres_any, genres_none).
INTENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "kids": (("Children's",), (), ()),
    "adults": ((), (), ("Animation", "Children's")),
    "light": ((), (), ("Film-Noir", "Horror", "War")),
    "scary": (("Horror",), (), ()),
    "funny": (("Comedy",), (), ()),
    "romantic": (("Romance",), (), ()),
    "exciting": ((), ("Action", "Adventure", "Thriller"), ()),
    "sad": (("Drama",), (), ()),
}
#: Exact phrasings of the intents that the deterministic parser reads itself (the LLM reads the rest).
INTENT_WORDS: list[tuple[str, str]] = [
    ((r"not\s+for\s+(?:the\s+)?(?:kids|children)|for\s+adults?(?:\s+only)?|adults?\s+only|grown[\s-]?ups?"
     r"|para\s+adultos|pour\s+adultes|fur\s+erwachsene"), "adults"),
    ((r"(?:for|with|w/)\s+(?:my\s+|the\s+|our\s+|little\s+|young\s+)*(?:kids|children|family|daughter"
      r"|son|little\s+ones)|(?:my|our)\s+(?:\d+|\w+)[\s-]+years?[\s-]+olds?|(?:the\s+)?whole\s+family"
      r"|kids?\s+stuff"
     r"|family[\s-]+(?:friendly|movie|film|night)|kid[\s-]+friendly|para\s+(?:los\s+)?ninos"
     r"|pour\s+(?:les\s+)?enfants|fur\s+(?:die\s+)?kinder"), "kids"),
    ((r"light(?:hearted|[\s-]+hearted)?|feel[\s-]?good|easy[\s-]+watching|uplifting|ligera|leger\w*"
     r"|leichte?n?"), "light"),
    (r"scary|spooky|creepy|frightening|terrifying|de\s+miedo|qui\s+fait\s+peur|gruselig|zum\s+gruseln",
     "scary"),
    (r"funny|hilarious|makes?\s+me\s+laugh|laugh[\s-]+out[\s-]+loud|divertida|graciosa|drole|lustig|witzig",
     "funny"),
    (r"date[\s-]+night", "romantic"),
    ((r"exciting|edge[\s-]+of[\s-]+(?:my|your|the)[\s-]+seat|adrenaline|thrilling|emocionante|palpitant\w*"
     r"|spannend\w*"), "exciting"),
    ((r"tear[\s-]?jerkers?|makes?\s+me\s+cry|good\s+cry|sad|triste|traurig|(?:me\s+haga\s+)?llorar"
     r"|pleurer|weinen"), "sad"),
]

#: Constraints the catalog cannot express, by kind (reported back as not understood, never guessed).  Matched
#: on the original text, case-sensitively where a capital is the evidence (names, places).
UNSUPPORTED: list[tuple[str, str]] = [
    ((r"\b(?:in|en|auf)\s+(?:english|french|spanish|german|italian|japanese|korean|chinese|hindi|russian"
     r"|frances|espanol|ingles|aleman|anglais|allemand|espagnol|deutsch|englisch|franzosisch|spanisch)\b"
     r"|\b(?:english|french|spanish|german|italian|japanese|korean|chinese|hindi|foreign)[\s-]+language\b"
     r"|\bsubtitle[ds]?\b|\bdubbed\b|\bsubtitulad[ao]s?\b|\bsous[\s-]+titre\w*|\bvost?\w*\b|\buntertitel\w*\b"
     r"|\boriginal\s+(?:language|version)\b"), "language"),
    ((r"\b(?:under|less\s+than|shorter\s+than|over|more\s+than|longer\s+than|at\s+most|no\s+longer\s+than"
     r"|max(?:imum)?|around|about|no\s+more\s+than|menos\s+de|moins\s+de|unter|weniger\s+als)\s+(?:an?\s+|\d+(?:[.,]\d+)?\s*"
     r"|one\s+|two\s+|three\s+|ninety\s+|dos\s+|deux\s+|zwei\s+)?(?:hours?|hrs?|minutes?|mins?|horas?|heures?"
     r"|stunden?|minuten?)\b|\b(?:short|long|quick)\s+(?:movies?|films?|ones?)\b|\bshort(?:er)?\b|\btoo\s+long\b"
     r"|\b(?:runtime|running\s+time|duration)\b|\b\d+\s*(?:min|minutes)\b"), "runtime"),
    ((r"\b(?i:with|starring|featuring|directed\s+by|by\s+director|by|con|avec|mit)\s+(?:[A-Z][a-z]+"
     r"(?:\s+(?:de\s+|van\s+|von\s+)?[A-Z][\w'-]+)+)|\b(?i:actor|actress|director|cast|starring|directed)\b"
     r"|\b(?i:dirig\w*\s+(?:por|par)|regie)\b"), "person"),
    (r"\b(?:rated\s+(?:g|pg|r|nc-?17)|pg(?:-?13)?|r[\s-]+rated|nc-?17|mpaa|age[\s-]+rating)\b", "rating"),
    ((r"\b(?i:set|takes?\s+place|filmed|shot|located)\s+(?i:in)\s+(?!(?i:the\s+)?(?:\d|(?i:early|late|mid"
      r"|past|future|space)\b))(?i:[a-z]\w+)(?:\s+[A-Z]?[a-z]+)?"
      r"|\b(?i:ambientad[ao]|se\s+deroul\w*)\s+(?i:en|a)\s+[A-Z]\w+"), "place"),
    ((r"\b(?:on|en|auf|sur)\s+(?:netflix|hulu|amazon(?:\s+prime)?|prime\s+video|disney\+?|hbo(?:\s+max)?|max"
     r"|apple\s+tv\+?|youtube|peacock|paramount\+?)\b|\bstreaming\b"), "platform"),
]
