"""Is an explanation worth reading?  Checks beyond faithfulness: relevant evidence, no repeated phrases,
a finished sentence, a reason of a few words at least.

A sentence can be true and useless: *Because you watched The Birdcage: The Rock (1996) is an action film;
the.* cites a comedy for an action film and stops mid-clause.  These checks catch that, for any text (the
LLM's raw sentence, a free-text reason from a larger model, the fact sentence):

* **evidence relevance** (:func:`relevant_citations`): a cited history item is relevant when it shares a
  genre with the item, or when removing it from the ranking prompt measurably lowers the item's score (its
  influence, when it was computed, is above ``min_influence``);
* **repetition** (:func:`repeated_trigrams`): a word 3-gram that occurs twice ("a comedy that is a comedy
  that"); titles and years are masked first, each title as its own token, so two titles that share words
  ("Star Trek: The Wrath of Khan", "Star Trek: The Search for Spock") repeat nothing;
* **truncation** (:func:`is_truncated`): the text does not end with a sentence mark, ends on a function
  word ("...; the."), or leaves a bracket or quote open;
* **short reasons** (:func:`word_count`): the reason the LLM wrote itself has fewer than
  :data:`MIN_REASON_WORDS` words ("its", "the movie").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from llmrec.explain._text import WORD, fold

__all__ = ["FUNCTION_WORDS", "MIN_REASON_WORDS", "is_truncated", "relevant_citations", "repeated_trigrams",
           "word_count"]

#: A reason shorter than this says nothing ("its", "the movie").
MIN_REASON_WORDS = 3
#: Words a finished English sentence does not end on.
FUNCTION_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "because", "but", "by", "for", "from", "has", "if", "in", "is",
    "its", "like", "of", "on", "or", "so", "than", "that", "the", "their", "to", "was", "which", "while",
    "who", "with", "you", "your",
})
_MASK = "\ue000"
_END = re.compile(r"[.!?][\"'”’)]*\s*$")
_PAIRS = (("(", ")"), ("[", "]"), ("“", "”"))


def word_count(text: str) -> int:
    """Words of ``text`` ("sci-fi" is two; "children's" one)."""
    return len(WORD.findall(text))


def repeated_trigrams(text: str, masks: Sequence[tuple[int, int]] = ()) -> tuple[str, ...]:
    """The word 3-grams occurring more than once in ``text``, with the character spans ``masks`` (titles,
    years) each read as one distinct token; numbers are skipped."""
    parts, pos = [], 0
    for k, (s, e) in enumerate(sorted(masks)):
        if s >= pos:
            parts += [text[pos:s], f" \ue000{k} "]
            pos = e
    parts.append(text[pos:])
    words = [w if w.startswith(_MASK) else fold(w) for w in re.findall(r"\ue000\d+|[^\W_]+", "".join(parts))]
    words = [w for w in words if not w.isdigit()]
    grams = Counter(tuple(words[i:i + 3]) for i in range(len(words) - 2))
    return tuple(" ".join(g) for g, n in grams.items() if n > 1 and not any(w.startswith(_MASK) for w in g))


def is_truncated(text: str) -> bool:
    """Whether ``text`` stops before its sentence is finished (module doc)."""
    text = text.strip()
    if not text or not _END.search(text):
        return True
    words = WORD.findall(text)
    if not words or fold(words[-1]) in FUNCTION_WORDS:
        return True
    return any(text.count(a) != text.count(b) for a, b in _PAIRS) or text.count('"') % 2 == 1


def relevant_citations(catalog, item: int, cited: Sequence[int], influence: Mapping[int, float] | None = None,
                       min_influence: float = 0.0) -> int:
    """How many of the ``cited`` history items are relevant evidence for ``item`` (module doc)."""
    genres = set(catalog.genres(item))
    influence = influence or {}
    return sum(bool(genres & set(catalog.genres(c))) or influence.get(c, min_influence) > min_influence
               for c in cited)
