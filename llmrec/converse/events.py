"""Real-time events: a user's new interaction and a new catalog item, checked before anything is written.

    event = interaction_event(catalog, user=42, item=50, rating=5.0, timestamp=None, max_rating=5.0)
    history = with_interaction(history, event)        # the user's history with it, in protocol order

:class:`~llmrec.converse.engine.Conversations` records each event in its store (one transaction) and applies
it in memory at once, so the next request reads it: an interaction joins the user's history (recall's query,
the prompts, the seen items); a new item joins the catalog, its text is encoded and its vector added to the
retriever's item index.  On restart the store's events are replayed in the same way.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from llmrec.converse.query import catalog_genres
from llmrec.converse.turn import RequestError
from llmrec.data import Catalog
from llmrec.errors import LLMRecError
from llmrec.history import History

__all__ = ["InteractionEvent", "InvalidEvent", "ItemEvent", "UnknownItem", "interaction_event", "item_event",
           "with_interaction"]

MAX_TITLE_CHARS, MAX_TEXT_CHARS = 300, 4000
MAX_ID = 2**53  # the largest user or item id and timestamp (exact in JSON numbers and in SQLite)
YEARS = (1800, 2100)


class InvalidEvent(RequestError):
    """An event with a bad field; the message names the field and the value."""


class UnknownItem(LLMRecError, KeyError):
    """An interaction with an item the catalog does not have (add the item first)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown item"


@dataclass(frozen=True)
class InteractionEvent:
    """A user interacted with a catalog item (rating None: not rated; timestamp: unix seconds)."""

    user: int
    item: int
    rating: float | None
    timestamp: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ItemEvent:
    """A new catalog item: its id (after every existing one), title, year, genres and free text."""

    item: int
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    text: dict[str, str] = field(default_factory=dict)  # free-text columns, e.g. {"description": "..."}

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "title": self.title, "year": self.year, "genres": list(self.genres),
                "text": dict(self.text)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemEvent:
        return cls(int(data["item"]), data["title"], data.get("year"), tuple(data.get("genres") or ()),
                   dict(data.get("text") or {}))


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidEvent(f"{name} must be an integer, got {value!r}")
    if abs(int(value)) > MAX_ID:
        raise InvalidEvent(f"{name} must be at most {MAX_ID}, got {value}")
    return int(value)


def interaction_event(catalog: Catalog, *, user: Any, item: Any, rating: Any = None, timestamp: Any = None,
                      max_rating: float = 5.0) -> InteractionEvent:
    """The checked event: ``user`` a positive integer (a new id starts a new user), ``item`` in the catalog
    (else :class:`UnknownItem`), ``rating`` None or in (0, ``max_rating``], ``timestamp`` None (now) or
    non-negative unix seconds."""
    user, item = _integer(user, "user"), _integer(item, "item")
    if user < 1:
        raise InvalidEvent(f"user must be a positive integer, got {user}")
    if item not in catalog:
        raise UnknownItem(f"unknown item {item}: the catalog has no such item (add it with POST /v1/items "
                          "first)")
    if rating is not None:
        if isinstance(rating, bool) or not isinstance(rating, int | float | np.number) \
                or not math.isfinite(rating) or not 0 < rating <= max_rating:
            raise InvalidEvent(f"rating must be a number in (0, {max_rating:g}] or null, got {rating!r}")
        rating = float(rating)
    timestamp = int(time.time()) if timestamp is None else _integer(timestamp, "timestamp")
    if timestamp < 0:
        raise InvalidEvent(f"timestamp must be unix seconds (0 or more), got {timestamp}")
    return InteractionEvent(user, item, rating, timestamp)


def item_event(catalog: Catalog, *, title: Any, item: Any = None, year: Any = None, genres: Any = (),
               text: dict[str, Any] | None = None) -> ItemEvent:
    """The checked event: ``item`` None (the next id) or greater than every catalog id, a non-blank
    ``title``, ``year`` None or 1800..2100, ``genres`` among the catalog's genres, ``text`` strings."""
    last = int(catalog.item_ids[-1]) if len(catalog) else 0
    item = last + 1 if item is None else _integer(item, "item")
    if item in catalog:
        raise InvalidEvent(f"item {item} is already in the catalog ({catalog.display_title(item)!r})")
    if item <= last:
        raise InvalidEvent(f"item must be greater than every catalog id (largest {last}), got {item}; "
                           "leave it out for the next id")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_CHARS:
        raise InvalidEvent(f"title must be non-blank text of at most {MAX_TITLE_CHARS} characters, "
                           f"got {title!r:.80}")
    if year is not None and not YEARS[0] <= _integer(year, "year") <= YEARS[1]:
        raise InvalidEvent(f"year must be {YEARS[0]}..{YEARS[1]} or null, got {year}")
    if isinstance(genres, str) or not all(isinstance(g, str) for g in genres):
        raise InvalidEvent(f"genres must be a list of genre names, got {genres!r}")
    known = catalog_genres(catalog)
    unknown = [g for g in genres if g not in known]
    if unknown:
        raise InvalidEvent(f"genres: unknown genre(s) {unknown}; the catalog's genres are "
                           f"{', '.join(sorted(known))}")
    text = dict(text or {})
    for name, value in text.items():
        if name in ("title", "year", "genres", "item") or not isinstance(value, str) \
                or len(value) > MAX_TEXT_CHARS:
            raise InvalidEvent(f"text.{name} must be free text of at most {MAX_TEXT_CHARS} characters in a "
                               f"column other than item/title/year/genres, got {value!r:.80}")
    return ItemEvent(item, title.strip(), None if year is None else int(year), tuple(dict.fromkeys(genres)),
                     text)


def with_interaction(history: History, event: InteractionEvent) -> History:
    """``history`` with ``event`` inserted in the protocol's order (timestamp, then item id; after equal
    ones already there)."""
    rating = np.nan if event.rating is None else event.rating
    at = int(np.searchsorted(history.timestamps, event.timestamp, side="right"))
    same = history.timestamps[:at] == event.timestamp  # a tie: after the equal-time items of lower id
    at -= int(((history.items[:at] > event.item) & same).sum())
    return History(history.user, np.insert(history.items, at, event.item).astype(np.int64),
                   np.insert(history.ratings.astype(np.float64), at, rating),
                   np.insert(history.timestamps, at, event.timestamp).astype(np.int64))
