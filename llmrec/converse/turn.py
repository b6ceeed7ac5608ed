"""What one conversational turn returns (:class:`Turn`), the errors a request can raise, and the protocol
every conversational recommender front end (terminal, HTTP, LangChain) talks to (:class:`Converser`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from llmrec.errors import LLMRecError

if TYPE_CHECKING:
    from llmrec.recommenders.objectives import ObjectiveWeights

__all__ = ["Converser", "RecommendedItem", "RequestError", "Turn", "UnknownConversation"]


class RequestError(LLMRecError, ValueError):
    """A request that cannot be served as sent (empty, too long, not text, bad k); the message says why."""


class UnknownConversation(LLMRecError, KeyError):
    """No conversation has this id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown conversation"


@dataclass(frozen=True)
class RecommendedItem:
    """One returned item: catalog id, display title, year, genres, score and (optionally) its explanation."""

    item: int
    title: str
    year: int | None
    genres: tuple[str, ...]
    score: float
    explanation: str | None = None


@dataclass(frozen=True)
class Turn:
    """One turn's answer.  ``items`` always satisfy every constraint of ``parse`` (checked in code)."""

    conversation_id: str | None  # None for a one-shot request
    turn: int  # 1-based index of this turn in its conversation (1 for a one-shot request)
    request: str  # what the user typed (data, never instructions)
    interpretation: str  # "Comedy, 1990-1999, no Romance; like Toy Story"
    parse: dict[str, Any]  # the conversation's constraints after this turn (Query.to_parse)
    items: list[RecommendedItem] = field(default_factory=list)
    none_match: bool = False  # nothing satisfies the constraints: see relaxation
    relaxation: str | None = None  # the smallest relaxation that would give results, in words
    unsupported: list[str] = field(default_factory=list)  # kinds asked that the catalog cannot express
    feedback: str | None = None  # how a feedback turn was read ("rejected Fargo", "more like Alien")
    degraded: bool = False  # the LLM was unavailable: deterministic parsing + the retriever's order
    reason: str | None = None  # why, when degraded
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for item in out["items"]:
            item["genres"] = list(item["genres"])
        return out

    def text(self) -> str:
        """The answer as plain text: interpretation, numbered items, explanations, flags."""
        lines = [f"Interpretation: {self.interpretation}"]
        if self.feedback:
            lines.append(f"Feedback: {self.feedback}")
        if self.none_match:
            lines.append("Nothing in the catalog matches all of that." +
                         (f" {self.relaxation}" if self.relaxation else ""))
        for n, it in enumerate(self.items, 1):
            lines.append(f"{n}. {it.title} — {', '.join(it.genres)}")
            if it.explanation:
                lines.append(f"   {it.explanation}")
        if self.degraded:
            lines.append(f"(degraded: the LLM was unavailable — {self.reason})")
        return "\n".join(lines)


class Converser(Protocol):
    """What the terminal chat, the HTTP service and the LangChain runnable call."""

    def create(self, user: int | None = None) -> str:
        """A new conversation's id (``user``: a known user whose history recall uses; None: a new user)."""

    def turn(self, conversation_id: str, text: str, *, k: int | None = None, explain: int | None = None,
             objectives: ObjectiveWeights | Mapping[str, Any] | None = None) -> Turn:
        """Add a turn (a request or feedback on the shown list) to a conversation and answer it
        (``objectives``: this turn's re-ranking weights, ``{"diversity": 0.3}``; None: the ranked order)."""

    def recommend(self, text: str, *, user: int | None = None, k: int | None = None,
                  explain: int | None = None, objectives: ObjectiveWeights | Mapping[str, Any] | None = None
                  ) -> Turn:
        """A one-shot request, kept in no conversation (``objectives``: as for :meth:`turn`)."""

    def state(self, conversation_id: str) -> dict[str, Any]:
        """A conversation's state as JSON-able data (constraints by turn, shown lists, rejected, accepted)."""

    def health(self) -> dict[str, Any]:
        """``{"status": "ok" | "degraded", "llm": ..., "reason": ...}``."""

    def close(self) -> None: ...
