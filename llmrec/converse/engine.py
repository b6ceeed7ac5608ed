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

Real-time updates (:mod:`~llmrec.converse.realtime`; the events: :mod:`~llmrec.converse.events`):
``add_interaction`` and ``add_item`` record an event in the store and apply it at once, so the next turn of
any conversation reads it; recall searches through the retriever's FAISS item index (exact), which new items
join without a rebuild.  The engine works on its own copy of the dataset's catalog, which new items extend.
Its settings: :class:`~llmrec.converse.config.ConverseConfig`; the checks of a turn:
:mod:`~llmrec.converse.checks`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from llmrec.converse.checks import check_request, checked_items, objective_weights
from llmrec.converse.checks import relaxation as relaxed
from llmrec.converse.config import ConverseConfig
from llmrec.converse.feedback import read_feedback
from llmrec.converse.itemrank import ItemTokenRanking
from llmrec.converse.parse import RequestParser, apply_intents
from llmrec.converse.query import Constraints, Query
from llmrec.converse.reader import IntentReader, ReaderConfig
from llmrec.converse.realtime import RealtimeUpdates
from llmrec.converse.state import ConversationState, ConversationStore, update_provenance
from llmrec.converse.turn import RequestError, Turn
from llmrec.data import Catalog, Dataset
from llmrec.errors import LLMRecError, LLMUnavailable
from llmrec.history import History, histories
from llmrec.items import ItemList
from llmrec.llm.adapters import resolve_adapter
from llmrec.recommenders.objectives import MultiObjective, ObjectiveWeights
from llmrec.request import Request

__all__ = ["Conversations", "ConverseConfig"]

log = logging.getLogger(__name__)


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


class Conversations(RealtimeUpdates):
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
            self.items = (items or ItemTokenRanking(config.items_model, config.items_weight,
                                                    ensemble=config.items_ensemble)).fit(data)
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
        self._start_updates()

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
        weights = objective_weights(objectives)
        self._sync()
        if user is not None:
            self.history(user)
        state = ConversationState(id="", user=user)
        return self._answer(state, text, k, explain, persist=False, weights=weights)

    def turn(self, conversation_id: str, text: str, *, k: int | None = None, explain: int | None = None,
             objectives: ObjectiveWeights | Mapping[str, Any] | None = None) -> Turn:
        weights = objective_weights(objectives)
        self._sync()
        with self._lock:
            state = self.store.load(conversation_id)
            return self._answer(state, text, k, explain, persist=True, weights=weights)

    def health(self) -> dict[str, Any]:
        reason = self._llm_error
        return {"status": "degraded" if reason else "ok", "llm": not reason, "reason": reason,
                "items": len(self.catalog), "users": len(self._histories),
                "item_token_model": self.config.items_model if self.items is not None else None,
                "item_token_ensemble": list(self.config.items_ensemble) if self.items is not None else []}

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

    def _answer(self, state: ConversationState, text: Any, k: Any, explain: Any, persist: bool,
                weights: ObjectiveWeights | None = None) -> Turn:
        t0 = time.perf_counter()
        explain = self.config.explain if explain is None else explain
        text, k, explain = check_request(text, k, explain, max_chars=self.config.max_request_chars)
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
            items = checked_items(self.catalog, ranked, query, excluded, k, meta.get("explanations", []))
        else:
            relaxation = relaxed(self.catalog, query, excluded)
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
            weight = self.config.items_seed_weight if len(query.seeds) else None
            return self._rank_items(history, recalled, n, explain, weights, seeds, weight,
                                    resting=not generative)
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
                    weights: ObjectiveWeights | None, seeds: np.ndarray | None, weight: float | None,
                    resting: bool) -> tuple[ItemList, dict]:
        """Every allowed item (``recalled``) ranked by the item-token LLM fused with the retriever; when the
        model cannot score (or failed a moment ago: ``resting``), the retriever's order, flagged degraded."""
        if not resting:
            try:
                ranked = self.items.rank(history, recalled, n, seeds, weight)
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
