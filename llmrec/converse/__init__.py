"""Conversational recommendation: requests in plain language, hard constraints that always hold, multi-turn
state (see :mod:`llmrec.converse.engine`)."""

from __future__ import annotations

from typing import Any

from llmrec.converse.conversation import Conversation
from llmrec.converse.engine import Conversations, ConverseConfig
from llmrec.converse.parse import RequestParser
from llmrec.converse.query import Constraints, Query
from llmrec.converse.state import ConversationStore
from llmrec.converse.turn import Converser, RecommendedItem, RequestError, Turn, UnknownConversation

__all__ = ["Constraints", "Conversation", "ConversationStore", "Conversations", "ConverseConfig", "Converser",
           "Query", "RecommendedItem", "RequestError", "RequestParser", "Turn", "UnknownConversation",
           "open_converser"]


def open_converser(data, *, retriever: str | None = "auto", backend: str = "vllm", url: str | None = None,
                   adapter: str | None = None, db: str | None = None, explain: int = 0, llm: bool = True,
                   progress=None, **config: Any) -> Conversations:
    """The conversational recommender for ``data`` with an LLM backend (``"vllm"`` in process,
    ``"remote"`` at ``url``, ``"transformers"``), conversations kept in the SQLite file ``db``; other
    :class:`ConverseConfig` values by name (``parser_adapter="runs/parser-lora"``: the LoRA parser adapter,
    served by the same engine beside the ranking ``adapter``; a value None keeps the config's default)."""
    config = {k: v for k, v in config.items() if v is not None}  # None: the config's default
    ranker: dict[str, Any] = {"backend": backend}
    if url:
        ranker["engine"] = {"url": url}
    if adapter:
        ranker["adapter"] = adapter
    return Conversations(data, ConverseConfig(retriever=retriever, ranker=ranker, db=db or ":memory:",
                                              explain=explain, llm=llm, **config), progress=progress)
