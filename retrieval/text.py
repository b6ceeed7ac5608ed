"""Item and query texts for the dense retriever.

Item text comes from catalog fields (title, year, genres, free text); query text is the user's history
from the shared renderer (:func:`llmrec.history.render_history`), newest first, optionally followed by a
free-text request.
"""

from __future__ import annotations

import logging

import numpy as np

from llmrec.data import Catalog
from llmrec.history import History, HistoryFormat, render_history

__all__ = ["QUERY_FORMAT", "item_text", "item_texts", "query_text"]

log = logging.getLogger(__name__)

#: How histories are written for the query encoder: short, newest first, one line.
QUERY_FORMAT = HistoryFormat(max_items=8, order="newest_first", style="compact", show_rating=False,
                             show_recency=False)


def item_text(catalog: Catalog, item: int) -> str:
    """``"Toy Story (1995). Animation, Children's, Comedy."`` plus any free-text columns.

    An item with no title or other text falls back to ``"item <id>"`` (logged), so it can still be indexed.
    """
    parts = []
    title = catalog.display_title(item).strip()
    if title:
        parts.append(title + ".")
    genres = catalog.genres(item)
    if genres:
        parts.append(", ".join(genres) + ".")
    for col in catalog.text_columns:
        value = str(catalog.frame.at[item, col]).strip()
        if value and not value.startswith("http"):
            parts.append(value)
    if not parts:
        log.warning("item=%d has no text; using its id", item)
        return f"item {item}"
    return " ".join(parts)


def item_texts(catalog: Catalog, items: np.ndarray) -> list[str]:
    return [item_text(catalog, int(i)) for i in items]


def query_text(history: History, catalog: Catalog, request: str | None = None,
               fmt: HistoryFormat = QUERY_FORMAT) -> str:
    """The query for a user: recent history, then the request.  Raises ValueError when both are empty."""
    request = (request or "").strip()
    if len(history) == 0:
        if not request:
            raise ValueError(f"user {history.user} has no history and no request to search with")
        return request
    text = "Watched: " + render_history(history, catalog, fmt)
    return f"{text}. Request: {request}" if request else text
