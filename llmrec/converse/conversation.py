"""``Conversation``: one conversation as an object — the Python face of :class:`~llmrec.converse.engine.
Conversations`.

    conv = pipeline.conversation(user=42)        # or Conversation(conversations, user=None)
    turn = conv.say("like Toy Story but for adults, no horror")
    turn = conv.say("not the second one, something older")
    conv.state()                                  # constraints by turn, shown lists, rejected, accepted
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmrec.converse.turn import Converser, Turn

__all__ = ["Conversation"]


class Conversation:
    """A conversation kept by ``converser`` (a new one, or the existing ``conversation_id``)."""

    def __init__(self, converser: Converser, user: int | None = None, conversation_id: str | None = None
                 ) -> None:
        self.converser = converser
        self.id = conversation_id if conversation_id is not None else converser.create(user=user)
        if conversation_id is not None:
            converser.state(conversation_id)  # an unknown id is an error now, not at the first turn

    def say(self, text: str, *, k: int | None = None, explain: int | None = None,
            objectives: Mapping[str, Any] | None = None) -> Turn:
        """Add a turn (a request, or feedback on the list just shown) and get the answer; ``objectives``
        (re-ranking weights, e.g. ``{"diversity": 0.3}``: :mod:`llmrec.recommenders.objectives`) apply to
        this turn only."""
        return self.converser.turn(self.id, text, k=k, explain=explain, objectives=objectives)

    def state(self) -> dict[str, Any]:
        """The conversation's state as JSON-able data."""
        return self.converser.state(self.id)

    def __repr__(self) -> str:
        return f"Conversation(id={self.id!r})"
