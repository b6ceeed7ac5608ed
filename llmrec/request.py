"""The one request type that travels recall -> rank -> explain.

A :class:`Request` starts as a user's history (and, later, the text the user typed); recall fills in the
candidates in the order the ranking prompt shows them; a score or an explanation is about one ``item`` of
them.  Each stage returns a new request (they are frozen) rather than tuples whose field order differs from
one function to the next.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from llmrec.history import History

__all__ = ["Request"]


@dataclass(frozen=True, eq=False)
class Request:
    """One user's request as it travels through the stages."""

    history: History
    # the items the ranking prompt shows, in prompt order (recall's output)
    candidates: np.ndarray | None = None
    item: int | None = None  # the item a score or an explanation is about (one of the candidates)
    text: str | None = None  # what the user asked, quoted as data (never instructions)

    def __post_init__(self):
        if self.candidates is not None:
            object.__setattr__(self, "candidates", np.asarray(self.candidates, dtype=np.int64))
        if self.item is not None:
            object.__setattr__(self, "item", int(self.item))
            if self.candidates is not None and self.item not in self.candidates:
                raise ValueError(f"item {self.item} is not among the candidates")

    @property
    def user(self) -> int:
        return self.history.user

    def with_candidates(self, candidates: np.ndarray) -> Request:
        return dataclasses.replace(self, candidates=candidates, item=None)

    def about(self, item: int) -> Request:
        """The same request, about ``item``."""
        return dataclasses.replace(self, item=item)

    def with_history(self, history: History) -> Request:
        """The same request over another history (e.g. one item removed, for its influence)."""
        return dataclasses.replace(self, history=history)

    def need_candidates(self) -> np.ndarray:
        if self.candidates is None:
            raise ValueError(f"the request of user {self.user} has no candidates yet (recall fills them in)")
        return self.candidates

    def need_item(self) -> int:
        if self.item is None:
            raise ValueError(f"the request of user {self.user} is about no item")
        return self.item

    def key(self) -> tuple:
        """A hashable identity: user, history, candidates, item and text."""
        cands = None if self.candidates is None else tuple(self.candidates.tolist())
        return (self.user, tuple(self.history.items.tolist()), cands, self.item, self.text)
