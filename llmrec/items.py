"""``ItemList``: the one result type that flows through every stage (recall, rank, explain, serve)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = ["ItemList", "top_n"]


@dataclass(frozen=True)
class ItemList:
    """Items with optional scores, in ranked order when produced by a ranking stage.

    ``meta`` carries stage annotations (for example ``{"degraded": True, "reason": ...}``).
    """

    items: np.ndarray  # (n,) int64 item ids
    scores: np.ndarray | None = None  # (n,) float64, aligned with items
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", np.asarray(self.items, dtype=np.int64))
        if self.scores is not None:
            scores = np.asarray(self.scores, dtype=np.float64)
            if scores.shape != self.items.shape:
                raise ValueError(f"scores shape {scores.shape} != items shape {self.items.shape}")
            object.__setattr__(self, "scores", scores)

    def __len__(self) -> int:
        return len(self.items)

    def head(self, n: int) -> ItemList:
        return replace(self, items=self.items[:n], scores=None if self.scores is None else self.scores[:n])

    def ranked(self) -> ItemList:
        """Sorted by score descending, ties broken by item id ascending (the protocol's rule)."""
        if self.scores is None:
            raise ValueError("cannot rank an ItemList without scores")
        order = np.lexsort((self.items, -self.scores))
        return replace(self, items=self.items[order], scores=self.scores[order])


def top_n(items: np.ndarray, scores: np.ndarray, n: int) -> ItemList:
    """The ``n`` best items by score (ties by ascending id) as a ranked :class:`ItemList`."""
    return ItemList(items, scores).ranked().head(n)
