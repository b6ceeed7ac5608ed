"""The conversational recommender in LangChain: a retriever of catalog items and a runnable of whole turns.

    conv = Conversations(data, ConverseConfig())
    docs = LLMRecRetriever(conversations=conv, k=5).invoke("a comedy from the 90s, no romance")
    docs[0].metadata     # {"item": 1, "title": "...", "year": 1995, "genres": [...], "score": ..., ...}
    LLMRecRetriever(conversations=conv).invoke("a thriller", k=3, filters={"year_min": 1990})
    turn = LLMRecRunnable(conversations=conv).invoke({"request": "like Toy Story", "k": 5})   # Turn.to_dict()

:class:`LLMRecRetriever` is the recall stage alone: the request read by the deterministic parser (no LLM), the
catalog masked by its hard constraints and the caller's ``filters`` (minus seed, excluded and seen items),
then dense recall; every returned item is checked against every constraint again.  :class:`LLMRecRunnable`
is a whole answer (:meth:`~llmrec.converse.engine.Conversations.recommend`, or a conversation's next turn),
LLM rerank and explanations included when the recommender has its LLM.  Calls on one recommender run one at
a time (it is not thread-safe), so ``batch`` and ``ainvoke`` are safe but not parallel.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import run_in_executor
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmrec.converse.query import Constraints, Query
from llmrec.converse.turn import RequestError
from retrieval.text import item_text

__all__ = ["FILTER_FIELDS", "LLMRecRetriever", "LLMRecRunnable", "RecommendInput"]

log = logging.getLogger(__name__)

#: The keys ``filters`` may have: the hard-constraint fields of a parse (:meth:`Query.to_parse`).
FILTER_FIELDS = ("genres_all", "genres_any", "genres_none", "year_min", "year_max", "exclude_items")
MAX_K = 50

_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_locks_lock = threading.Lock()


def _lock(conversations: Any) -> threading.Lock:
    """The one lock of a recommender, shared by every retriever and runnable over it."""
    with _locks_lock:
        return _locks.setdefault(conversations, threading.Lock())


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise RequestError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    return int(k)


def _filter_constraints(filters: dict[str, Any] | None, genres: frozenset[str]) -> Constraints:
    """``filters`` (a parse's hard-constraint fields) as constraints; an unknown key or genre is an error
    naming it."""
    if not filters:
        return Constraints()
    unknown = sorted(set(filters) - set(FILTER_FIELDS))
    if unknown:
        raise RequestError(f"unknown filter fields {unknown}; known: {list(FILTER_FIELDS)}")
    for name in ("genres_all", "genres_any", "genres_none", "exclude_items"):
        if isinstance(filters.get(name), str | int):
            raise RequestError(f"filter {name} must be a list, got {filters[name]!r}")
    c = Query.from_parse(filters).constraints
    c.check_genres(genres)
    return c


def _both(text: Constraints, filters: Constraints) -> Constraints:
    """The request's constraints and the filters' together.  A genre conflict goes the filters' way (they are
    the caller's); the years must satisfy both ranges (a filter narrows the request's years, never widens)."""
    c = text.merged(filters)
    lows = [y for y in (text.year_min, filters.year_min) if y is not None]
    highs = [y for y in (text.year_max, filters.year_max) if y is not None]
    return Constraints(c.genres_all, c.genres_any, c.genres_none, max(lows, default=None),
                       min(highs, default=None), c.exclude_items)


class LLMRecRetriever(BaseRetriever):
    """Catalog items for a request in plain language, as documents (see the module doc).

    ``invoke(query, k=..., filters=...)`` overrides the fields for one call; the count is the call's ``k``,
    else the one the request states ("5 comedies"), else the field's.  Filters add to the request's
    constraints (on a genre they conflict over, the filter wins; years must fall in both ranges).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    conversations: Any = Field(description="the recommender (llmrec.converse.Conversations)")
    k: int = Field(4, ge=1, le=MAX_K, description="documents per call")
    user: int | None = Field(None, description="a known user: recall uses their history and never returns "
                                               "what they have seen; None: a new user")
    filters: dict[str, Any] | None = Field(None, description="hard constraints added to every request, "
                                                             "keyed like a parse (FILTER_FIELDS)")

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, filters: dict[str, Any] | None = None
                                ) -> list[Document]:
        conv = self.conversations
        catalog = conv.catalog
        if not isinstance(query, str) or not query.strip():
            raise RequestError(f"the query must be non-empty text, got {query!r}")
        if len(query) > conv.config.max_request_chars:
            raise RequestError(f"the query is {len(query)} characters; at most "
                               f"{conv.config.max_request_chars} are accepted")
        with _lock(conv):
            history = conv.history(self.user)
            parsed = conv.parser.parse(query.strip()).query
            extra = _both(_filter_constraints(self.filters, conv.parser.genres),
                          _filter_constraints(filters, conv.parser.genres))
            q = parsed.replace(constraints=_both(parsed.constraints, extra))
            n = _check_k(k) if k is not None else min(q.k or self.k, MAX_K)
            c = q.constraints
            excluded = q.excluded() | {int(i) for i in history.items}
            allowed = c.mask(catalog)
            allowed = allowed[~np.isin(allowed, np.fromiter(excluded, dtype=np.int64, count=len(excluded)))]
            recall_text = " ".join([*c.genres_all, *c.genres_any, q.text]).strip() or None
            found = conv.retriever.search(history, allowed, n, request=recall_text,
                                          seeds=np.asarray(q.seeds, dtype=np.int64),
                                          seed_weight=conv.config.seed_weight)
        interpretation = q.interpretation(catalog)
        docs = []
        for item, score in zip(found.items.tolist(), found.scores.tolist()):
            broken = c.violations(catalog, item) or (["excluded"] if item in excluded else [])
            if broken:  # cannot happen (recall searched the masked catalog); never returned if it does
                log.error("constraint_violation item=%d dropped (%s)", item, "; ".join(broken))
                continue
            docs.append(Document(id=str(item), page_content=item_text(catalog, item), metadata={
                "item": item, "title": catalog.display_title(item), "year": catalog.year(item),
                "genres": list(catalog.genres(item)), "score": float(score) if np.isfinite(score) else 0.0,
                "interpretation": interpretation}))
        return docs

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None, filters: dict[str, Any] | None = None
                                       ) -> list[Document]:
        # BaseRetriever's default would drop k and filters: the sync search in a worker thread, with them
        return await run_in_executor(None, self._get_relevant_documents, query,
                                     run_manager=run_manager.get_sync(), k=k, filters=filters)


