"""Text helpers behind :mod:`llmrec.explain.claims`: folding, word tokens, cue/genre/year vocabularies.

Genre vocabulary (case-insensitive, whole words; a phrase may claim two genres):

=============  ======================================================================================
Action         action, action-packed, actioner, martial arts
Adventure      adventure(s), adventurous, swashbuckler/-ing
Animation      animated, animation, cartoon(s), anime
Children's     children's, kid-friendly, kids' movie/film/fare..., for (the) kids/children/whole family,
               family film/movie/fare/classic/entertainment, family-friendly
Comedy         comedy, comedies, comedic, funny, hilarious, humorous, laugh-out-loud, slapstick, satire,
               satirical, farce; "romantic comedy"/"rom-com" -> Romance + Comedy; "dramedy" -> Drama + Comedy
Crime          crime, criminal(s), gangster(s), heist(s), mobster(s), mafia, mob
Documentary    documentary, documentaries
Drama          drama(s), dramatic, melodrama(s), melodramatic
Fantasy        fantasy, fantasies, fantastical, fairy tale(s)
Film-Noir      noir, film noir, film-noir, neo-noir
Horror         horror (not "horrors" nor "the horror of ..."), slasher(s)
Musical        musical(s) (not "musical score/soundtrack/talent...")
Mystery        mystery, mysteries, whodunit
Romance        romance(s), romantic, love story/stories
Sci-Fi         sci-fi, sci fi, scifi, science fiction, space opera
Thriller       thriller(s)
War            war, wars, wartime
Western        western(s) (not "Western world/culture/Europe/front..."), cowboy(s)
=============  ======================================================================================

Deliberately NOT genre claims: tone adjectives that any genre can carry — "thrilling", "thrills",
"suspense(ful)", "scary", "dark", "gritty", "witty", "quirky", "humor", "heartwarming", "epic",
"mysterious", "family" on its own ("a family drama" claims Drama only), "children"/"kids" on their own.

Years: 1900-2029 as whole numbers, decades as "1990s"/"1990's"/"90s"/"'90s"/"the nineties" (early/mid/
late allowed).  Years after "set in", "takes place in" or "during" describe the story, not the release,
and are skipped.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

__all__ = ["CLAUSE_BREAK", "CONNECTIVES", "NOT_TITLE_WORDS", "POSTFIX", "RUN_GAP", "WORD", "YEAR_AFTER",
           "Tok", "cap_run", "find_cues", "find_genres", "find_years", "fold", "paren_end", "sentence_keys",
           "split_title_aliases", "title_like", "token_after", "tokenize"]

#: Lower-case words allowed inside a capitalised title run ("Return of the Jedi").
CONNECTIVES = frozenset({"of", "the", "and", "a", "an", "in", "to", "on"})
#: Capitalised words that do not make a title on their own (pronouns, genre and film words).
NOT_TITLE_WORDS = frozenset({
    "i", "you", "we", "they", "he", "she", "it", "this", "that", "these", "those",
    "his", "her", "their", "its",
    "my", "your", "our", "both", "all", "some", "many", "most", "every", "each", "any", "one", "another",
    "other", "such", "what", "which", "who", "movie", "movies", "film", "films", "cinema", "classic",
    "classics", "genre", "genres", "story", "stories", "hollywood", "action", "adventure", "adventures",
    "animation", "animated", "children", "childrens", "kids", "comedy", "comedies", "crime", "documentary",
    "documentaries", "drama", "dramas", "fantasy", "noir", "horror", "musical", "musicals", "mystery",
    "mysteries", "romance", "romances", "romantic", "sci", "fi", "scifi", "science", "fiction", "thriller",
    "thrillers", "war", "western", "westerns",
})

_GENRE_PATTERNS: list[tuple[str, tuple[str, ...]]] = [
    (r"romantic[\s-]+comed(?:y|ies)|rom[\s-]?coms?", ("Romance", "Comedy")),
    (r"dramed(?:y|ies)", ("Drama", "Comedy")),
    (r"sci[\s-]?fi|science[\s-]+fiction|space[\s-]+operas?", ("Sci-Fi",)),
    (r"(?:film|neo)[\s-]+noirs?|noirs?", ("Film-Noir",)),
    (r"love[\s-]+stor(?:y|ies)|romances?|romantic", ("Romance",)),
    ((r"comed(?:y|ies)|comedic|funny|hilarious|humorous|laugh[\s-]+out[\s-]+loud|slapstick"
      r"|satir(?:e|es|ical)|farces?"), ("Comedy",)),
    (r"action(?:[\s-]+packed)?|actioners?|martial[\s-]+arts", ("Action",)),
    (r"adventures?|adventurous|swashbuckl(?:ers?|ing)", ("Adventure",)),
    (r"animat(?:ed|ion)|cartoons?|anime", ("Animation",)),
    ((r"children['’]?s|kid[\s-]+friendly|kids['’]?(?=\s+(?:movies?|films?|flicks?|fare|classics?|stor(?:y|ies)))"
      r"|for\s+(?:the\s+)?(?:kids|children|whole\s+family)"
      r"|family[\s-]+(?:friendly|films?|movies?|fare|classics?|entertainment)"), ("Children's",)),
    (r"crime|criminals?|gangsters?|heists?|mobsters?|mafia|mob", ("Crime",)),
    (r"documentar(?:y|ies)", ("Documentary",)),
    (r"dramas?|dramatic|melodramas?|melodramatic", ("Drama",)),
    (r"fantas(?:y|ies)|fantastical|fairy[\s-]+tales?", ("Fantasy",)),
    (r"horror(?!s\b|\s+of\b)|slashers?", ("Horror",)),
    (r"musicals?(?!\s+(?:score|scores|soundtrack|talents?|cues?|background|tastes?|genius|director)\b)",
     ("Musical",)),
    (r"myster(?:y|ies)|whodunn?its?", ("Mystery",)),
    (r"thrillers?", ("Thriller",)),
    (r"war(?:time|s)?", ("War",)),
    ((r"westerns?(?!\s+(?:world|culture|europe|society|civilization|values|countries|front|hemisphere)\b)"
      r"|cowboys?"), ("Western",)),
]
_GENRES = re.compile("|".join(f"(?P<g{k}>\\b(?:{p})\\b)" for k, (p, _) in enumerate(_GENRE_PATTERNS)),
                     re.IGNORECASE)

_DECADE_WORDS = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
                 "seventies": 1970, "eighties": 1980, "nineties": 1990}
_YEARS = re.compile(
    r"(?<![\w'’$])(?P<full>(?:19|20)\d0)['’]?s\b"
    r"|(?<![\w$])['’]?(?P<short>\d)0['’]?s\b"
    r"|\bthe\s+(?:early\s+|late\s+|mid[\s-]+)?(?P<word>" + "|".join(_DECADE_WORDS) + r")\b"
    r"|(?<![\w$.,])(?P<year>19\d\d|20[0-2]\d)\b(?![.,]\d)", re.IGNORECASE)
_STORY_TIME = re.compile(r"(?:\b(?:set|takes\s+place|taking\s+place|unfold(?:s|ing)?)\s+in|\bduring)\s+"
                         r"(?:the\s+)?(?:(?:early|late|mid)[\s-]+)?$", re.IGNORECASE)

_ALT_TITLE = re.compile(r"^(?P<head>.+?)\s*\((?P<alt>[^()]+)\)\s*$")
_SENTENCE = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|\n+")
_SENT_WORD = re.compile(r"[^\W_]+|[\ue000\ue001]")
_MASKS = {"\ue000": "<title>", "\ue001": "<year>"}

# -- cues ----------------------------------------------------------------------------------------------
_CUES = re.compile(
    r"\b(?:(?P<hist>(?:if|since|because|as|given that) you (?:really |also |both )?like|re-?watched|watched"
    r"|liked|loved|enjoyed|adored|appreciated|saw|seen|viewed|rated|favou?rites?|fans? of"
    r"|(?:love|fondness|enjoyment|appreciation|interest|passion|affinity|taste) (?:for|of|in))"
    r"|(?P<comp>such as|similar to|reminiscent of|in the (?:vein|spirit|style|tradition) of"
    r"|along the lines of|compared to|comparable to|akin to|like))\b", re.IGNORECASE)
_YOU = frozenset({"you", "your", "youve", "youd", "youre", "yours"})
_LIKE_VERB = frozenset({"i", "you", "we", "they", "would", "will", "may", "might", "could", "should", "to",
                        "also", "really", "youd", "youll", "definitely", "probably", "likely", "surely"})
#: Where a history cue's clause ends: punctuation, or the turn to the recommendation ("you'll", "try").
CLAUSE_BREAK = re.compile(r"[.;:!?\n—–,]|\b(?:you(?:['’]ll|['’]d| will| may| might| should| would| could"
                          r"| can)|try|recommend\w*|check out|consider|so|but|then)\b", re.IGNORECASE)
#: Text between a title and a later history cue that still refers back to it ("..., which you loved").
POSTFIX = re.compile(r"\s*,?\s*(?:(?:which|that|(?:both|all|each) of which)\s+)?(?:you(?:['’]ve| have| had)?"
                     r"|(?:were|are|was|is)(?:\s+(?:among|some of|one of))?\s+your)(?:\s+(?:really|both|all"
                     r"|also|clearly|recently|already|previously|especially|highly|truly))*\s*",
                     re.IGNORECASE)


def find_cues(text: str) -> list[tuple[int, int, str, bool]]:
    """(start, end, phrase, is_history) for each cue phrase.

    A watched/liked word is a history cue only with "you/your" among the four words before it in its
    clause; "fan(s) of" without it is a comparison cue; "like" after "you'd/would/may..." is a verb, no cue.
    """
    cues = []
    for m in _CUES.finditer(text):
        phrase = m.group()
        low = phrase.casefold()
        clause = re.split(r"[.;!?,\n]", text[max(0, m.start() - 50):m.start()])[-1]
        before = [fold(w) for w in WORD.findall(clause)]
        if m["hist"]:
            personal = bool(_YOU.intersection(before[-4:])) or " you " in f" {low} "
            personal |= low.endswith("fan of") and before[-2:] in (["as", "a"], ["as", "an"])
            if personal:
                cues.append((m.start(), m.end(), phrase, True))
            elif low.endswith(("fan of", "fans of")):
                cues.append((m.start(), m.end(), phrase, False))
        elif not (low == "like" and before and before[-1] in _LIKE_VERB):
            cues.append((m.start(), m.end(), phrase, False))
    return cues


@lru_cache(maxsize=1 << 16)
def fold(word: str) -> str:
    """Casefold, strip accents (é -> e, Á -> a) and apostrophes."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c) and c not in "'’")


