"""Fuzzy extraction of the factual claims an explanation makes, checked against a catalog.

An explanation is short English text attached to one recommended item.  :class:`ClaimExtractor` finds
title mentions (catalog titles, and title-like spans in no catalog), genre mentions (words mapped onto
the 18 MovieLens genres, see :mod:`llmrec.explain._text`) and year mentions (years and decades);
:func:`llmrec.explain.check.check_explanation` scores them against the item and the user's history.

Title rules (text and catalog both go through :func:`normalize_title`; a leading "the/a/an" is optional,
and so is a trailing ", The"; "Seven (Se7en)" is indexed as itself, "Seven" and "Se7en"):

1. Longest match first over whole words: "Alien 3" beats "Alien".  "Fargo's" matches *Fargo*.
2. A title of ONE content word ("Heat", "The Game") needs that word capitalised, 3+ characters, not
   glued to another capitalised word ("Jack Nicholson" is not *Jack*), not after "set in"/"born in"...
   ("set in Manhattan"), and at a sentence start possessive or followed by "is/was/offers/...", ", a/the"
   ("Heat is tense" but not "Kids will love it", "Trust me") — unless quoted or followed by "(1995)".
   So "the heat of the moment" never matches *Heat*.
3. A longer title needs title case ("Alien 3", "True Romance") or a capital off the sentence start ("the
   Usual Suspects").  All lower case ("true romance blossoms") it needs 3+ words counting a leading
   "the" ("the usual suspects") or a cue right before it ("if you liked usual suspects, the").
4. A title followed directly by a sequel number ("Toy Story 2"), or a multi-word title by another
   capitalised word ("Star Wars Episode I"), is a different title, in no catalog.
5. Titles in no catalog come from quotes ("...", '...', “...”, ‘...’, *...*, _..._) whose words are
   mostly capitalised, and from capitalised runs (inner "of/the/and/a/an/in/to/on", digits and colons
   allowed) right after a cue — a single word only after a history cue ("fans of Hitchcock" is a name).
   Pronoun/genre-word runs ("If you liked Westerns") and runs ending in a possessive (a person:
   "Quentin Tarantino's films") are not titles.

Cues.  A *history* cue presents titles as watched/liked by the user: watched, liked, loved, enjoyed,
adored, appreciated, saw, seen, viewed, rated, favorite(s), fan of, "your love/taste for", "if/since
you like" — and only with "you/your" among the four words before it, so "highly rated" and "loved by
critics" are not cues.  It covers the list of titles right after it ("A, B and C"), later titles in the
same clause (up to punctuation or the turn to the recommendation: "you'll", "try", "but"...), and the
titles right before "which you loved" / "were among your favorites".  A *comparison* cue (like, such as,
fans of, similar to, reminiscent of, in the vein of, ...) marks only the list right after it; "like"
after "you'd/would/may..." is a verb, no cue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmrec.data import Catalog
from llmrec.explain._text import (
    CLAUSE_BREAK,
    CONNECTIVES,
    POSTFIX,
    RUN_GAP,
    WORD,
    YEAR_AFTER,
    Tok,
    cap_run,
    find_cues,
    find_genres,
    find_years,
    fold,
    paren_end,
    split_title_aliases,
    title_like,
    token_after,
    tokenize,
)

__all__ = ["ClaimExtractor", "GenreMention", "TitleMention", "YearMention", "normalize_title"]

_I = re.IGNORECASE
_ARTICLES = frozenset({"the", "a", "an"})
_YEAR_SUFFIX = re.compile(r"\s*\(\s*(?:18|19|20)\d\d\s*\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.*?),\s*"
                               r"(?P<art>the|an?|les|la|le|l['’]|il|el|das|der|die)\s*$", _I)
_ARTICLE_AFTER = re.compile(r",\s*(?:the|an?)\b(?=\s*(?:[,.;:!?()\n]|$))", _I)  # "Usual Suspects, The"
_SEPARATOR = re.compile(r"[\"'”’*_]*\s*(?:,\s*(?:(?:and|or)\s+)?|\s(?:and|or|&)\s+|/\s*)[\"“'‘*_]*", _I)
_PLACE = re.compile(r"\b(?:set|takes place|based|located|lives?|living|born|life) in\s+$", _I)
_SUBJECT_VERB = re.compile(r"(?:,\s+(?:a|an|the)\s|\s+(?:is|was|has|offers|delivers|features|follows"
                           r"|tells|combines|blends|shares|brings|stars|explores|captures|remains|provides|presents"
                           r"|showcases|mixes|balances|pairs|echoes|mirrors|takes|makes|gives|puts)\b)", _I)
_TAIL = re.compile(r"[^\w\s]+$")  # "I.Q.", "Seven (Se7en)", "Love! Valour! Compassion!"
_SEQUEL = re.compile(r"[1-9]\d?|II|III|IV|V|VI|VII|VIII|IX|X")
_NOT_SEQUEL = re.compile(r"\s*(?:/|out\b|stars?\b|points?\b|times\b|of\b)", _I)  # "rated Fargo 5 stars"
_QUOTES = re.compile(r"\"([^\"\n]{1,120})\"|“([^”\n]{1,120})”|(?<!\w)'([^'\n]{1,120}?)'(?!\w)"
                     r"|(?<!\w)‘([^’\n]{1,120}?)’(?!\w)|(?<![\w*])\*{1,2}([^*\n]{1,120})\*{1,2}(?![\w*])"
                     r"|(?<!\w)_([^_\n]{1,120})_(?!\w)")


def normalize_title(s: str) -> str:
    """Casefold, strip accents and punctuation, drop a trailing "(1995)", move a trailing ", The" up front.

    ``"Usual Suspects, The (1995)"``, ``"the usual suspects"`` and ``"The Usual Suspects"`` all become
    ``"the usual suspects"``.  Apostrophes vanish inside words ("Schindler's" -> "schindlers") and a
    free-standing "&" reads "and".
    """
    s = _YEAR_SUFFIX.sub("", s.strip())
    m = _TRAILING_ARTICLE.match(s)
    if m:
        art = m["art"]
        s = art + ("" if art[-1] in "'’" else " ") + m["body"]
    return " ".join("and" if w == "&" else fold(w) for w in WORD.findall(f" {s} "))


def _key(normalized: str) -> tuple[str, ...]:
    """Index key: the normalized tokens without a leading English article."""
    toks = tuple(normalized.split())
    return toks[1:] if len(toks) > 1 and toks[0] in _ARTICLES else toks


@dataclass(frozen=True)
class TitleMention:
    """A title-like span.  ``items``: catalog items with that title (empty: in no catalog).

    ``cue``: the watched/liked cue presenting it as part of the user's history; ``compare``: a comparison
    cue ("like", "fans of", ...) presenting it as a point of reference.
    """

    text: str
    start: int
    end: int
    items: tuple[int, ...]
    cue: str | None = None
    compare: str | None = None


@dataclass(frozen=True)
class GenreMention:
    """A word or phrase claiming one of the canonical genres."""

    text: str
    start: int
    end: int
    genre: str


@dataclass(frozen=True)
class YearMention:
    """A release-year claim; with ``decade`` true, ``year`` is the decade's first year
    (1990 for "the 90s")."""

    text: str
    start: int
    end: int
    year: int
    decade: bool = False

    def matches(self, year: int | None) -> bool:
        """Whether a release year makes this claim true."""
        if year is None:
            return False
        return self.year <= year <= self.year + 9 if self.decade else year == self.year


@dataclass
class _Span:
    first: int     # token indices [first, last)
    last: int
    start: int     # characters
    end: int
    items: tuple[int, ...]
    cue: str | None = None
    compare: str | None = None


class ClaimExtractor:
    """Finds title, genre and year mentions in explanation text against ``catalog`` (see module doc)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        index: dict[tuple[str, ...], set[int]] = {}
        self._tail: dict[tuple[str, ...], str] = {}  # punctuation ending a title: "I.Q.", "Seven (Se7en)"
        for item in catalog.item_ids:
            title = catalog.title(int(item))
            for alias in split_title_aliases(title):
                key = _key(normalize_title(alias))
                if key and key != ("unknown",):
                    index.setdefault(key, set()).add(int(item))
                    tail = _TAIL.search(_YEAR_SUFFIX.sub("", alias))
                    self._tail[key] = self._tail.get(key) or (tail.group() if tail else "")
        self._index = {k: tuple(sorted(v)) for k, v in index.items()}
        self._prefixes = {k[:n] for k in self._index for n in range(1, len(k) + 1)}
        self._years = {int(i): catalog.year(int(i)) for i in catalog.item_ids}

    # -- public API ------------------------------------------------------------------------------------
    def titles(self, text: str) -> list[TitleMention]:
        """Title mentions in order of appearance, non-overlapping."""
        toks = tokenize(text)
        cues = find_cues(text)
        after_cue = {token_after(toks, text, c[1]) for c in cues}
        spans = self._catalog_spans(text, toks, after_cue)
        spans = self._quoted_spans(text, toks, spans)
        spans = self._apply_cues(text, toks, spans, cues)
        return [TitleMention(text[s.start:s.end], s.start, s.end, s.items, s.cue, s.compare) for s in spans]

    def genres(self, text: str, titles: list[TitleMention] | None = None) -> list[GenreMention]:
        """Genre claims outside title spans ("Star Wars" claims no War)."""
        spans = [(t.start, t.end) for t in (self.titles(text) if titles is None else titles)]
        return [GenreMention(*g) for g in find_genres(text, spans)]

    def years(self, text: str, titles: list[TitleMention] | None = None) -> list[YearMention]:
        """Years 1900-2029 and decades, outside title spans and a title's "(1995)"."""
        titles = self.titles(text) if titles is None else titles
        spans = [(t.start, paren_end(text, t.end)) for t in titles]
        return [YearMention(*y) for y in find_years(text, spans)]

    # -- catalog titles --------------------------------------------------------------------------------
    def _catalog_spans(self, text: str, toks: list[Tok], after_cue: set[int]) -> list[_Span]:
        """Catalog titles, left to right, longest first (module rules 1-4)."""
        spans: list[_Span] = []
        i = 0
        while i < len(toks):
            k0 = i + 1 if toks[i].norm in _ARTICLES and i + 1 < len(toks) else i
            found = None
            for end, key in reversed(self._candidates(toks, k0)):
                if self._evident(text, toks, i, k0, end, i in after_cue or k0 in after_cue):
                    tail = self._tail[key]
                    stop = toks[end - 1].end + (len(tail) if text.startswith(tail, toks[end - 1].end) else 0)
                    found = _Span(i, end, toks[i].start, stop, self._index[key])
                    break
            if found is None:
                i += 1
                continue
            m = _ARTICLE_AFTER.match(text, found.end)
            if m:
                found.end = m.end()
            found.items = self._narrow_by_year(text, found)
            spans.append(self._extend_sequel(text, toks, found, k0))
            i = spans[-1].last
        return spans

    def _candidates(self, toks: list[Tok], k0: int) -> list[tuple[int, tuple[str, ...]]]:
        """(end token, key) of every catalog title starting at token ``k0``, shortest first."""
        out: list[tuple[int, tuple[str, ...]]] = []
        prefix: tuple[str, ...] = ()
        for j in range(k0, len(toks)):
            if toks[j].base != toks[j].norm and prefix + (toks[j].base,) in self._index:
                out.append((j + 1, prefix + (toks[j].base,)))
            prefix += (toks[j].norm,)
            if prefix not in self._prefixes:
                break
            if prefix in self._index:
                out.append((j + 1, prefix))
        return out

    def _evident(self, text: str, toks: list[Tok], i: int, k0: int, end: int, cued: bool) -> bool:
        """Whether the text gives enough evidence that tokens [i, end) name a title (module rules 2-3)."""
        if YEAR_AFTER.match(text, toks[end - 1].end):
            return True
        if end - k0 == 1:
            word = toks[k0]
            if not (word.cap and len(word.norm) >= 3 and text[word.start].isalpha()):
                return False
            if _PLACE.search(text, max(0, word.start - 30), word.start) or \
                    (word.initial and word.base == word.norm and not _SUBJECT_VERB.match(text, word.end)):
                return False
            prev = toks[k0 - 1] if k0 == i and k0 > 0 else None
            if prev and prev.cap and not prev.initial and prev.base == prev.norm and \
                    RUN_GAP.fullmatch(text[prev.end:word.start]):
                return False
            nxt = toks[end] if end < len(toks) else None
            return not (nxt and nxt.cap and text[word.end:nxt.start] in (" ", "-"))
        words = toks[i:end]
        if any(t.cap and not t.initial for t in words) or \
                all(t.cap or t.norm.isdigit() for t in words if t.norm not in CONNECTIVES):
            return True
        return cued or end - k0 >= 3 or (toks[i].norm == "the" and end - i >= 3)

    def _narrow_by_year(self, text: str, span: _Span) -> tuple[int, ...]:
        """Keep the items of a shared title whose year matches a following "(1995)", if any do."""
        m = YEAR_AFTER.match(text, span.end)
        if m and len(span.items) > 1:
            same = tuple(i for i in span.items if self._years.get(i) == int(m["year"]))
            return same or span.items
        return span.items

    def _extend_sequel(self, text: str, toks: list[Tok], span: _Span, k0: int) -> _Span:
        """Rule 4: "Toy Story 2" / "Star Wars Episode I" are different titles, in no catalog."""
        j = span.last
        if j >= len(toks) or text[toks[j - 1].end:toks[j].start] != " ":
            return span
        sequel = _SEQUEL.fullmatch(text, toks[j].start, toks[j].end) is not None and \
            not _NOT_SEQUEL.match(text, toks[j].end)
        if not (sequel or (toks[j].cap and not toks[j].initial and span.last - k0 > 1)):
            return span
        run_end = cap_run(text, toks, j, set(), connectives=False)
        return _Span(span.first, run_end, span.start, toks[run_end - 1].end, ())

    # -- quoted and cued titles ------------------------------------------------------------------------
    def _quoted_spans(self, text: str, toks: list[Tok], spans: list[_Span]) -> list[_Span]:
        """Quoted text that is a catalog title, or looks like a title, replaces the matches inside it."""
        for m in _QUOTES.finditer(text):
            g = next(g for g in range(1, 7) if m.group(g) is not None)
            q0, q1 = m.span(g)
            inner = [k for k, t in enumerate(toks) if t.start >= q0 and t.end <= q1]
            if not inner:
                continue
            body = text[q0:q1]
            key = _key(normalize_title(body))
            items = self._index.get(key)
            if items is None and not title_like([toks[k] for k in inner]):
                continue
            q1 = q0 + len(_YEAR_SUFFIX.sub("", body).rstrip(" ,.;:!?"))
            quoted = _Span(inner[0], inner[-1] + 1, toks[inner[0]].start, q1, items or ())
            if items:
                quoted.items = self._narrow_by_year(text, quoted)
            spans = [s for s in spans if s.end <= quoted.start or s.start >= q1] + [quoted]
        return sorted(spans, key=lambda s: s.start)

    def _apply_cues(self, text: str, toks: list[Tok], spans: list[_Span],
                    cues: list[tuple[int, int, str, bool]]) -> list[_Span]:
        """Attach cues to mentions and add capitalised runs right after a cue as non-catalog titles."""
        for start, end, phrase, history in cues:
            if any(s.start <= start < s.end for s in spans):
                continue  # "like" in "Like Water for Chocolate"
            by_first = {s.first: s for s in spans}
            listed: list[_Span] = []
            j = token_after(toks, text, end)
            if j < len(toks) and toks[j].norm in _ARTICLES and not toks[j].cap and j + 1 < len(toks) \
                    and toks[j + 1].cap and j not in by_first:
                j += 1  # "you loved the Matrix"
            last_item = False
            while j < len(toks):
                span = by_first.get(j)
                if span is None and (toks[j].cap or toks[j].norm.isdigit()) and \
                        not any(s.first <= j < s.last for s in spans):
                    last = cap_run(text, toks, j, set(by_first))
                    items = self._index.get(_key(" ".join(t.norm for t in toks[j:last])), ())  # "187", "M"
                    if items or (title_like(toks[j:last], strict=False) and (history or last - j > 1)):
                        span = _Span(j, last, toks[j].start, toks[last - 1].end, items)
                        spans = sorted([*spans, span], key=lambda s: s.start)
                if span is None:
                    break
                listed.append(span)
                sep = _SEPARATOR.match(text, paren_end(text, span.end))
                if sep is None or last_item:
                    break
                last_item = bool(re.search(r"\b(?:and|or)\b|&", sep.group(), _I))  # "A, B and C" ends at C
                j = token_after(toks, text, sep.end(), strict=True)
            for span in listed:
                if history:
                    span.cue = span.cue or phrase
                else:
                    span.compare = span.compare or phrase
            if history:
                _extend_history_cue(text, spans, start, end, phrase)
        return spans


def _extend_history_cue(text: str, spans: list[_Span], start: int, end: int, phrase: str) -> None:
    """A history cue also covers later titles in its clause and titles just before "which you loved"."""
    for s in spans:
        if s.start >= end and not CLAUSE_BREAK.search(text, end, s.start):
            s.cue = s.cue or phrase
    before = [s for s in spans if s.end <= start]
    if before and POSTFIX.fullmatch(text, paren_end(text, before[-1].end), start):
        k = len(before) - 1
        while k >= 0:
            before[k].cue = before[k].cue or phrase
            gap_start = paren_end(text, before[k - 1].end) if k else 0
            if not k or not _SEPARATOR.fullmatch(text, gap_start, before[k].start):
                break
            k -= 1
