"""``Conversations``: conversational recommendation — requests in plain language, hard constraints that always
hold, multi-turn state.

    conv = Conversations(data, ConverseConfig(retriever="auto"))
    cid = conv.create(user=42)                       # or user=None: a new user
    turn = conv.turn(cid, "like Toy Story but for adults, no horror")
    turn.interpretation, [it.title for it in turn.items]
    conv.turn(cid, "not the second one, something older")
    conv.recommend("a 90s comedy", objectives={"diversity": 0.3})   # one-shot, re-ranked for genre variety

One turn: feedback on the shown list (:mod:`~llmrec.converse.feedback`) -> the request read
(:class:`~llmrec.converse.parse.RequestParser`, then the LLM for loose clauses,
:class:`~llmrec.converse.reader.IntentReader`) -> folded into the conversation's constraints -> the catalog
masked by them (minus seen, rejected and seed items) -> recall on what is left (the request text, the seeds'
vectors and the user's history) -> the LLM reranks the top K on the request-aware prompt -> re-ordered by the
call's ``objectives`` weights when it gives any (diversity, calibration, popularity:
:mod:`llmrec.recommenders.objectives`) -> every item checked again against every constraint -> the top k
explained by the grounded explainer.  When nothing is left, the answer says so and proposes the smallest
relaxation; a violating item is never returned.  When the LLM is unavailable the turn is answered from
deterministic parsing and the retriever's order (re-ordered by the weights too), flagged ``degraded``.

Real-time updates (:mod:`~llmrec.converse.events`): ``add_interaction`` and ``add_item`` record an event in
the store and apply it at once, so the next turn of any conversation reads it; recall searches through the
retriever's FAISS item index (exact), which new items join without a rebuild.  The engine works on its own
copy of the dataset's catalog, which new items extend.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmrec.converse.events import (
    InteractionEvent,
    ItemEvent,
    interaction_event,
    item_event,
    with_interaction,
)
from llmrec.converse.feedback import read_feedback
from llmrec.converse.itemrank import ItemTokenRanking
from llmrec.converse.parse import RequestParser, intent_constraints
from llmrec.converse.query import Constraints, Query
from llmrec.converse.reader import IntentReader, ReaderConfig
from llmrec.converse.state import ConversationState, ConversationStore, update_provenance
from llmrec.converse.turn import RecommendedItem, RequestError, Turn
from llmrec.data import Catalog, Dataset
from llmrec.errors import LLMRecError, LLMUnavailable
from llmrec.history import History, histories
from llmrec.items import ItemList
from llmrec.llm.adapters import resolve_adapter
from llmrec.recommenders.objectives import MultiObjective, ObjectiveWeights
from llmrec.request import Request

__all__ = ["Conversations", "ConverseConfig", "apply_intents"]

log = logging.getLogger(__name__)

#: Event numbers re-read at each sync of a shared store (a number committed this late is still applied).
_SYNC_WINDOW = 1000


class ConverseConfig(BaseModel):
    """How conversations are served (construction settings; k and explain may also be given per turn)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retriever: str | None = Field("auto", description="trained retriever directory, 'auto' (the cached "
                                                      "default) or None (the untrained text retriever)")
    llm: bool = Field(True, description="use the LLM (reading loose language, reranking); False: "
                                        "deterministic parsing and the retriever only")
    ranker: dict[str, Any] = Field(default_factory=dict, description="LLMRankerConfig values (backend, "
                                                                     "model, adapter, engine settings, ...)")
    rerank: bool = Field(True, description="the LLM reranks the recalled candidates")
    read_loose: bool | None = Field(None, description=(
        "the LLM reads loose clauses into intents; None: only with a parser adapter (zero-shot SmolLM2-135M "
        "lowered parse exact match on the benchmark's training templates from 0.998 to 0.712)"))
    parser_adapter: str | None = Field(None, description=(
        "LoRA parser adapter directory (python -m finetune.parser) that reads the loose clauses, served by "
        "the ranker's engine beside its ranking adapter and chosen per call"))
    reader_margin: float = Field(0.0, description="log-odds an intent must beat 'none' by")
    k: int = Field(10, ge=1, le=50, description="items per answer unless the request or the call says")
    explain: int = Field(0, ge=0, le=10, description="explain the top N items of each answer")
    candidates: int = Field(20, ge=1, le=26, description="K: recalled candidates the LLM reranks")
    seed_weight: float = Field(1.0, ge=0, description="weight of the 'like X' items' vectors in recall")
    llm_retry_after: float = Field(30.0, ge=0, description=(
        "after the LLM fails, answer without it (degraded, at once) for this many seconds before trying it "
        "again, so that turns do not queue behind the backend's retries"))
    db: str = Field(":memory:", description="SQLite file of the conversations (':memory:': this process)")
    max_request_chars: int = Field(2000, ge=1, description="longest request accepted")
    item_index: bool = Field(True, description=(
        "recall searches through the retriever's FAISS item index (exact inner product: the same ranking "
        "as without it), which new items (add_item) join without a rebuild"))
    items_model: str | None = Field(None, description=(
        "item-token model directory (python -m finetune.items): with llm, it ranks every item the turn "
        "allows, its scores from the history fused with the retriever's request-aware ones "
        "(llmrec.converse.itemrank), instead of the title-reading rerank of the retriever's top K"))
    items_weight: float = Field(8.0, ge=0, description=(
        "with items_model: the item-token LLM's weight against the retriever's 1, chosen on validation by "
        "simulated users (hit@10 within 5 turns, 0.5 to 8; smaller weights find more at the first turn)"))
    items_seeds: bool = Field(False, description=(
        "with items_model: the request's 'like X' items are written at the end of the history in the "
        "item-token model's prompt, as if watched last (moved there when the history holds them)"))
    milvus_uri: str | None = Field(None, description=(
        "with item_index: the item index on Milvus instead of FAISS, at a Milvus Lite file (a path ending in "
        ".db) or a cluster URI (http://host:19530); exact inner product, the same ranking"))