def split_title_aliases(title: str) -> list[str]:
    """A title and, for "Seven (Se7en)", also "Seven" and "Se7en" — how people actually write it."""
    m = _ALT_TITLE.match(title)
    return [title, m["head"], m["alt"]] if m else [title]


def _outside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return all(end <= s or start >= e for s, e in spans)


def find_genres(text: str, excluded: list[tuple[int, int]]) -> list[tuple[str, int, int, str]]:
    """(text, start, end, genre) for each genre word outside the ``excluded`` character spans."""
    out = []
    for m in _GENRES.finditer(text):
        if _outside(m.start(), m.end(), excluded):
            for genre in _GENRE_PATTERNS[int(m.lastgroup[1:])][1]:  # type: ignore[index]
                out.append((m.group(), m.start(), m.end(), genre))
    return out


def find_years(text: str, excluded: list[tuple[int, int]]) -> list[tuple[str, int, int, int, bool]]:
    """(text, start, end, year, is_decade) for each release-year claim outside ``excluded`` spans."""
    out = []
    for m in _YEARS.finditer(text):
        if not _outside(m.start(), m.end(), excluded) or _STORY_TIME.search(text, max(0, m.start() - 40),
                                                                             m.start()):
            continue
        if m["full"]:
            out.append((m.group(), m.start(), m.end(), int(m["full"]), True))
        elif m["short"]:
            d = int(m["short"])
            out.append((m.group(), m.start(), m.end(), 2000 if d == 0 else 1900 + 10 * d, True))
        elif m["word"]:
            out.append((m.group(), m.start(), m.end(), _DECADE_WORDS[m["word"].casefold()], True))
        else:
            out.append((m.group(), m.start(), m.end(), int(m["year"]), False))
    return out


