"""Deterministic request parsing: the exact parts of a request in plain language, in code.

    parser = RequestParser(catalog)
    query = parser.parse("like Toy Story but for adults, no horror, nothing before 1990")
    query.interpretation(catalog)   # "no Animation, no Children's, no Horror, from 1990 on; like Toy Story"

What is exact is read here, in English, Spanish, French and German (:mod:`llmrec.converse.lexicon`): catalog
titles (:class:`~llmrec.converse.titles.TitleMatcher`) as seeds ("like X") or exclusions ("not X", "I've
seen X"), genre words and their negation, years, decades and ranges, counts, the exact phrasings of the loose
intents ("for my kids", "something light"), and the constraints the catalog cannot express (language,
runtime, people, age ratings, places, platforms), which are reported, never guessed.  What is left is the
soft remainder, split into clauses: :class:`~llmrec.converse.reader.IntentReader` (the LLM) reads the loose
ones; recall and the ranking prompt use the rest as text.

A word is read once: each reading masks its span, in the order titles, unsupported asks, counts, years,
intents, genres.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from llmrec.converse.lexicon import (
    ALTERNATIVE,
    COUNT,
    DECADE_WORDS,
    GENRES,
    INTENT_WORDS,
    INTENTS,
    ITEM_WORDS,
    NEGATION,
    NUMBER_WORDS,
    SCOPE_BREAK,
    UNIT_WORDS,
    UNSUPPORTED,
)
from llmrec.converse.query import Constraints, Query, catalog_genres
from llmrec.converse.titles import TitleMatcher, is_genre
from llmrec.data import Catalog

__all__ = ["Parsed", "RequestParser", "apply_intents", "fold_text", "intent_constraints"]

_F = re.IGNORECASE
_GENRE_RE = re.compile("|".join(f"(?P<g{k}>\\b(?:{p})\\b)" for k, (p, _) in enumerate(GENRES)), _F)
_INTENT_RE = re.compile("|".join(f"(?P<i{k}>\\b(?:{p})\\b)" for k, (p, _) in enumerate(INTENT_WORDS)), _F)
_UNSUPPORTED = [(re.compile(p) if kind in ("person", "place") else re.compile(p, _F), kind)
                for p, kind in UNSUPPORTED]
_SEED_CUE = re.compile(r"\b(?:like|similar\s+to|such\s+as|(?:in\s+)?the\s+(?:vein|style|spirit)\s+of"
                       r"|reminiscent\s+of|comparable\s+to|along\s+the\s+lines\s+of|a\s+la|as\s+good\s+as"
                       r"|como|parecid[ao]s?\s+a|similar(?:es)?\s+a|al\s+estilo\s+de|comme|dans\s+le\s+genre\s+de"
                       r"|semblables?\s+a|facon|wie|ahnlich\s+wie|im\s+stil\s+von)\s*$", _F)
_SEEN_BEFORE = re.compile(r"\b(?:seen|saw|watched|already|ya\s+vi|visto|vu|gesehen|kenne)\b[^.;!?]*$", _F)
_SEEN_AFTER = re.compile(r"^\s*(?:(?:schon|bereits|deja|ya)\s+(?:gesehen|vu|visto)|already\b"
                         r"|,?\s*(?:which|that|que|den|die|das)\s+)?"
                         r"(?:i(?:'ve|\s+have)?\s+(?:already\s+)?"
                         r"(?:seen|watched|saw)|(?:is|was)\s+(?:already\s+)?(?:seen|watched)|already\s+seen"
                         r"|ya\s+(?:la|lo)\s+vi|je\s+l'?ai\s+(?:deja\s+)?vu|hab(?:e)?\s+ich\s+(?:schon\s+)?gesehen)",
                         _F)
_YEAR = r"(?:19\d\d|20[0-2]\d)"
_DECADE = (r"(?:(?:the|los|las|les|den|der|die)\s+)?(?:(?:early|late|mid)[\s-]+)?(?:"
           r"(?P<full>(?:19|20)\d0)['’]?s\b|['’]?(?P<short>\d0)['’]?s\b|(?P<word>"
           + "|".join(DECADE_WORDS) + r")(?:jahren?|n)?\b"  # German: "den Siebzigern", "Siebzigerjahre"
           r"|(?:anos|decada\s+de(?:\s+los)?|annees)\s+(?:(?:19)?(?P<rom>\d0)\b"
           r"|(?P<romword>" + "|".join(sorted(DECADE_WORDS, key=len, reverse=True)) + r"))"
           r"|(?:19)?(?P<de>\d0)er(?:\s+jahre\w*|n)?\b|(?<=los\s)(?P<los>\d0)\b)")
_SPAN = rf"(?:(?P<year>{_YEAR})\b|{_DECADE})"
_BEFORE = (r"before|older\s+than|alter\s+als|fruher\s+als"
           r"|earlier\s+than|prior\s+to|pre|antes\s+de(?:l|\s+los)?|anterior(?:es)?\s+a"
           r"|avant(?:\s+les)?|vor(?:\s+den)?")
_AFTER = (r"after|newer\s+than|neuer\s+als|junger\s+als|spater\s+als"
          r"|later\s+than|more\s+recent\s+than|post|despues\s+de(?:l|\s+los)?"
          r"|posterior(?:es)?\s+a|apres(?:\s+les)?|nach(?:\s+den)?")
_SINCE = r"since|from|starting(?:\s+in)?|desde|depuis|a\s+partir\s+de|seit|ab(?:\s+dem\s+jahr)?"
_UNTIL = r"until|till|up\s+to|through|hasta|jusqu'?\s*(?:a|en)|bis"
_SINCE_TAIL = r"\s+(?:on(?:wards)?|or\s+(?:later|newer|after)|and\s+(?:later|newer|after|up))"
_UNTIL_TAIL = r"\s+or\s+(?:earlier|older|before)"
_RANGE = re.compile(rf"\b(?:between|from|entre|de|des|von|zwischen)\s+"
                    rf"(?P<a>{_YEAR}|{_DECADE.replace('?P<', '?P<a_')})"
                    rf"\s+(?:and|to|-|y|a|et|bis|und)\s+(?P<b>{_YEAR}|{_DECADE.replace('?P<', '?P<b_')})", _F)
_OR_DECADES = re.compile(rf"{_DECADE.replace('?P<', '?P<a_')}\s+(?:or|and|o|y|ou|et|oder|und)\s+"
                         rf"{_DECADE.replace('?P<', '?P<b_')}", _F)
_OPERATOR = re.compile(rf"(?P<neg>\b(?:nothing|not|no|pas|nicht|nada|rien|nichts|keine?)"
                       rf"(?:\s+(?!{_BEFORE}|{_AFTER})\w+)?\s+)?\b(?:(?P<before>"
                       rf"{_BEFORE})|(?P<after>{_AFTER})|(?P<since>{_SINCE})|(?P<until>{_UNTIL}))\s+{_SPAN}"
                       rf"(?:(?P<since_t>{_SINCE_TAIL})|(?P<until_t>{_UNTIL_TAIL}))?", _F)
_TAILED = re.compile(rf"{_SPAN}(?:(?P<since_t>{_SINCE_TAIL})|(?P<until_t>{_UNTIL_TAIL}))", _F)
_BARE = re.compile(_SPAN, _F)
_STORY_TIME = re.compile(r"(?:set|takes\s+place|taking\s+place)\s+in\s+(?:the\s+)?$", _F)
_WORDS = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_FILLER = frozenset([
    "a", "an", "the", "some", "something", "anything", "i", "im", "i'm", "me", "my", "we", "us", "our",
    "you", "your", "please", "give", "show", "recommend", "recommendation", "recommendations",
    "suggest", "want", "would", "like", "to", "watch", "see", "looking", "for", "find", "need",
    "tonight", "today", "movie", "movies", "film", "films", "flick", "flicks", "one", "ones", "with",
    "and", "or", "of", "in", "for", "that", "is", "it", "but", "just", "maybe", "also", "really",
    "good", "great", "nice", "any", "kind", "sort", "type", "can", "could", "you'd", "id", "i'd",
    "love", "get", "let's", "lets", "hey", "hi", "hello", "more", "quiero", "busco", "una", "un",
    "unos", "unas", "algo", "pelicula", "peliculas", "je", "veux", "un", "une", "des", "film", "films",
    "quelque", "chose", "ich", "möchte", "mochte", "einen", "ein", "eine", "film", "filme", "etwas",
    "bitte", "por", "favor", "s'il", "te", "plait", "no", "not", "nothing", "none", "without", "sin",
    "sans", "ohne", "keine", "kein", "keinen", "nicht", "pas", "de", "des", "del", "los", "las", "aus",
    "den", "der", "die", "la", "le", "les", "el", "bit", "released", "from", "on", "since", "before",
    "after", "than", "older", "newer", "too", "very", "so", "much", "lot", "lots", "watch", "watching",
    "seen", "new", "have", "already"
])


def fold_text(text: str) -> str:
    """Lower-cased, accents stripped, character for character (spans of the result are spans of ``text``)."""
    out = []
    for c in text:
        base = unicodedata.normalize("NFKD", c)[:1] or c
        low = base.lower()
        out.append(low if len(low) == 1 else c)
    return "".join(out).replace("’", "'")


def intent_constraints(intent: str, negated: bool = False) -> Constraints:
    """The hard constraints a loose intent stands for (:data:`~llmrec.converse.lexicon.INTENTS`); negated,
    "nothing scary" excludes the genres "scary" requires, and "not for kids" reads as "adults"."""
    if negated and intent == "kids":
        intent, negated = "adults", False
    all_, any_, none = INTENTS[intent]
    if negated:
        return Constraints(genres_none=all_ + any_) if intent not in ("adults", "light") else Constraints()
    return Constraints(all_, any_, none)


@dataclass
class Parsed:
    """The deterministic reading: the query and the clauses left for the loose reader."""

    query: Query
    loose: list[tuple[str, bool]] = field(default_factory=list)  # (clause, negated) still to be read


class RequestParser:
    """Reads the exact parts of requests against one catalog (see the module doc)."""

    def __init__(self, catalog: Catalog, popularity: dict[int, int] | None = None) -> None:
        self.catalog = catalog
        self.genres = frozenset(catalog_genres(catalog))
        self.titles = TitleMatcher(catalog, popularity)

    def parse(self, text: str) -> Parsed:
        folded = fold_text(text)
        mask = [False] * len(text)
        seeds, excluded, notes = [], [], []

        def take(start: int, end: int) -> None:
            mask[start:end] = [True] * (end - start)

        titled = folded
        for m in self.titles.find(text):
            if self._excludes_title(titled, m.start, m.end):
                excluded.append(m.item)
                notes.append(f"title:exclude:{m.item}")
            else:
                seeds.append(m.item)
                notes.append(f"title:seed:{m.item}")
            take(m.start, m.end)
            titled = titled[:m.start] + "x" * (m.end - m.start) + titled[m.end:]  # "Mr." ends no clause
        unsupported = []
        for pattern, kind in _UNSUPPORTED:
            source = text if kind in ("person", "place") else folded
            for m in pattern.finditer(source):
                if not any(mask[m.start():m.end()]):
                    unsupported.append(kind)
                    take(m.start(), m.end())
        year_min, year_max = self._years(folded, mask, take)
        k = None
        for m in COUNT.finditer(folded):
            if not any(mask[m.start():m.end()]) and self._counts(m):
                n = m["n"] or m["top"]
                k = int(n) if n.isdigit() else NUMBER_WORDS.get(n.lower())
                group = "n" if m["n"] else "top"
                take(m.start() if group == "top" else m.start(group), m.end(group))
        constraints = Constraints(year_min=year_min, year_max=year_max, exclude_items=tuple(excluded))
        constraints = self._intents(folded, mask, take, constraints, notes)
        constraints = self._genres(folded, mask, take, constraints)
        clauses = self._clauses(self._remainder(text, mask))
        soft = ", ".join(clauses)
        loose = [(c, self._negated(fold_text(c), len(c), len(c))) for c in clauses]  # a cue in the clause
        query = Query(constraints, tuple(seeds), soft, k if k and 1 <= k <= 100 else None,
                      tuple(unsupported), tuple(notes))
        return Parsed(query, loose)

    @staticmethod
    def _counts(m: re.Match) -> bool:
        """Whether a number is a count of items: "top 3", "5 movies", "three westerns", "7 more" — not
        "2 hours", "5 stars"; a number word needs an item or genre word after it."""
        if m["top"] or re.search(r"\smore\s", m.group()):
            return True
        if re.search(r"\bin\s+$", m.string[max(0, m.start() - 4):m.start()]):  # "in one movie"
            return False
        nxt = m["next"]
        if ITEM_WORDS.fullmatch(nxt) or is_genre(nxt) or _GENRE_RE.match(nxt):
            return True
        return m["n"].isdigit() and UNIT_WORDS.fullmatch(nxt) is None and not nxt.isdigit()

    # -- titles ----------------------------------------------------------------------------------------
    def _excludes_title(self, folded: str, start: int, end: int) -> bool:
        clause_start = max((m.end() for m in SCOPE_BREAK.finditer(folded, 0, start)), default=0)
        before = folded[clause_start:start]
        if _SEEN_AFTER.match(folded, end):
            return True
        seed = _SEED_CUE.search(before.rstrip(" ,\"'“‘"))
        cues = [(m.end(), True) for m in NEGATION.finditer(before)]
        cues += [(m.start(), True) for m in _SEEN_BEFORE.finditer(before)]
        cues += [(len(before), False)] if seed else []
        # the nearest cue before the title decides; with none, a title is a seed ("Fargo but funnier")
        return max(cues)[1] if cues else False

    # -- years -----------------------------------------------------------------------------------------
    def _years(self, folded: str, mask: list[bool], take) -> tuple[int | None, int | None]:
        lo: list[int] = []
        hi: list[int] = []

        def free(m: re.Match) -> bool:
            return not any(mask[m.start():m.end()]) and not _STORY_TIME.search(folded, max(0, m.start() - 30),
                                                                               m.start())
        for m in _RANGE.finditer(folded):
            if free(m):
                a, b = _span(m, "a_", m["a"]), _span(m, "b_", m["b"])
                lo.append(min(a[0], b[0]))
                hi.append(max(a[1], b[1]))
                take(m.start(), m.end())
        for m in _OR_DECADES.finditer(folded):
            if free(m):
                a, b = _span(m, "a_"), _span(m, "b_")
                lo.append(min(a[0], b[0]))
                hi.append(max(a[1], b[1]))
                take(m.start(), m.end())
        for m in [*_OPERATOR.finditer(folded), *_TAILED.finditer(folded)]:
            if not free(m):
                continue
            first, last = _span(m, "")
            neg = bool(m.groupdict().get("neg"))
            op = next((k for k in ("before", "after", "since", "until") if m.groupdict().get(k)), None)
            if m["since_t"] or (op == "since" and fold_text(m["since"]) not in ("from", "starting")):
                lo.append(first)
            elif m["until_t"] or op == "until":
                hi.append(last)
            elif op == "before":
                (lo if neg else hi).append(first if neg else first - 1)
            elif op == "after":
                (hi if neg else lo).append(last if neg else last + 1)
            else:  # "from 1995", "from the 90s": released then
                lo.append(first)
                hi.append(last)
            take(m.start(), m.end())
        for m in _BARE.finditer(folded):
            if free(m):
                first, last = _span(m, "")
                lo.append(first)
                hi.append(last)
                take(m.start(), m.end())
        return (max(lo) if lo else None), (min(hi) if hi else None)

    # -- intents and genres ----------------------------------------------------------------------------
    def _negated(self, folded: str, start: int, end: int, base: int = 0) -> bool:
        """Whether a negation cue governs ``folded[start:end]`` (same clause, no scope break between)."""
        return any(not SCOPE_BREAK.search(folded, m.end(), start) for m in NEGATION.finditer(folded, base,
                                                                                           start))

    def _intents(self, folded: str, mask: list[bool], take, c: Constraints, notes: list[str]) -> Constraints:
        for m in _INTENT_RE.finditer(folded):
            if any(mask[m.start():m.end()]):
                continue
            intent = INTENT_WORDS[int(m.lastgroup[1:])][1]  # type: ignore[index]
            negated = self._negated(folded, m.start(), m.end()) and not m.group().startswith("not ")
            c = c.merged(self._known(intent_constraints(intent, negated)))
            notes.append(f"intent:{'not-' if negated else ''}{intent}")
            take(m.start(), m.end())
        return c

    def _known(self, c: Constraints) -> Constraints:
        """``c`` without the genres this catalog does not have."""
        keep = self.genres.__contains__
        return Constraints(tuple(filter(keep, c.genres_all)), tuple(filter(keep, c.genres_any)),
                           tuple(filter(keep, c.genres_none)), c.year_min, c.year_max, c.exclude_items)

    def _genres(self, folded: str, mask: list[bool], take, c: Constraints) -> Constraints:
        positive: list[tuple[int, int, tuple[str, ...]]] = []
        none: list[str] = []
        for m in _GENRE_RE.finditer(folded):
            if any(mask[m.start():m.end()]):
                continue
            genres = GENRES[int(m.lastgroup[1:])][1]  # type: ignore[index]
            if self._negated(folded, m.start(), m.end()):
                none.extend(genres)
            else:
                positive.append((m.start(), m.end(), genres))
            take(m.start(), m.end())
        all_, any_ = [], []
        for n, (start, end, genres) in enumerate(positive):
            prev_or = n > 0 and _alternative(folded, positive[n - 1][1], start)
            next_or = n + 1 < len(positive) and _alternative(folded, end, positive[n + 1][0])
            (any_ if prev_or or next_or else all_).extend(genres)
        found = self._known(Constraints(tuple(all_), tuple(any_), tuple(none)))
        return c.merged(found) if not found.is_empty() else c

    # -- the soft remainder ----------------------------------------------------------------------------
    @staticmethod
    def _remainder(text: str, mask: list[bool]) -> str:
        kept = "".join(" " if m else ch for ch, m in zip(text, mask))
        kept = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s+", " ", kept)).strip(" ,.;:!?-")
        return kept

    @staticmethod
    def _clauses(soft: str) -> list[str]:
        """Clauses of the soft remainder with a content word (the loose reader's input)."""
        out = []
        for clause in re.split(r"[,.;:!?\n]|\b(?:but|and|pero|mais|aber|y|et|und)\b", soft, flags=_F):
            words = [w for w in _WORDS.findall(fold_text(clause)) if w not in _FILLER]
            if words:
                out.append(clause.strip())
        return out


def _alternative(folded: str, end: int, start: int) -> bool:
    between = folded[end:start]
    return bool(ALTERNATIVE.search(between)) and not re.search(r"[.;!?]", between) and len(between) < 40


def _decade(m: re.Match, prefix: str) -> int | None:
    g = {k[len(prefix):]: v for k, v in m.groupdict().items() if k.startswith(prefix) and v}
    if "full" in g:
        return int(g["full"])
    for key in ("short", "rom", "de", "los"):
        if key in g:
            d = int(g[key])
            return 2000 if d == 0 else 1900 + d
    for key in ("word", "romword"):
        if key in g:
            return DECADE_WORDS[g[key].lower()]
    return None


def _span(m: re.Match, prefix: str, raw: str | None = None) -> tuple[int, int]:
    """The (first, last) release year a year or decade match covers."""
    year = raw if raw is not None and re.fullmatch(_YEAR, raw) else m.groupdict().get(f"{prefix}year")
    if year and re.fullmatch(_YEAR, year):
        return int(year), int(year)
    start = _decade(m, prefix)
    if start is None:
        raise ValueError(f"no year in {m.group()!r}")
    return start, start + 9


def apply_intents(parser: RequestParser, query: Query, loose: list[tuple[str, bool]],
                  intents: list[str | None]) -> Query:
    """``query`` with the intent read in each loose ``(clause, negated)`` merged in (its constraints from the
    fixed table, negated where the clause is); clauses read as no intent (None) stay soft text."""
    c, notes, left = query.constraints, list(query.notes), []
    for (clause, negated), intent in zip(loose, intents):
        if intent is None:
            left.append(clause)
            continue
        c = c.merged(parser._known(intent_constraints(intent, negated)))
        notes.append(f"llm:{'not-' if negated else ''}{intent}")
    return query.replace(constraints=c, notes=tuple(notes), text=", ".join(left))
