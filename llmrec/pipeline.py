"""``Pipeline``: the two-stage recommender as one object — recall, rank, explain.

    pipeline = Pipeline(data, retriever="auto", explain=1)
    recs = pipeline.recommend(42, k=5)        # a user id, or a History
    recs.items, recs.titles, recs.scores, recs.explanations, recs.degraded

The registered ``dense`` recommender recalls K candidates, the ``llm`` ranker (:class:`~llmrec.llm.ranker.
LLMRanker`) reranks them through its backend, and the :class:`~llmrec.explain.Explainer` explains the top
``explain`` items by continuing the prompt that ranked them.  When the LLM is unavailable the retriever's
order is served and ``degraded`` says so, with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from llmrec.data import Dataset
from llmrec.errors import ConfigError, LLMRecError
from llmrec.explain import Explainer, Explanation
from llmrec.history import History, histories
from llmrec.items import ItemList
from llmrec.recommenders import create_recommender
from llmrec.recommenders.base import check_n

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

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_list(cls, user: int, ranked: ItemList, catalog) -> Recommendations:
        return cls(user=user, items=ranked.items, scores=ranked.scores,
                   titles=[catalog.display_title(int(i)) for i in ranked.items],
                   explanations=list(ranked.meta.get("explanations", [])),
                   degraded=bool(ranked.meta.get("degraded", False)), reason=ranked.meta.get("reason"))


class Pipeline:
    """Retriever + LLM ranker (+ explanations), fitted on ``data``.

    ``retriever``: a trained retriever directory, ``"auto"`` (the cached default one, trained on first use)
    or None (the untrained text retriever); ``adapter``: a LoRA adapter directory (``python -m
    finetune.lora``);
    ``backend``/``url``: the LLM backend (``"remote"`` with a server's URL); ``explain``: how many of the top
    items to explain; ``ranker``: any other :class:`~llmrec.llm.ranker.LLMRankerConfig` values (``engine``
    settings included).
    """

    def __init__(self, data: Dataset, *, retriever: str | None = "auto", adapter: str | None = None,
                 backend: str = "vllm", url: str | None = None, explain: int = 0,
                 ranker: dict[str, Any] | None = None):
        if explain < 0:
            raise ConfigError(f"explain must be 0 or more (how many top items to explain), got {explain!r}")
        params: dict[str, Any] = {"retriever": retriever, "backend": backend, **(ranker or {})}
        if adapter:
            params["adapter"] = adapter
        if url:
            params["engine"] = {**params.get("engine", {}), "url": url}
        self.data = data
        self.ranker = create_recommender("llm", params)
        self.ranker.fit(data)
        self.explain = explain
        self.explainer = Explainer(self.ranker) if explain else None
        self._histories = histories(data.interactions)

    def history(self, user: int) -> History:
        """The user's history in the fitted data; an unknown user is an error naming the valid range."""
        if user not in self._histories:
            users = self._histories
            raise LLMRecError(f"unknown user {user}; users range {min(users)}..{max(users)}")
        return self._histories[user]

    def recommend(self, user: int | History, k: int = 10) -> Recommendations:
        """The top ``k`` items for a user id (or a history), with explanations of the top ``explain``."""
        k = check_k(k)
        history = user if isinstance(user, History) else self.history(int(user))
        ranked = self.ranker.recommend(history, self.data.catalog.item_ids, n=k)
        if self.explainer is not None and not ranked.meta.get("degraded") and "request" in ranked.meta:
            ranked = self.explainer.explain(ranked, k=self.explain)
        return Recommendations.from_list(history.user, ranked, self.data.catalog)

    def close(self) -> None:
        """Stop the LLM backend (an in-process engine's workers)."""
        self.ranker.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