def sentence_keys(text: str, titles: list[tuple[int, int]], years: list[tuple[int, int]]) -> list[str]:
    """Normalized sentences with title spans read as "<title>" and years as "<year>".

    Masking makes "Because you watched X, you may enjoy Y." the same sentence for every X and Y, so the
    share of distinct sentences measures how templated explanations are.
    """
    marks = sorted([(s, e, "\ue000") for s, e in titles] + [(s, e, "\ue001") for s, e in years])
    parts, pos = [], 0
    for s, e, mark in marks:
        if s >= pos:
            parts += [text[pos:s], mark]
            pos = e
    parts.append(text[pos:])
    out = []
    for sentence in _SENTENCE.split("".join(parts)):
        words = [_MASKS.get(w) or fold(w) for w in _SENT_WORD.findall(sentence)]
        if words:
            out.append(" ".join(words))
    return out


# -- tokens ---------------------------------------------------------------------------------------------
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|(?<=\s)&(?=\s)")
YEAR_AFTER = re.compile(r"\s*\((?P<year>(?:18|19|20)\d\d)\)")
_SENTENCE_BREAK = re.compile(r"[.!?\n]")
RUN_GAP = re.compile(r"[ \t]*|[ \t]*[:/][ \t]*|-")


class Tok(NamedTuple):
    """A word of the text: character span, folded form, and the capitalisation facts the rules need."""

    start: int
    end: int
    norm: str
    base: str      # norm without a possessive "s"
    cap: bool
    initial: bool  # first word of a sentence


