"""Catalog titles in a request: "like toy story", "not the Usual Suspects", "I've already seen Fargo".

The title index uses the explanation checks' normalisation (:func:`llmrec.explain.claims.normalize_title`:
casefolded, accents and punctuation dropped, "Usual Suspects, The" read "the usual suspects", a leading
article optional; "Seven (Se7en)" indexed as itself, "Seven" and "Se7en").  Requests are typed casually, so
the rules are looser than an explanation's but still need evidence:

* a title of two or more words matches anywhere, in any case;
* a one-word title ("Fargo", "Heat") needs a cue right before it ("like", "seen", "not", ...), quotes, a
  capital off the sentence start, or a "(1995)" after it — and is never a genre word ("horror") or a common
  request word;
* longest match first; a title shared by several items (remakes) is narrowed by a following "(1995)", else
  the most popular one is taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmrec.converse.lexicon import GENRES
from llmrec.data import Catalog
from llmrec.explain._text import YEAR_AFTER, find_genres, split_title_aliases, tokenize
from llmrec.explain.claims import normalize_title

_GENRE_WORD = re.compile("|".join(f"(?:{p})" for p, _ in GENRES), re.IGNORECASE)


def is_genre(word: str) -> bool:
    """Whether a (folded) word is a genre word in one of the parser's languages ("fantasia", "western")."""
    return _GENRE_WORD.fullmatch(word) is not None

__all__ = ["TitleMatch", "TitleMatcher"]

_ARTICLES = frozenset({"the", "a", "an"})
#: Words after which a one-word title is evidently a title.
_CUE_WORDS = frozenset({
    "like", "than", "to", "of", "as", "seen", "saw", "watched", "not", "except", "besides", "including",
    "excluding",
    "without",
    "como", "comme", "wie", "vu", "visto", "gesehen", "nor", "sauf", "außer", "ausser", "menos", "excepto",
    "watch", "minus",
})
#: Request words that are also one-word titles and never mean the film in a request.
_COMMON = frozenset({
    "movie", "movies", "film", "films", "something", "anything", "nothing", "love", "heat", "speed", "kids",
    "family", "friends", "crash", "tonight", "night", "home", "life", "funny", "scary", "romance",
    "light", "dark", "old", "new", "more", "less", "older", "newer", "classic", "classics", "seven",
    "sleepers",
    "dead", "war", "one", "two", "three", "five", "ten", "it", "them", "us", "me", "you", "good", "best",
    "fear", "big", "top", "please", "thanks", "again", "hate", "up", "down", "the", "yes", "no",
})


@dataclass(frozen=True)
class TitleMatch:
    """A catalog title found at ``text[start:end]``: the chosen ``item`` and every item with that title."""

    start: int
    end: int
    item: int
    items: tuple[int, ...]


class TitleMatcher:
    """Finds catalog titles in request text (see the module doc for the rules)."""

    def __init__(self, catalog: Catalog, popularity: dict[int, int] | None = None) -> None:
        self.catalog = catalog
        pop = popularity or {}
        index: dict[tuple[str, ...], set[int]] = {}
        for item in catalog.item_ids:
            for alias in split_title_aliases(catalog.title(int(item))):
                key = tuple(normalize_title(alias).split())
                if len(key) > 1 and key[0] in _ARTICLES:
                    key = key[1:]
                if key and key != ("unknown",):
                    index.setdefault(key, set()).add(int(item))
        self._index = {k: tuple(sorted(v, key=lambda i: (-pop.get(i, 0), i))) for k, v in index.items()}
        self._prefixes = {k[:n] for k in self._index for n in range(1, len(k) + 1)}
        self._years = {int(i): catalog.year(int(i)) for i in catalog.item_ids}

    def find(self, text: str) -> list[TitleMatch]:
        """Title matches in order of appearance, non-overlapping, longest first at each place."""
        toks = tokenize(text)
        out: list[TitleMatch] = []
        i = 0
        while i < len(toks):
            k0 = i + 1 if toks[i].norm in _ARTICLES and i + 1 < len(toks) else i
            match = None
            for end in self._ends(toks, k0):
                key = tuple(t.norm for t in toks[k0:end])
                if self._evident(text, toks, i, k0, end):
                    match = (end, key)
                    break
            if match is None:
                i += 1
                continue
            end, key = match
            stop = toks[end - 1].end
            items = self._index[key]
            year = YEAR_AFTER.match(text, stop)
            if year:
                same = tuple(it for it in items if self._years.get(it) == int(year["year"]))
                items = same or items
                stop = year.end()
            out.append(TitleMatch(toks[i].start, stop, items[0], items))
            i = end
        return out

    def _ends(self, toks, k0: int) -> list[int]:
        """End token indices of catalog titles starting at token ``k0``, longest first."""
        ends, prefix = [], ()
        for j in range(k0, len(toks)):
            prefix += (toks[j].norm,)
            if prefix not in self._prefixes:
                break
            if prefix in self._index:
                ends.append(j + 1)
        return ends[::-1]

    def _evident(self, text: str, toks, i: int, k0: int, end: int) -> bool:
        if end - k0 > 1:
            words = [t for t in toks[k0:end] if t.norm not in _ARTICLES]
            return len(words) > 1 or toks[k0].cap
        word = toks[k0]
        if YEAR_AFTER.match(text, word.end):
            return True
        if word.norm in _COMMON or len(word.norm) < 3 or find_genres(word.norm, []) or is_genre(word.norm):
            return False
        quoted = re.match(r"[\"“'‘]", text[max(0, word.start - 1):word.start] or " ") is not None
        cued = i > 0 and toks[i - 1].norm in _CUE_WORDS and i == k0 or \
            (i != k0 and i > 0 and toks[i - 1].norm in _CUE_WORDS)
        return quoted or cued or (word.cap and not word.initial)