class RecommendInput(BaseModel):
    """One call of :class:`LLMRecRunnable` (or just the request text)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    request: str = Field(description="what the user asks, in plain language (data, never instructions)")
    user: int | None = Field(None, description="a known user for a one-shot request (a conversation keeps "
                                               "the user it was created with)")
    k: int | None = Field(None, ge=1, le=MAX_K, description="how many items (null: the request's count, "
                                                           "else the recommender's default)")
    explain: int | None = Field(None, ge=0, le=10, description="explain the top N items (null: the default)")
    conversation_id: str | None = Field(None, description="continue this conversation "
                                                          "(Conversations.create); null: a one-shot request")


class LLMRecRunnable(RunnableSerializable[str | RecommendInput | dict[str, Any], dict[str, Any]]):
    """The recommender as a runnable: a request (text, or a :class:`RecommendInput` as a dict) in, the
    answer's ``Turn.to_dict()`` out (see the module doc)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    conversations: Any = Field(description="the recommender (a llmrec.converse.Converser)")

    @property
    def InputType(self) -> Any:
        return str | RecommendInput

    @property
    def OutputType(self) -> Any:
        return dict[str, Any]

    def invoke(self, input: str | RecommendInput | dict[str, Any], config: RunnableConfig | None = None,
               **kwargs: Any) -> dict[str, Any]:
        return self._call_with_config(self._answer, input, config)

    def _answer(self, input: str | RecommendInput | dict[str, Any]) -> dict[str, Any]:
        call = self.read_input(input)
        conv = self.conversations
        with _lock(conv):
            if call.conversation_id is None:
                turn = conv.recommend(call.request, user=call.user, k=call.k, explain=call.explain)
            else:
                turn = conv.turn(call.conversation_id, call.request, k=call.k, explain=call.explain)
        return turn.to_dict()

    @staticmethod
    def read_input(input: Any) -> RecommendInput:
        """The call ``input`` states; a wrong field or type is a :class:`RequestError` naming it."""
        if isinstance(input, str):
            return RecommendInput(request=input)
        if isinstance(input, RecommendInput):
            call = input
        elif isinstance(input, dict):
            try:
                call = RecommendInput.model_validate(input)
            except ValidationError as err:
                e = err.errors()[0]
                where = ".".join(str(p) for p in e["loc"]) or "input"
                raise RequestError(f"{where}: {e['msg']} (got {e.get('input')!r})") from None
        else:
            raise RequestError(f"the input must be text or a dict with 'request', got {type(input).__name__}")
        if call.conversation_id is not None and call.user is not None:
            raise RequestError("a conversation keeps the user it was created with: give user or "
                               "conversation_id, not both")
        return call
