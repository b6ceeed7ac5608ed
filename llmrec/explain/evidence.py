"""What an explanation may cite, and the sentence of verified facts it falls back to.

Evidence for a recommended item is a history item the user liked (rated at least ``min_rating`` where ratings
are known) that shares a genre with it, so the sentence can say what they share; :func:`fact_sentence` builds
the explanation from catalog facts alone, citing the evidence that shares the most genres.
"""

from __future__ import annotations

import re

import numpy as np

from llmrec.explain.phrases import predicates, render
from llmrec.history import History

__all__ = ["evidence", "fact_sentence", "genre_overlap", "liked"]


def liked(history: History, min_rating: float) -> list[int]:
    """History items rated at least ``min_rating`` (all of them where a rating is unknown), newest first, once
    each."""
    ratings = np.asarray(history.ratings, dtype=np.float64)
    out: dict[int, None] = {}
    for i, r in zip(reversed(history.items.tolist()), reversed(ratings.tolist())):
        if not (np.isfinite(r) and r > 0) or r >= min_rating:
            out.setdefault(int(i), None)
    return list(out)


def evidence(catalog, item: int, history: History, among: list[int], min_rating: float = 4.0) -> list[int]:
    """The items of ``among`` (in its order) that are evidence for ``item``: in ``history`` rated at least
    ``min_rating`` (where known), sharing a genre with it, not the item itself."""
    liked_, genres = set(liked(history, min_rating)), set(catalog.genres(item))
    return [i for i in among if i != item and i in liked_ and genres & set(catalog.genres(i))]


def genre_overlap(catalog, item: int, other: int) -> int:
    """How many genres ``item`` and ``other`` share."""
    return len(set(catalog.genres(item)) & set(catalog.genres(other)))


def fact_sentence(catalog, item: int, history: History, among: list[int] | None = None,
                  min_rating: float = 4.0) -> tuple[str, tuple[int, ...], tuple[str, ...], str]:
    """The sentence of verified catalog facts: citing the evidence (of ``among``, default the whole history,
    newest first) sharing the most genres with the item, most recent first among ties, or nothing.
    Returns (text, cited items, genres named, predicate)."""
    pool = [int(i) for i in reversed(history.items.tolist())] if among is None else list(among)
    found = evidence(catalog, item, history, pool, min_rating)
    best = max(found, key=lambda i: genre_overlap(catalog, item, i), default=None)
    cited = () if best is None else (best,)
    options = predicates(catalog, item, cited)
    if not options:
        text = f"{catalog.short_title(item)} ({catalog.year(item)})" if catalog.year(item) else \
            catalog.short_title(item)
        return f"{text} is in the catalog.", (), (), "in the catalog"
    dated = [p for p in options if re.search(r"\d{4}s", p)]
    pick = (dated or options)[0]
    return render(catalog, item, cited, pick, history), cited, pick.genres, str(pick)
