"""Well-formed explanation sentences from catalog facts: the phrasings an explanation may choose among.

An explanation reads *Because you rated Alien 5/5: Aliens (1986) is also a sci-fi and horror film from the
1980s.*  The head names the evidence (history items the user rated highly that share genres with the item,
with their ratings); the **predicate** after "is" says what the item shares with them.  :func:`predicates`
lists every predicate true of an item and a set of cited movies — each a finished phrase that states every
genre they share (a choice of :data:`MAX_GENRES` when they share more), the item's other genres when it has
any, and optionally the decade they share — in several wordings.  Every predicate says all of that, so the
sentence tells a reader the whole relation rather than the likeliest genre word, and differs with it from
user to user.  The :class:`~llmrec.explain.Explainer` lets the LLM choose the
evidence and one of these predicates by constrained decoding, so a raw answer is a finished, non-repeating
sentence whose every genre and decade claim is true; the fact sentence of a failed answer and the
fine-tuning targets are built from the same lists.

A predicate never repeats a word 3-gram of the head (its words are genre words, decades and a few
connectives; titles are masked by the checks), and has at least three words.
"""

from __future__ import annotations

from itertools import combinations
from typing import Self

import numpy as np

from llmrec.explain.words import genre_words
from llmrec.history import History

__all__ = ["MAX_GENRES", "Phrase", "decade_of", "evidence_head", "predicates", "render", "shared_genres"]

#: The most genres one predicate names ("action, sci-fi and war" is already a mouthful).
MAX_GENRES = 3

#: Wordings of a predicate about shared genres ({g}: genres, {d}: the shared decade; {a}, {ad}: articles).
WITH_CITED = ("also {a} {g} film", "another {g} film", "{a} {g} film as well",
              "{a} {g} film in the same vein", "{a} {g} film like {it}", "{a} {g} film in the same spirit",
              "{a} {g} film of the same kind")
WITH_DECADE = ("also {a} {g} film from the {d}", "another {g} film from the {d}", "{ad} {d} {g} film too",
               "{a} {g} film from the same decade", "{ad} {d} {g} film, just like {it}")
#: Added to a predicate when the item has genres the evidence lacks ({e}: at most two of them).
WITH_EXTRA = ("{p}, with some {e} added", "{p}, plus a touch of {e}")
#: Predicates without evidence: what the item is.
ALONE = ("{a} {g} film",)
ALONE_DECADE = ("{a} {g} film from the {d}", "{ad} {d} {g} film")


class Phrase(str):
    """A predicate, remembering the genres it names (a ``str``, so it goes into a JSON schema as it is)."""

    genres: tuple[str, ...]

    def __new__(cls, text: str, genres: tuple[str, ...]) -> Self:
        out = super().__new__(cls, text)
        out.genres = genres
        return out


#: How a predicate names a genre where the noun reads badly before "film" ("an animated film").
ADJECTIVES = {"animation": "animated"}
#: How an added genre is named where its word is no noun ("with some children's fare added").
NOUNS = {"children's": "children's fare"}


def _named(genres, names: dict[str, str]) -> str:
    """:func:`genre_words` with each genre's word replaced by its entry in ``names``."""
    words = [names.get(w, w) for w in (genre_words([g]) for g in genres)]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def decade_of(year: int | None) -> str | None:
    """``"1980s"`` for 1986."""
    return f"{year // 10 * 10}s" if year else None


def shared_genres(catalog, item: int, cited: list[int] | tuple[int, ...]) -> tuple[str, ...]:
    """The item's genres (in catalog order) that every cited movie has too."""
    return tuple(g for g in catalog.genres(item) if all(g in catalog.genres(c) for c in cited))


def _shared_decade(catalog, item: int, cited) -> str | None:
    decades = {decade_of(catalog.year(i)) for i in [item, *cited]}
    return decades.pop() if len(decades) == 1 and None not in decades else None


def _subsets(genres: tuple[str, ...]) -> list[tuple[str, ...]]:
    """``genres``, or each choice of :data:`MAX_GENRES` of them (in their order) when there are more."""
    return [genres] if len(genres) <= MAX_GENRES else list(combinations(genres, MAX_GENRES))


def predicates(catalog, item: int, cited: list[int] | tuple[int, ...] = ()) -> list[Phrase]:
    """Every predicate an explanation of ``item`` citing ``cited`` may use (module doc); empty when the cited
    movies share no genre with the item (they are no evidence) or the item has no genres."""
    item_genres = tuple(catalog.genres(item))
    genres = shared_genres(catalog, item, cited) if cited else item_genres
    if not genres:
        return []
    decade = _shared_decade(catalog, item, cited) if cited else decade_of(catalog.year(item))
    plain, dated = (WITH_CITED, WITH_DECADE) if cited else (ALONE, ALONE_DECADE)
    out: list[Phrase] = []
    for subset in _subsets(genres):
        g = _named(subset, ADJECTIVES)
        it = "them" if len(cited) > 1 else "it"
        forms = [f.format(a=_article(g), g=g, it=it) for f in plain]
        if decade:
            forms += [f.format(a=_article(g), ad=_article(decade), g=g, d=decade, it=it) for f in dated]
        extra = [x for x in item_genres if x not in subset]
        if cited and extra:
            e = _named(extra[:2], NOUNS)
            forms = [w.format(p=f, e=e) for f in forms for w in WITH_EXTRA]
        out += [Phrase(f, subset) for f in forms]
    return list(dict.fromkeys(out))


def _rated(history: History | None, item: int) -> float | None:
    if history is None:
        return None
    where = np.flatnonzero(history.items == item)
    if not len(where):
        return None
    r = float(history.ratings[where[-1]])
    return r if np.isfinite(r) and r > 0 else None


def evidence_head(catalog, cited: list[int] | tuple[int, ...], history: History | None = None) -> str:
    """``"Because you rated Alien 5/5 and Heat 4/5: "`` (``"watched"`` where a rating is unknown); ``""``
    without evidence."""
    if not cited:
        return ""
    ratings = [_rated(history, c) for c in cited]
    if all(r is not None for r in ratings):
        named = [f"{catalog.short_title(c)} {r:g}/5" for c, r in zip(cited, ratings)]
        return f"Because you rated {' and '.join(named)}: "
    return f"Because you watched {' and '.join(catalog.short_title(c) for c in cited)}: "


def render(catalog, item: int, cited: list[int] | tuple[int, ...], predicate: str,
           history: History | None = None) -> str:
    """The sentence shown: the evidence head, the item with its year, "is", the predicate."""
    year = catalog.year(item)
    titled = f"{catalog.short_title(item)} ({year})" if year else catalog.short_title(item)
    return f"{evidence_head(catalog, cited, history)}{titled} is {predicate.strip().rstrip('.')}."