def paren_end(text: str, end: int) -> int:
    """End of a "(1995)" right after position ``end``, else ``end``."""
    m = YEAR_AFTER.match(text, end)
    return m.end() if m else end


def tokenize(text: str) -> list[Tok]:
    """Word tokens of ``text`` (inner apostrophes kept in the word, "&" read as "and")."""
    toks: list[Tok] = []
    prev_end = 0
    for m in WORD.finditer(text):
        raw = m.group()
        norm = "and" if raw == "&" else fold(raw)
        base = norm[:-1] if len(raw) > 2 and raw[-2] in "'’" and raw[-1] in "sS" else norm
        initial = not toks or _SENTENCE_BREAK.search(text, prev_end, m.start()) is not None
        toks.append(Tok(m.start(), m.end(), norm, base, raw[0].isupper(), initial))
        prev_end = m.end()
    return toks


def token_after(toks: list[Tok], text: str, pos: int, strict: bool = False) -> int:
    """Index of the first token at/after ``pos`` in the same clause (``strict``: starting exactly there)."""
    for k, t in enumerate(toks):
        if t.start >= pos:
            if strict and t.start != pos:
                return len(toks)
            return len(toks) if re.search(r"[.;!?\n,]", text[pos:t.start]) else k
    return len(toks)


def cap_run(text: str, toks: list[Tok], j: int, stops: set[int], connectives: bool = True) -> int:
    """End of the capitalised run from token ``j`` (inner connectives allowed; stops before a mention)."""
    last = j + 1
    k = j + 1
    while k < len(toks) and k not in stops and RUN_GAP.fullmatch(text[toks[k - 1].end:toks[k].start]):
        if toks[k].cap or toks[k].norm.isdigit():
            last = k + 1
        elif not connectives or toks[k].norm not in CONNECTIVES:
            break
        k += 1
    return last


def title_like(toks: list[Tok], strict: bool = True) -> bool:
    """Mostly capitalised, not pronouns/genre words only, not a possessive person's name."""
    if not toks or len(toks) > 15 or not (toks[0].cap or toks[0].norm.isdigit()):
        return False
    if toks[0].norm in NOT_TITLE_WORDS or all(t.norm in NOT_TITLE_WORDS for t in toks):
        return False
    if toks[-1].base != toks[-1].norm and not strict:
        return False
    content = [t for t in toks if t.norm not in CONNECTIVES]
    return bool(content) and sum(t.cap or t.norm.isdigit() for t in content) * 2 >= len(content)