def apply_intents(parser: RequestParser, query: Query, loose: list[tuple[str, bool]],
                  intents: list[str | None]) -> Query:
    """``query`` with the intent read in each loose ``(clause, negated)`` merged in (its constraints from the
    fixed table, negated where the clause is); clauses read as no intent (None) stay soft text."""
    c, notes, left = query.constraints, list(query.notes), []
    for (clause, negated), intent in zip(loose, intents):
        if intent is None:
            left.append(clause)
            continue
        c = c.merged(parser._known(intent_constraints(intent, negated)))
        notes.append(f"llm:{'not-' if negated else ''}{intent}")
    return query.replace(constraints=c, notes=tuple(notes), text=", ".join(left))


def _objectives_error(err: ValidationError) -> str:
    """The first problem of invalid objective weights, naming the field."""
    e = err.errors()[0]
    field = ".".join(str(p) for p in e.get("loc", ())) or "objectives"
    if e.get("type") == "extra_forbidden":
        known = ", ".join(ObjectiveWeights.model_fields)
        return f"objectives.{field}: unknown weight; known: {known}"
    return f"objectives.{field}: {e.get('msg', 'invalid')} (got {e.get('input')!r})"


def _ordered_below(scores: np.ndarray) -> np.ndarray:
    """``scores`` with the non-finite ones (an unscored tail) replaced by finite ones just below the lowest
    finite score, decreasing in list order, so that the re-ranking keeps their order (it would sort them by
    id) and scales the scored items' relevance as before."""
    known = np.isfinite(scores)
    if known.all():
        return scores
    if not known.any():
        return -np.arange(len(scores), dtype=np.float64)
    low, high = float(scores[known].min()), float(scores[known].max())
    step = max(high - low, 1.0) * 1e-6
    out = scores.astype(np.float64, copy=True)
    out[~known] = low - step * np.arange(1, int((~known).sum()) + 1)
    return out


