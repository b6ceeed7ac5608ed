"""Users' histories as ordered item sequences, and the one place they are rendered as text.

The retriever's query encoder and every LLM prompt use :func:`render_history`, so a history reads the
same everywhere.  A history may mark its items "liked" / "disliked" by rating (``show_sentiment``), and a
user's profile (age band, gender, occupation from MovieLens' ``u.user``) is written by
:func:`render_profile` ("25-34, female, engineer"), which the prompts and the retriever's query put beside
the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from llmrec.data import Catalog, Interactions

__all__ = ["AGE_BANDS", "History", "HistoryFormat", "age_band", "histories", "render_history",
           "render_profile", "sentiment"]


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
    show_sentiment: bool = False  # "liked" (rating >= liked_min) / "disliked" (rating <= disliked_max)
    liked_min: float = 4.0  # the lowest rating marked "liked"
    disliked_max: float = 2.0  # the highest rating marked "disliked"

    def __post_init__(self) -> None:
        if self.max_items is not None and self.max_items < 1:
            raise ValueError(f"max_items must be >= 1 or None, got {self.max_items}")
        if not self.disliked_max < self.liked_min:
            raise ValueError(f"disliked_max must be below liked_min, got disliked_max={self.disliked_max} "
                             f"and liked_min={self.liked_min}")


def sentiment(rating: float, liked_min: float = 4.0, disliked_max: float = 2.0) -> str | None:
    """``"liked"``, ``"disliked"`` or None (a middling or missing rating) for one rating."""
    if np.isnan(rating):
        return None
    if rating >= liked_min:
        return "liked"
    if rating <= disliked_max:
        return "disliked"
    return None


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
        if fmt.show_sentiment and (mark := sentiment(rating, fmt.liked_min, fmt.disliked_max)):
            parts.append(mark)
        if fmt.show_recency:
            parts.append(_recency(latest - int(ts)))
        entries.append(" | ".join(parts) if fmt.style == "lines" else ", ".join(parts))
    if fmt.order == "newest_first":
        entries.reverse()
    if fmt.style == "compact":
        return "; ".join(entries)
    return "\n".join(f"{i}. {e}" for i, e in enumerate(entries, 1))


#: Age bands of a profile, as (lowest age, label); an age falls in the last band whose lowest age it reaches.
AGE_BANDS = ((0, "under 18"), (18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55+"))
_GENDERS = {"M": "male", "F": "female"}


def age_band(age: float) -> str:
    """The band of an age in years (``25 -> "25-34"``); a negative or missing age: ValueError."""
    if age is None or np.isnan(age) or age < 0:
        raise ValueError(f"an age must be a non-negative number of years, got {age!r}")
    return [label for low, label in AGE_BANDS if age >= low][-1]


def render_profile(users: pd.DataFrame | None, user: int) -> str | None:
    """A user's profile as short text, ``"25-34, female, engineer"`` (age band, gender, occupation; fields
    that are missing are left out, an occupation of "none"/"other" too), or None when ``users`` (a frame
    indexed by user id with ``age``, ``gender``, ``occupation`` columns, ``Dataset.users``) is None or does
    not know the user."""
    if users is None or user not in users.index:
        return None
    row = users.loc[user]
    parts = []
    age = row.get("age")
    if age is not None and not pd.isna(age):
        parts.append(age_band(float(age)))
    gender = str(row.get("gender") or "").strip()
    if gender:
        parts.append(_GENDERS.get(gender.upper(), gender.lower()))
    occupation = str(row.get("occupation") or "").strip().lower()
    if occupation and occupation not in ("none", "other", "nan"):
        parts.append(occupation)
    return ", ".join(parts) or None


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


