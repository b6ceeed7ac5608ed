"""``Pipeline``: the two-stage recommender as one object — recall, rank, explain.

    pipeline = Pipeline(data, retriever="auto", explain=1)
    recs = pipeline.recommend(42, k=5)        # a user id, or a History
    recs.items, recs.titles, recs.scores, recs.explanations, recs.degraded, recs.timings

The registered ``dense`` recommender recalls K candidates, the ``llm`` ranker (:class:`~llmrec.llm.ranker.
LLMRanker`) reranks them through its backend, and the :class:`~llmrec.explain.Explainer` explains the top
``explain`` items by continuing the prompt that ranked them.  When the LLM is unavailable the retriever's
order is served and ``degraded`` says so, with the reason.

A first answer comes as soon as the slowest stage allows: the LLM backend starts in a background thread when
the pipeline is made (for vLLM, eager or compiled by ``workload``: ``"interactive"``, the default, runs eager,
the shorter start), while the retriever loads and recalls; the first request waits for the engine only after
its candidates are recalled.  One backend serves every request of the pipeline (an engine stays up until
:meth:`Pipeline.close`).  ``progress`` gets one short line per stage (what is being prepared and how long it
took), and each result's ``timings`` holds its seconds per stage: ``engine_start`` (in the background, so
it overlaps the next three) and ``retriever_load`` on the first result only, then ``recall``,
``engine_wait``, ``ranking`` and ``explanations``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
from pydantic import ValidationError

from llmrec.data import Dataset
from llmrec.errors import ConfigError, LLMRecError
from llmrec.explain import Explainer, Explanation
from llmrec.history import History, histories
from llmrec.items import ItemList
from llmrec.llm.config import Workload
from llmrec.recommenders import create_recommender
from llmrec.recommenders.base import check_n
from llmrec.recommenders.objectives import MultiObjective, ObjectiveWeights
from llmrec.timing import Progress, Stages

__all__ = ["Pipeline", "Recommendations", "check_k"]

log = logging.getLogger(__name__)


def check_k(k: Any) -> int:
    """``k`` as a positive number of items; anything else is an error naming the value."""
    return check_n(k, "k")


@dataclass(frozen=True)
class Recommendations:
    """One user's recommendations, best first."""

    user: int
    items: np.ndarray
    scores: np.ndarray
    titles: list[str]
    explanations: list[Explanation] = field(default_factory=list)
    degraded: bool = False  # the LLM was unavailable: the retriever's order is served
    reason: str | None = None  # why, when degraded
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, in the order they ran
    interpretation: str | None = None  # with a request: how it was read ("Comedy, 1990-1999, no Romance")
    relaxation: str | None = None  # with a request nothing satisfies: the smallest relaxation, in words
    unsupported: list[str] = field(default_factory=list)  # with a request: kinds the catalog cannot express

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_list(cls, user: int, ranked: ItemList, catalog,
                  timings: dict[str, float] | None = None) -> Recommendations:
        return cls(user=user, items=ranked.items, scores=ranked.scores,
                   titles=[catalog.display_title(int(i)) for i in ranked.items],
                   explanations=list(ranked.meta.get("explanations", [])),
                   degraded=bool(ranked.meta.get("degraded", False)), reason=ranked.meta.get("reason"),
                   timings=dict(timings or {}))

    @classmethod
    def from_turn(cls, turn, user: int = -1) -> Recommendations:
        """A conversational :class:`~llmrec.converse.Turn` as recommendations for ``user`` (-1: new user)."""
        return cls(user=user, items=np.array([it.item for it in turn.items], dtype=np.int64),
                   scores=np.array([it.score for it in turn.items], dtype=np.float64),
                   titles=[it.title for it in turn.items],
                   explanations=[Explanation(user, it.item, it.explanation, (), it.genres)
                                 for it in turn.items if it.explanation],
                   degraded=turn.degraded, reason=turn.reason, timings=dict(turn.timings),
                   interpretation=turn.interpretation, relaxation=turn.relaxation,
                   unsupported=list(turn.unsupported))