class Conversations:
    """The conversational recommender over one dataset (see the module doc).  Thread-safe: turns run one at a
    time."""

    def __init__(self, data: Dataset, config: ConverseConfig | None = None, *, ranker=None,
                 store: ConversationStore | None = None, progress=None,
                 items: ItemTokenRanking | None = None) -> None:
        from llmrec.recommenders import create_recommender

        self.config = config = config or ConverseConfig()
        # a catalog of its own, which new items extend (the caller's dataset is left as it is)
        data = Dataset(data.interactions, Catalog(data.catalog.frame), data.name, dict(data.source),
                       data.users)
        self.data, self.catalog = data, data.catalog
        counts = data.interactions.frame["item"].value_counts()
        self._popularity = {int(i): int(n) for i, n in counts.items()}
        self.parser = RequestParser(self.catalog, self._popularity)
        self._histories = histories(data.interactions)
        ratings = data.interactions.frame["rating"]
        self._max_rating = float(ratings.max()) if len(ratings) and ratings.notna().any() else 5.0
        self.store = store or ConversationStore(config.db)
        self._lock = threading.RLock()
        params = {"retriever": config.retriever, "candidates": config.candidates, **config.ranker}
        self.parser_adapter = resolve_adapter(config.parser_adapter) if config.parser_adapter else None
        if self.parser_adapter is not None:  # one engine serves the ranking and the parser adapters
            params["extra_adapters"] = [*params.get("extra_adapters", ()), config.parser_adapter]
        self.read_loose = (config.read_loose if config.read_loose is not None
                           else self.parser_adapter is not None and config.llm)
        if config.llm:
            self.ranker = ranker if ranker is not None else create_recommender("llm", params)
            self.ranker.progress = progress
            self.ranker.start(background=True, workload="interactive")
            self.ranker.fit(data)  # fits the retriever; the LLM starts in the background
            self.retriever = self.ranker.retriever
        else:  # no LLM: the retriever alone
            self.ranker = None
            self.retriever = getattr(ranker, "retriever", None) or create_recommender(
                "dense", {"retriever": config.retriever})
            if not self.retriever.is_trained():
                self.retriever.fit(data)
        self.items: ItemTokenRanking | None = None  # the item-token LLM ranking every allowed item
        if config.llm and (items is not None or config.items_model):
            self.items = (items or ItemTokenRanking(config.items_model, config.items_weight)).fit(data)
        self._reader: IntentReader | None = None
        self._explainer = None
        self._objectives: MultiObjective | None = None  # the re-ranking stage, made on first use
        self._llm_error: str | None = None if config.llm else "the LLM is switched off (llm=False)"
        self._llm_down_until = 0.0  # time.monotonic() before which the LLM is not tried again
        if config.item_index and hasattr(self.retriever, "use_index") and self.retriever.is_trained():
            if config.milvus_uri:
                self.retriever.use_index(milvus_uri=config.milvus_uri)
            else:
                self.retriever.use_index()
        self._applied: set[int] = set()  # interaction events applied here (their store numbers)
        self._last_seq = 0
        self._replay()

    # -- the Converser protocol --------------------------------------------------------------------------
    def create(self, user: int | None = None) -> str:
        self._sync()
        if user is not None:
            self.history(user)  # an unknown user is an error now, not at the first turn
        return self.store.create(user).id

    def state(self, conversation_id: str) -> dict[str, Any]:
        state = self.store.load(conversation_id)
        return {**state.to_dict(), "interpretation": state.current().interpretation(self.catalog),
                "turn_log": self.store.turns(conversation_id)}

    def recommend(self, text: str, *, user: int | None = None, k: int | None = None,
                  explain: int | None = None, objectives: ObjectiveWeights | Mapping[str, Any] | None = None
                  ) -> Turn:
        weights = self._weights(objectives)
        self._sync()
        if user is not None:
            self.history(user)
        state = ConversationState(id="", user=user)
        return self._answer(state, text, k, explain, persist=False, weights=weights)

    def turn(self, conversation_id: str, text: str, *, k: int | None = None, explain: int | None = None,
             objectives: ObjectiveWeights | Mapping[str, Any] | None = None) -> Turn:
        weights = self._weights(objectives)
        self._sync()
        with self._lock:
            state = self.store.load(conversation_id)
            return self._answer(state, text, k, explain, persist=True, weights=weights)

    def health(self) -> dict[str, Any]:
        reason = self._llm_error
        return {"status": "degraded" if reason else "ok", "llm": not reason, "reason": reason,
                "items": len(self.catalog), "users": len(self._histories),
                "item_token_model": self.config.items_model if self.items is not None else None}

    # -- real-time updates -------------------------------------------------------------------------------
    def add_interaction(self, user: Any, item: Any, rating: Any = None, timestamp: Any = None
                        ) -> dict[str, Any]:
        """Record that ``user`` (a new id starts a new user) interacted with catalog ``item`` (``rating``
        None: unrated; ``timestamp`` None: now) and apply it: the user's next request reads it.  Bad values:
        :class:`~llmrec.converse.events.InvalidEvent` naming the field; an unknown item:
        :class:`~llmrec.converse.events.UnknownItem`."""
        with self._lock:
            event = interaction_event(self.catalog, user=user, item=item, rating=rating, timestamp=timestamp,
                                      max_rating=self._max_rating)
            seq = self.store.add_interaction(event.user, event.item, event.rating, event.timestamp)
            self._apply_interaction(event, seq)
            log.info("event_interaction seq=%d user=%d item=%d", seq, event.user, event.item)
            return {**event.to_dict(), "seq": seq, "history_length": len(self._histories[event.user])}

    def add_item(self, title: Any, *, item: Any = None, year: Any = None, genres: Any = (),
                 text: dict[str, Any] | None = None) -> dict[str, Any]:
        """Add a catalog item (``item`` None: the next id) and apply it: its text is encoded and its vector
        added to the retriever's item index, so the next request can recall it."""
        with self._lock:
            if reason := self._cannot_add_items():
                raise RequestError(reason)
            event = item_event(self.catalog, title=title, item=item, year=year, genres=genres, text=text)
            self.store.add_item(event.item, event.to_dict())
            self._apply_items([event])
            log.info("event_item item=%d title=%r", event.item, event.title)
            return {**event.to_dict(), "display_title": self.catalog.display_title(event.item),
                    "items": len(self.catalog)}

    def _cannot_add_items(self) -> str | None:
        """Why new items cannot be added here (None: they can), checked before anything is written."""
        if not hasattr(self.retriever, "add_items"):
            return f"this recommender's retriever ({type(self.retriever).__name__}) cannot add items"
        if getattr(self.retriever, "catalog", None) is not self.catalog:
            return ("this recommender's retriever was passed in trained on another catalog; new items need "
                    "a retriever fitted by the conversational recommender itself")
        return self.retriever.cannot_add_items() if hasattr(self.retriever, "cannot_add_items") else None

    def _apply_interaction(self, event: InteractionEvent, seq: int | None = None) -> None:
        if seq is not None:
            self._applied.add(seq)
            self._last_seq = max(self._last_seq, seq)
        before = self._histories.get(event.user) or History.empty(event.user)
        self._histories[event.user] = with_interaction(before, event)

    def _apply_items(self, events: list[ItemEvent]) -> None:
        if not events:
            return
        for e in events:
            self.catalog.append(e.item, e.title, e.year, e.genres, **e.text)
        self.retriever.add_items(np.array([e.item for e in events], dtype=np.int64))
        self.parser = RequestParser(self.catalog, self._popularity)  # titles: "like <the new item>"
        self._objectives = self._explainer = None  # made again on first use, with the new items

    def _replay(self) -> None:
        """Apply the store's recorded events (a restart): the new items, then the interactions in order."""
        items, interactions = self.store.item_events(), self.store.interaction_events()
        if items and (reason := self._cannot_add_items()):
            raise RequestError(f"the store holds {len(items)} new items, but {reason}")
        self._apply_items([ItemEvent.from_dict(e) for e in items])
        for e in interactions:
            self._apply_interaction(InteractionEvent(e["user"], e["item"], e["rating"], e["timestamp"]),
                                    e["seq"])
        if items or interactions:
            log.info("events_replayed items=%d interactions=%d", len(items), len(interactions))

    def _sync(self) -> None:
        """On a store other processes write too (replicas on one PostgreSQL), apply the events they recorded
        since this process last looked: new items (ids above this catalog's), then interactions.  Event
        numbers may commit out of order, so the last ``_SYNC_WINDOW`` numbers are read again and only the
        ones not applied yet are applied."""
        if not self.store.shared:
            return
        with self._lock:
            top = int(self.catalog.item_ids.max()) if len(self.catalog) else 0
            items = [ItemEvent.from_dict(e) for e in self.store.item_events() if e["item"] > top]
            if items and not self._cannot_add_items():
                self._apply_items(items)
            floor = max(0, self._last_seq - _SYNC_WINDOW)
            fresh = [e for e in self.store.interaction_events(after=floor) if e["seq"] not in self._applied]
            for e in fresh:
                if e["item"] in self.catalog:
                    self._apply_interaction(InteractionEvent(e["user"], e["item"], e["rating"],
                                                             e["timestamp"]), e["seq"])
            self._applied = {q for q in self._applied if q > floor}
            if items or fresh:
                log.info("events_synced items=%d interactions=%d", len(items), len(fresh))

    def close(self) -> None:
        if self.items is not None:
            self.items.close()
        if self.ranker is not None:
            self.ranker.close()
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one turn ----------------------------------------------------------------------------------------
    def history(self, user: int | None) -> History:
        if user is None:
            return History.empty(0)
        known = not isinstance(user, bool) and isinstance(user, int | np.integer)
        if not known or int(user) not in self._histories:
            users = self._histories
            raise RequestError(f"unknown user {user!r}; users range {min(users)}..{max(users)}")
        return self._histories[int(user)]

    def _check(self, text: Any, k: Any, explain: Any) -> tuple[str, int | None, int]:
        if not isinstance(text, str):
            raise RequestError(f"the request must be text, got {type(text).__name__}")
        if not text.strip():
            raise RequestError("the request is empty")
        if len(text) > self.config.max_request_chars:
            raise RequestError(f"the request is {len(text)} characters; at most "
                               f"{self.config.max_request_chars} are accepted")
        if "\x00" in text:
            raise RequestError("the request contains a NUL character")
        explain = self.config.explain if explain is None else explain
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 50):
            raise RequestError(f"k must be an integer from 1 to 50, got {k!r}")
        if isinstance(explain, bool) or not isinstance(explain, int) or not 0 <= explain <= 10:
            raise RequestError(f"explain must be an integer from 0 to 10, got {explain!r}")
        return text.strip(), k, explain

    @staticmethod
    def _weights(objectives: Any) -> ObjectiveWeights | None:
        """This call's re-ranking weights (:class:`~llmrec.recommenders.objectives.ObjectiveWeights`, or a
        mapping of its values: ``{"diversity": 0.3}``); None when no weight is on.  Anything else is a
        :class:`RequestError` naming the field."""
        if objectives is None:
            return None
        if isinstance(objectives, ObjectiveWeights):
            weights = objectives
        elif isinstance(objectives, Mapping):
            try:
                weights = ObjectiveWeights.model_validate(dict(objectives), strict=True)
            except ValidationError as err:
                raise RequestError(_objectives_error(err)) from None
        else:
            raise RequestError("objectives must be a mapping of weights (diversity, calibration, "
                               f"popularity), got {type(objectives).__name__}")
        for name in ("diversity", "calibration", "popularity"):
            if not math.isfinite(getattr(weights, name)):
                raise RequestError(f"objectives.{name} must be a finite number 0 or more, "
                                   f"got {getattr(weights, name)!r}")
        return weights if weights.active() else None

    def _answer(self, state: ConversationState, text: Any, k: Any, explain: Any, persist: bool,
                weights: ObjectiveWeights | None = None) -> Turn:
        t0 = time.perf_counter()
        text, k, explain = self._check(text, k, explain)
        if weights is not None:
            log.info("converse_objectives conversation=%s weights=%s", state.id or None,
                     weights.model_dump())
        timings: dict[str, float] = {}
        state.turns += 1
        fb = read_feedback(text, state.last_shown(), state.focus, self.parser.titles)
        if fb.reset:
            state.query, state.text, state.focus = Query().to_parse(), "", None
        state.rejected = sorted(set(state.rejected) | set(fb.reject))
        state.accepted = sorted(set(state.accepted) | set(fb.accept))
        state.focus = fb.focus
        parsed = self.parser.parse(fb.rest) if fb.rest else None
        turn_query = parsed.query if parsed else Query()
        degraded_reason = None
        if parsed and parsed.loose and self.read_loose:
            turn_query, degraded_reason = self._read_loose(turn_query, parsed.loose)
        timings["parse"] = time.perf_counter() - t0
        query = self._fold(state, turn_query, fb)
        update_provenance(state, query.to_parse())
        state.query, state.text = query.to_parse(), query.text
        k = min(query.k or k or self.config.k, 50)  # the request's own count, else the call's, else config
        history = self.history(state.user)
        excluded = query.excluded() | set(state.rejected) | {int(i) for i in history.items}
        allowed = query.constraints.mask(self.catalog)
        allowed = allowed[~np.isin(allowed, np.fromiter(excluded, dtype=np.int64, count=len(excluded)))]
        items, relaxation, meta = [], None, {}
        if len(allowed):
            t1 = time.perf_counter()
            ranked, meta = self._rank(history, query, allowed, k, explain, weights)
            timings["recommend"] = time.perf_counter() - t1
            items = self._checked(ranked, query, excluded, k, meta)
        else:
            relaxation = self._relaxation(query, excluded)
        degraded_reason = degraded_reason or (meta.get("reason") if meta.get("degraded") else None)
        state.shown.append([it.item for it in items])
        if items and state.focus not in state.shown[-1]:
            state.focus = None
        timings["total"] = time.perf_counter() - t0
        turn = Turn(conversation_id=state.id or None, turn=state.turns, request=text,
                    interpretation=query.interpretation(self.catalog), parse=query.to_parse(), items=items,
                    none_match=not items, relaxation=relaxation, unsupported=list(query.unsupported),
                    feedback=fb.describe(self.catalog.short_title), degraded=degraded_reason is not None,
                    reason=degraded_reason, timings=timings)
        if persist:
            self.store.save(state, text, turn.to_dict())
        return turn

    def _fold(self, state: ConversationState, turn: Query, fb) -> Query:
        """The conversation's query after this turn: earlier constraints with this turn's added (a later
        genre or year wins a conflict), the feedback's seeds and year shifts, the latest soft text."""
        before = state.current()
        c = before.constraints.merged(turn.constraints)
        seeds = turn.seeds or before.seeds
        if fb.more_like:
            seeds = tuple(fb.more_like)
        reference = [i for i in ([fb.focus] if fb.focus else state.last_shown()) if i is not None]
        years = [y for y in (self.catalog.year(i) for i in reference) if y is not None]
        if fb.older and years:
            top = int(np.median(years)) - 1
            low = c.year_min if c.year_min is not None and c.year_min <= top else None
            c = Constraints(c.genres_all, c.genres_any, c.genres_none, low, top, c.exclude_items)
        if fb.newer and years:
            low = int(np.median(years)) + 1
            top = c.year_max if c.year_max is not None and c.year_max >= low else None
            c = Constraints(c.genres_all, c.genres_any, c.genres_none, low, top, c.exclude_items)
        unsupported = tuple(sorted(set(before.unsupported) | set(turn.unsupported)))
        return Query(c, seeds, turn.text or before.text, turn.k or before.k, unsupported,
                     before.notes + turn.notes)

    # -- the LLM -----------------------------------------------------------------------------------------
    def _read_loose(self, query: Query, loose: list[tuple[str, bool]], reader: IntentReader | None = None
                    ) -> tuple[Query, str | None]:
        """The query with the intents the LLM (``reader``, default the configured one) read in the loose
        clauses (read clauses leave the soft text)."""
        if self._llm_resting():
            return query, self._llm_error
        try:
            reader = reader or self._intent_reader()
            intents = reader.read([c for c, _ in loose])
        except (LLMUnavailable, LLMRecError) as err:
            self._llm_failed(str(err))
            return query, str(err)
        return apply_intents(self.parser, query, loose, intents), None

    def _intent_reader(self, zero_shot: bool = False) -> IntentReader:
        """The reader of loose clauses: through the parser adapter when one is configured (``zero_shot``: the
        base model's reader, for comparison)."""
        if not self.config.llm:
            raise LLMUnavailable("the LLM is switched off (llm=False)")
        if zero_shot:
            return IntentReader(self.ranker.backend, ReaderConfig(margin=self.config.reader_margin))
        if self._reader is None:
            adapter = self.parser_adapter.name if self.parser_adapter is not None else None
            self._reader = IntentReader(self.ranker.backend, ReaderConfig(margin=self.config.reader_margin,
                                                                          adapter=adapter))
        return self._reader

    def _rank(self, history: History, query: Query, allowed: np.ndarray, k: int, explain: int,
              weights: ObjectiveWeights | None = None) -> tuple[ItemList, dict]:
        """Recall on the allowed items, the LLM's rerank of the top K, the objectives' re-ordering
        (``weights``; without the LLM, of the retriever's order), explanations of the top ``explain``."""
        weights = weights.for_answer(k) if weights is not None else None
        genres = [*query.constraints.genres_all, *query.constraints.genres_any]
        recall_text = " ".join([*genres, query.text]).strip() or None
        n = max(k, self.config.candidates)
        generative = self.items is not None and not self._llm_resting()
        recalled = self.retriever.search(history, allowed, len(allowed) if generative else n,
                                         request=recall_text, seeds=np.asarray(query.seeds, dtype=np.int64),
                                         seed_weight=self.config.seed_weight)
        if self.items is not None:
            seeds = np.asarray(query.seeds, dtype=np.int64) if self.config.items_seeds else None
            return self._rank_items(history, recalled, n, explain, weights, seeds, resting=not generative)
        if not (self.config.llm and self.config.rerank):
            return (self._reordered(history, recalled, weights),
                    {"degraded": not self.config.llm, "reason": self._llm_error})
        if self._llm_resting():  # it failed a moment ago: the retriever's order at once
            return self._reordered(history, recalled, weights), {"degraded": True, "reason": self._llm_error}
        head = recalled.head(self.config.candidates)
        request = Request(history, head.items, text=query.text or query.interpretation(self.catalog))
        ranked = self.ranker.rank_candidates(request, head)
        if ranked.meta.get("degraded"):
            self._llm_failed(ranked.meta.get("reason") or "LLM unavailable")
        else:
            self._llm_error = None
        rest = recalled.items[len(head):]
        merged = ItemList(np.concatenate([ranked.items, rest]),
                          np.concatenate([ranked.scores, np.full(len(rest), -np.inf)]), ranked.meta)
        merged = self._reordered(history, merged, weights)
        if explain and not ranked.meta.get("degraded"):
            merged = self._explain(merged, explain)
        return merged, merged.meta

    def _rank_items(self, history: History, recalled: ItemList, n: int, explain: int,
                    weights: ObjectiveWeights | None, seeds: np.ndarray | None, resting: bool
                    ) -> tuple[ItemList, dict]:
        """Every allowed item (``recalled``) ranked by the item-token LLM fused with the retriever; when the
        model cannot score (or failed a moment ago: ``resting``), the retriever's order, flagged degraded."""
        if not resting:
            try:
                ranked = self.items.rank(history, recalled, n, seeds)
            except (LLMRecError, RuntimeError, OSError) as err:  # the engine failed or died: never a crash
                self._llm_failed(f"item-token model: {type(err).__name__}: {err}")
            else:
                self._llm_error = None
                ranked = self._reordered(history, ranked, weights)
                if explain:
                    ranked = self._explain(ranked, explain)
                return ranked, ranked.meta
        return (self._reordered(history, recalled.head(n), weights),
                {"degraded": True, "reason": self._llm_error})

    def _reordered(self, history: History, ranked: ItemList, weights: ObjectiveWeights | None) -> ItemList:
        """``ranked`` re-ordered by the objectives' ``weights`` (none: as it is), each score with its item.
        The items without a finite score (recalled below the LLM's candidates) keep their order below the
        scored ones when the stage compares them."""
        if weights is None or len(ranked) < 2:
            return ranked
        if self._objectives is None:
            self._objectives = MultiObjective(self.data.catalog, self.data.interactions, weights)
        scores = (ranked.scores if ranked.scores is not None
                  else -np.arange(len(ranked), dtype=np.float64))
        order = self._objectives.rerank(history, ranked.items, _ordered_below(scores), weights)
        position = {int(item): n for n, item in enumerate(ranked.items.tolist())}
        rows = np.fromiter((position[int(item)] for item in order), dtype=np.int64, count=len(order))
        return ItemList(ranked.items[rows], scores[rows], {**ranked.meta, "objectives": weights.model_dump()})

    def _llm_resting(self) -> bool:
        return time.monotonic() < self._llm_down_until

    def _llm_failed(self, reason: str) -> None:
        self._llm_error = reason
        self._llm_down_until = time.monotonic() + self.config.llm_retry_after
        log.warning("LLM unavailable (%s); answering without it for %.0f s", reason,
                    self.config.llm_retry_after)

    def _explain(self, ranked: ItemList, n: int) -> ItemList:
        from llmrec.explain import Explainer

        if self._explainer is None:
            self._explainer = Explainer(self.ranker)
        try:
            return self._explainer.explain(ranked, k=n)
        except LLMUnavailable as err:
            log.warning("explanations unavailable: %s", err)
            return ranked

    # -- checks and relaxations --------------------------------------------------------------------------
    def _checked(self, ranked: ItemList, query: Query, excluded: set[int], k: int, meta: dict
                 ) -> list[RecommendedItem]:
        """The top ``k`` items that satisfy every constraint, checked one by one in code."""
        by_item = {e.item: e for e in meta.get("explanations", [])}
        out = []
        for item, score in zip(ranked.items.tolist(), ranked.scores.tolist()):
            bad = item in excluded or item not in self.catalog
            if bad or query.constraints.violations(self.catalog, item):
                log.error("constraint_violation item=%d dropped (%s)", item,
                          query.constraints.violations(self.catalog, item) or "excluded")
                continue
            e = by_item.get(item)
            out.append(RecommendedItem(item, self.catalog.display_title(item), self.catalog.year(item),
                                       tuple(self.catalog.genres(item)),
                                       float(score) if np.isfinite(score) else 0.0, e.text if e else None))
            if len(out) == k:
                break
        return out

    def _relaxation(self, query: Query, excluded: set[int]) -> str | None:
        """The smallest change to the constraints that leaves something to recommend, in words."""
        c = query.constraints
        atoms: list[tuple[str, dict]] = []
        for name in ("genres_all", "genres_any", "genres_none"):
            for g in getattr(c, name):
                rest = tuple(x for x in getattr(c, name) if x != g)
                label = {"genres_all": f"'{g}'", "genres_any": f"'{g}' as an option",
                         "genres_none": f"'no {g}'"}[name]
                atoms.append((f"drop {label}", {name: rest} if name != "genres_any" else {name: ()}))
        if c.year_min is not None or c.year_max is not None:
            atoms.append(("drop the release years", {"year_min": None, "year_max": None}))
        ex = np.fromiter(excluded, dtype=np.int64, count=len(excluded))
        for size in (1, 2):
            best = None
            for combo in itertools.combinations(atoms, size):
                changes = {}
                for _, change in combo:
                    changes.update(change)
                fields = {f: getattr(c, f) for f in ("genres_all", "genres_any", "genres_none", "year_min",
                                                      "year_max", "exclude_items")}
                relaxed = Constraints(**{**fields, **changes})
                count = int((~np.isin(relaxed.mask(self.catalog), ex)).sum())
                if count and (best is None or count > best[0]):
                    best = (count, " and ".join(label for label, _ in combo))
            if best:
                return f"Closest: {best[1]} ({best[0]} titles)."
        return None
