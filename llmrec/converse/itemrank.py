"""The item-token LLM as a conversation's ranker: every allowed item scored, none left to recall.

With ``ConverseConfig(items_model=DIR)`` (a model from ``python -m finetune.items``) a turn does not rerank
the retriever's top K by reading titles.  The retriever scores *every* item the turn's hard constraints allow
(its request-aware score: the request text, the "like X" seeds, the history), the item-token model scores
the whole catalog from the user's history in one forward pass (:class:`~llmrec.llm.generative.GenLLM`), and
the two are fused over the allowed items, ``z(retriever) + weight * z(LLM)`` (each standardised over the
allowed items).  So the LLM can lift an allowed item the retriever placed anywhere (generative recall), and
the request still steers through the retriever and the constraints.  An item the model has no token for
(added after training) gets the LLM's mean (z 0): the retriever alone places it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from llmrec.data import Dataset
from llmrec.history import History
from llmrec.items import ItemList
from llmrec.llm.generative import GenLLM, GenLLMConfig, zscore

__all__ = ["BoundedCache", "ItemTokenRanking"]


class BoundedCache(OrderedDict):
    """The LLM's scores of the most recently scored ``size`` histories (a user's turns share one forward
    pass; a long-running service does not grow without bound)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class ItemTokenRanking:
    """Fuses the retriever's scores of a turn's allowed items with an item-token model's (see the module)."""

    def __init__(self, model: str, weight: float, *, ensemble: Sequence[str] = (),
                 genllm: GenLLM | None = None, cache_size: int = 4096) -> None:
        """``model``: the item-token model directory; ``weight``: the LLM's weight against the retriever's 1;
        ``ensemble``: more models whose log-probabilities are averaged with ``model``'s; ``genllm``: a
        :class:`GenLLM` to use (tests give one with a scripted backend); ``cache_size``: histories whose
        scores are kept."""
        self.weight = float(weight)
        self.genllm = genllm or GenLLM(GenLLMConfig(model=model, ensemble=list(ensemble)),
                                       cache=BoundedCache(cache_size))

    def fit(self, data: Dataset) -> ItemTokenRanking:
        """Check the model against ``data``'s catalog (a model for another catalog is refused)."""
        self.genllm.fit(data)
        return self

    def rank(self, history: History, recalled: ItemList, n: int, seeds: np.ndarray | None = None,
             weight: float | None = None) -> ItemList:
        """The top ``n`` of ``recalled`` (every allowed item with the retriever's score) by the fused score;
        ``seeds`` ("like X" items) are written at the end of the history in the model's prompt, as if
        watched last (moved there when the history holds them); ``weight``: the LLM's weight for this turn
        (None: the one given at construction).
        Raises what the engine raises when it cannot score (the caller answers degraded)."""
        items = np.asarray(recalled.items, dtype=np.int64)
        weight = self.weight if weight is None else float(weight)
        if len(items) == 0:
            return recalled
        history = self._with_seeds(history, seeds)
        retr = np.asarray(recalled.scores, dtype=np.float64)
        finite = np.isfinite(retr)
        retr = np.where(finite, retr, retr[finite].min() if finite.any() else 0.0)
        llm_z = np.zeros(len(items))
        vocab = self.genllm.vocab
        known = np.isin(items, vocab.item_ids)
        if known.any() and weight:  # at weight 0 the model is not asked at all
            row = self.genllm.item_logprobs([history])[0]
            llm_z[known] = zscore(row[vocab.positions(items[known])])
        fused = zscore(retr) + weight * llm_z
        order = np.argsort(-fused, kind="stable")[:n]  # ties keep the retriever's order
        return ItemList(items[order], fused[order],
                        {**recalled.meta, "stage": "items", "items_weight": weight})

    def _with_seeds(self, history: History, seeds: np.ndarray | None) -> History:
        """``history`` with the ``seeds`` the model knows at its end (moved there when already in it)."""
        if seeds is None or not len(seeds):
            return history
        seeds = np.asarray(seeds, dtype=np.int64)
        seeds = seeds[np.isin(seeds, self.genllm.vocab.item_ids)]
        if not len(seeds):
            return history
        rest = history.without(seeds)
        rating = {int(i): r for i, r in zip(history.items.tolist(), history.ratings.tolist())}
        last = history.timestamps[-1] if len(history) else 0
        return History(history.user, np.r_[rest.items, seeds],
                       np.r_[rest.ratings, [rating.get(int(i), np.nan) for i in seeds]],
                       np.r_[rest.timestamps, np.full(len(seeds), last)])

    def stats(self) -> dict:
        return self.genllm.stats()

    def close(self) -> None:
        self.genllm.close()
