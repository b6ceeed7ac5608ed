"""The words an explanation's ``reason`` may use: a grounded vocabulary, enforced by constrained decoding.

A free-text reason is where a small LLM goes wrong: it names genres the movie does not have ("a comedy and
romance choice" for Psycho) or a decade it was not made in.  With ``ExplainerConfig(reason="grounded")`` (the
default) the JSON schema's ``reason`` pattern only admits

* connective words (:data:`CONNECTIVES`: "both", "same", "feel", "close", "favourites"...), none of which —
  alone or next to another — reads as a genre or a year claim (a test checks every pair);
* the recommended item's own genres, as :func:`genre_words` writes them ("sci-fi",
  "film noir", "children's");
* its decade in words ("the nineties"),

so every genre or year claim the reason can make is true of the item, while the model still chooses which
facts to state and how to word them.  ``reason="free"`` keeps the older pattern: any lowercase words.
"""

from __future__ import annotations

import re

from llmrec.explain._text import _DECADE_WORDS

__all__ = ["CONNECTIVES", "DECADES", "decade_words", "genre_words", "item_words", "reason_pattern",
           "reason_words"]

#: Connective words of a grounded reason: the training targets' phrasings (finetune.data) and a few more.
CONNECTIVES = frozenset([
    "a", "added", "adds", "also", "an", "and", "another", "are", "as", "back", "both", "choice", "close",
    "come", "coming", "enjoy", "enjoyed", "favourites", "feel", "feels", "film", "films", "for", "from",
    "good", "has", "in", "is", "it", "its", "just", "keep", "kind", "like", "liked", "loved", "match",
    "matches", "more", "movie", "movies", "of", "one", "ones", "pick", "picks", "plus", "recent", "same",
    "seem", "seems", "shares", "side", "similar", "so", "some", "spirit", "streak", "taste", "that", "the",
    "their", "them", "there", "this", "to", "too", "touch", "very", "watch", "watched", "what", "which",
    "with", "you", "your",
])

#: Decade words the claim checks read as year claims ("the nineties"), by the decade's first year.
DECADES = {year: word for word, year in _DECADE_WORDS.items()}

_MAX_WORDS = 14
_PLAIN = re.compile(r"[a-z][a-z '-]*")


def genre_words(genres: tuple[str, ...] | list[str]) -> str:
    """Genres as a sentence writes them: ``"action, sci-fi and film noir"``."""
    words = [g.lower().replace("film-noir", "film noir") for g in genres]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def decade_words(year: int | None) -> str | None:
    """``"the nineties"`` for 1995; None for an unknown year or a decade without a word here."""
    word = DECADES.get((year or 0) // 10 * 10)
    return f"the {word}" if word else None


def item_words(catalog, item: int) -> list[str]:
    """The item's genres and decade as a reason may write them."""
    words = [genre_words([g]) for g in catalog.genres(item)]
    decade = decade_words(catalog.year(item))
    return words + ([decade] if decade else [])


def reason_words(catalog, item: int) -> list[str]:
    """Every word or phrase a grounded reason for ``item`` may use, longest first."""
    return sorted(CONNECTIVES | set(item_words(catalog, item)), key=lambda w: (-len(w), w))


def reason_pattern(catalog, item: int, max_words: int = _MAX_WORDS) -> str:
    """The JSON-schema pattern of a grounded reason for ``item``: up to ``max_words`` of
    :func:`reason_words`, separated by a space or a comma and a space."""
    words = reason_words(catalog, item)
    if not all(_PLAIN.fullmatch(w) for w in words):  # no regex syntax to escape, in any regex dialect
        raise ValueError(f"reason words must be lowercase letters, spaces, hyphens and apostrophes: {words}")
    word = "(?:" + "|".join(words) + ")"
    return f"^{word}(?:,? {word}){{0,{max_words - 1}}}$"
