"""Users' histories as ordered item sequences, and the one place they are rendered as text.

The retriever's query encoder and every LLM prompt use :func:`render_history`, so a history reads the
same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from llmrec.data import Catalog, Interactions

__all__ = ["History", "HistoryFormat", "histories", "render_history"]


@dataclass(frozen=True)
class History:
    """One user's interactions, oldest first (ordered by timestamp, then item id)."""

    user: int
    items: np.ndarray  # (n,) int64 item ids
    ratings: np.ndarray  # (n,) float64
    timestamps: np.ndarray  # (n,) int64 unix seconds

    def __len__(self) -> int:
        return len(self.items)

    def last(self, n: int | None) -> History:
        """The most recent ``n`` interactions (all when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        return History(self.user, self.items[-n:], self.ratings[-n:], self.timestamps[-n:])

    def without(self, items) -> History:
        """This history with every interaction with one of ``items`` removed (the order of the rest kept)."""
        keep = ~np.isin(self.items, np.asarray(list(items), dtype=np.int64))
        return History(self.user, self.items[keep], self.ratings[keep], self.timestamps[keep])

    @classmethod
    def empty(cls, user: int) -> History:
        return cls(user, np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.int64))


def histories(interactions: Interactions) -> dict[int, History]:
    """Every user's :class:`History` from an interaction log."""
    frame = interactions.ordered()
    out: dict[int, History] = {}
    users = frame["user"].to_numpy()
    bounds = np.flatnonzero(np.diff(users)) + 1
    items, ratings, ts = (frame[c].to_numpy() for c in ("item", "rating", "timestamp"))
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(frame)]):
        if stop > start:
            u = int(users[start])
            out[u] = History(u, items[start:stop], ratings[start:stop], ts[start:stop])
    return out


@dataclass(frozen=True)
class HistoryFormat:
    """How a history is written as text."""

    max_items: int | None = 10  # the most recent N items (None: all)
    order: Literal["oldest_first", "newest_first"] = "oldest_first"
    style: Literal["lines", "compact"] = "lines"  # one item per line, or one '; '-joined line
    show_year: bool = True  # "Toy Story (1995)"; False: the title alone unless another item shares it
    show_genres: bool = True  # "Animation, Children's, Comedy"
    show_rating: bool = True  # "rated 5/5"
    show_recency: bool = True  # "3 days before the latest"
    rating_scale: int = 5  # the maximum rating, for "rated r/N"

    def __post_init__(self) -> None:
        if self.max_items is not None and self.max_items < 1:
            raise ValueError(f"max_items must be >= 1 or None, got {self.max_items}")


def render_history(history: History, catalog: Catalog, fmt: HistoryFormat = HistoryFormat()) -> str:
    """Write ``history`` as text: the most recent ``fmt.max_items`` items with their facts.

    An empty history renders as ``"(no items yet)"``.
    """
    recent = history.last(fmt.max_items)
    if len(recent) == 0:
        return "(no items yet)"
    latest = int(recent.timestamps[-1])
    entries = []
    for item, rating, ts in zip(recent.items, recent.ratings, recent.timestamps):
        item = int(item)
        parts = [catalog.display_title(item) if fmt.show_year else catalog.short_title(item)]
        if fmt.show_genres and catalog.genres(item):
            parts.append(", ".join(catalog.genres(item)))
        if fmt.show_rating and not np.isnan(rating):
            parts.append(f"rated {_num(rating)}/{fmt.rating_scale}")
        if fmt.show_recency:
            parts.append(_recency(latest - int(ts)))
        entries.append(" | ".join(parts) if fmt.style == "lines" else ", ".join(parts))
    if fmt.order == "newest_first":
        entries.reverse()
    if fmt.style == "compact":
        return "; ".join(entries)
    return "\n".join(f"{i}. {e}" for i, e in enumerate(entries, 1))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def _recency(seconds: int) -> str:
    if seconds <= 0:
        return "latest"
    days = seconds / 86400
    if days < 1:
        return "same day as the latest"
    if days < 14:
        return f"{round(days)} day{'s' if round(days) != 1 else ''} before the latest"
    if days < 60:
        return f"{round(days / 7)} weeks before the latest"
    return f"{round(days / 30)} months before the latest"