class Pipeline:
    """Retriever + LLM ranker (+ explanations), fitted on ``data``.

    ``retriever``: a trained retriever directory, ``"auto"`` (the cached default one, trained on first use)
    or None (the untrained text retriever); ``adapter``: a LoRA adapter directory (``python -m
    finetune.lora``);
    ``backend``/``url``: the LLM backend (``"remote"`` with a server's URL); ``explain``: how many of the top
    items to explain; ``ranker``: any other :class:`~llmrec.llm.ranker.LLMRankerConfig` values (``engine``
    settings included); ``workload``: what the engine is started for (``"interactive"``: eager; ``"batch"``
    or a large number of prompts: compiled; ``engine.enforce_eager`` true/false overrides it);
    ``progress``: a callable taking one short line per stage (it may be called from the engine's start
    thread), or None.
    """

    def __init__(self, data: Dataset, *, retriever: str | None = "auto", adapter: str | None = None,
                 backend: str = "vllm", url: str | None = None, explain: int = 0,
                 ranker: dict[str, Any] | None = None, workload: Workload = "interactive",
                 progress: Progress | None = None):
        if explain < 0:
            raise ConfigError(f"explain must be 0 or more (how many top items to explain), got {explain!r}")
        params: dict[str, Any] = {"retriever": retriever, "backend": backend, **(ranker or {})}
        if adapter:
            params["adapter"] = adapter
        if url:
            params["engine"] = {**params.get("engine", {}), "url": url}
        self.data = data
        self.progress = progress
        self.ranker = create_recommender("llm", params)
        self.ranker.progress = progress
        startup = Stages(progress)
        self.ranker.start(background=True, workload=workload)
        try:
            with startup.stage("retriever_load", "loading the retriever...") as stage:
                self.ranker.fit(data)
                stage.done = "retriever ready"
        except BaseException:
            self.ranker.close()
            raise
        self._startup: dict[str, float] | None = startup.seconds  # reported on the first result
        self.explain = explain
        self.explainer = Explainer(self.ranker) if explain else None
        self._histories = histories(data.interactions)
        self._conversations = None
        self._stage: MultiObjective | None = None

    def history(self, user: int) -> History:
        """The user's history in the fitted data; an unknown user is an error naming the valid range."""
        if user not in self._histories:
            users = self._histories
            raise LLMRecError(f"unknown user {user}; users range {min(users)}..{max(users)}")
        return self._histories[user]

    def recommend(self, user: int | History | None = None, k: int = 10, *, request: str | None = None,
                  objectives: ObjectiveWeights | dict[str, float] | None = None) -> Recommendations:
        """The top ``k`` items for a user id (or a history), with explanations of the top ``explain``; with
        ``request`` (plain language: "like Toy Story but for adults, no horror"), the items that satisfy
        every constraint it states, for ``user`` or for a new user (None), read and checked by
        :class:`~llmrec.converse.Conversations`.  ``objectives`` (weights of ``diversity``, ``calibration``,
        ``popularity``: :mod:`llmrec.recommenders.objectives`) re-rank the ranked candidates before the top
        ``k`` are taken and explained, with or without a request (with one, the items that satisfy it)."""
        k = check_k(k)
        weights = self._weights(objectives)
        if request is not None:
            if isinstance(user, History):
                raise ConfigError("a request is answered for a user id or a new user (None), not a History")
            turn = self.conversations().recommend(request, user=user, k=k, explain=self.explain,
                                                  objectives=weights)
            return Recommendations.from_turn(turn, -1 if user is None else int(user))
        if user is None:
            raise ConfigError("recommend needs a user, a request, or both")
        history = user if isinstance(user, History) else self.history(int(user))
        t0 = time.perf_counter()
        if weights is not None and weights.active():
            ranked = self._reranked(history, k, weights)
        else:
            ranked = self.ranker.recommend(history, self.data.catalog.item_ids, n=k)
        stages = Stages(self.progress)
        for name, seconds in (ranked.meta.get("timings") or {"ranking": time.perf_counter() - t0}).items():
            stages.add(name, seconds)
        if self.explainer is not None and not ranked.meta.get("degraded") and "request" in ranked.meta:
            with stages.stage("explanations", f"explaining the top {min(self.explain, len(ranked))}...") as s:
                ranked = self.explainer.explain(ranked, k=self.explain)
                s.done = "explained"
        return Recommendations.from_list(history.user, ranked, self.data.catalog,
                                         {**self._first_timings(), **stages.seconds})

    def _weights(self, objectives) -> ObjectiveWeights | None:
        if objectives is None or isinstance(objectives, ObjectiveWeights):
            return objectives
        try:
            return ObjectiveWeights(**objectives)
        except (TypeError, ValidationError) as err:
            raise ConfigError(f"invalid objective weights {objectives!r}: {err}") from None

    def _reranked(self, history: History, k: int, weights: ObjectiveWeights) -> ItemList:
        """The ranker's candidates re-ranked by the objectives, top ``k`` (meta kept for explanations)."""
        ranked = self.ranker.rank(history)
        if self._stage is None:
            self._stage = MultiObjective(self.data.catalog, self.data.interactions, weights)
        order = self._stage.rerank(history, ranked.items, ranked.scores, weights.for_answer(k))[:k]
        position = {int(i): n for n, i in enumerate(ranked.items)}
        scores = ranked.scores[[position[int(i)] for i in order]]
        return ItemList(order, scores, {**ranked.meta, "objectives": weights.model_dump()})

    def conversations(self):
        """The conversational recommender on this pipeline's data and LLM engine (made on first use)."""
        if self._conversations is None:
            from llmrec.converse import Conversations, ConverseConfig

            self._conversations = Conversations(self.data, ConverseConfig(
                retriever=self.ranker.config.retriever, explain=min(self.explain, 10)), ranker=self.ranker)
        return self._conversations

    def conversation(self, user: int | None = None):
        """A new :class:`~llmrec.converse.Conversation` (``conversation.say(text)`` adds a turn)."""
        from llmrec.converse import Conversation

        return Conversation(self.conversations(), user=user)

    def _first_timings(self) -> dict[str, float]:
        """The start-up stages, for the first result only (the one that waited for them)."""
        if self._startup is None:
            return {}
        started = self.ranker.backend_start_seconds()
        first = {**({"engine_start": started} if started is not None else {}), **self._startup}
        self._startup = None
        return first

    def close(self) -> None:
        """Stop the LLM backend (an in-process engine's workers)."""
        if self._conversations is not None:
            self._conversations.store.close()
        self.ranker.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
