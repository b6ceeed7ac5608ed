"""Multi-objective re-ranking: a stage after any ranker that trades a little accuracy for diversity,
calibration or less popular items, one weight per objective.

The ranker's top ``pool`` items are re-ordered greedily into a list of ``length``: at each position the item
with the highest

    rel(i) - diversity * sim(i, chosen) - calibration * KL(p || q~(chosen + i)) - popularity * pop(i)
           - popularity_calibration * JS(h || g(chosen + i))

is taken, where ``rel`` is the DCG gain of the item's rank r in the ranker's order, ``1 / log2(r + 2)``
(``relevance="rank"``, the default: the same scale whatever the ranker's scores are) or the ranker's score
min-max scaled to [0, 1] over the pool (``relevance="score"``); ``sim`` the mean genre Jaccard similarity to
the items already chosen (``redundancy="mean"``, the default: the greedy step of intra-list diversity) or the
largest (``"max"``: MMR, Carbonell & Goldstein 1998); ``KL`` Steck's calibration divergence (RecSys 2018)
between the genre distribution ``p`` of the user's history and that of the list so far with ``i``
(``q~ = 0.99 q + 0.01 p``); ``pop`` the item's training popularity as
``log(1 + count) / log(1 + max count)``; ``JS`` the Jensen-Shannon divergence (natural log) between the
popularity-group distribution ``h`` of the history and ``g`` of the list so far with ``i``, the groups being
the short head (the most popular items that together hold 20% of the training interactions), the long tail
(the least popular items that together hold 20%, unseen items included) and the middle: calibrated popularity
(Abdollahpouri et al., UMAP 2021), which moves a list towards the tail only as far as the user's own history
goes there, where ``popularity`` demotes popular items for everyone.  The objectives choose which items
make each page of the list (``page`` items: the first page is the greedy's first ``page`` picks, and so on);
within a page the items are shown in the ranker's order, so the most relevant pick leads (``page=0``: in the
order the greedy picked them).  Diversity, coverage and calibration of a page do not depend on its order;
its accuracy does.  All weights 0 give the ranker's own order.  Items below the pool keep their order after
the re-ranked list.

    rec = create_recommender("rerank", {"base": "itemknn", "diversity": 0.3})
    python -m eval --recommender rerank --param base=itemknn --param diversity=0.3
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from llmrec.data import Catalog, Dataset, Interactions
from llmrec.history import History
from llmrec.recommenders.base import Recommender, RecommenderConfig, create_recommender

__all__ = ["MultiObjective", "ObjectiveWeights", "RerankConfig", "Reranked", "js_divergence",
           "popularity_groups"]

HEAD, MIDDLE, TAIL = 0, 1, 2


def popularity_groups(item_ids: np.ndarray, counts: np.ndarray, share: float = 0.2) -> np.ndarray:
    """Each item's popularity group: ``HEAD`` (0) for the most popular items that together hold ``share`` of
    the interactions (the item that crosses it included), ``TAIL`` (2) for the least popular items that
    together hold at most ``share`` (items never seen included), ``MIDDLE`` (1) for the rest.  Ties by id."""
    counts = np.asarray(counts, dtype=np.float64)
    total = max(counts.sum(), 1.0)
    groups = np.full(len(counts), MIDDLE, dtype=np.int64)
    order = np.lexsort((item_ids, -counts))  # most popular first
    cum = np.cumsum(counts[order]) / total
    groups[order[:int(np.searchsorted(cum, share, side="left")) + 1]] = HEAD
    rising = order[::-1]  # least popular first
    low = np.cumsum(counts[rising]) / total
    tail = rising[:int(np.searchsorted(low, share, side="right"))]
    groups[tail[groups[tail] != HEAD]] = TAIL
    return groups


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (natural log, at most log 2) of distribution ``p`` from each row of ``q``."""
    p, q = np.broadcast_arrays(np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64))
    m = (p + q) / 2

    def kl(a: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a > 0, a * np.log(a / np.where(m > 0, m, 1.0)), 0.0).sum(-1)

    return 0.5 * kl(p) + 0.5 * kl(q)


class ObjectiveWeights(RecommenderConfig):
    """One weight per objective (0: off) and the sizes of the stage."""

    diversity: float = Field(0.0, ge=0, description="MMR weight of genre redundancy with the chosen items")
    calibration: float = Field(0.0, ge=0, description="weight of the genre miscalibration (KL) of the list")
    popularity: float = Field(0.0, ge=0, description="weight of the item's scaled log popularity")
    popularity_calibration: float = Field(0.0, ge=0, description="weight of the Jensen-Shannon divergence "
                                          "of the list's head/middle/tail mix from the history's")
    pool: int = Field(100, ge=1, description="the ranker's top items the stage re-orders")
    length: int = Field(20, ge=1, description="length of the re-ranked list")
    page: int = Field(10, ge=0, description="items per page: each page's picks shown in the ranker's order "
                                            "(0: in the order they were picked)")
    relevance: Literal["rank", "score"] = Field("rank", description="the ranker's side of the trade: the DCG "
                                                "gain of each item's rank, or its min-max scaled score")
    redundancy: Literal["mean", "max"] = Field("mean", description="genre similarity to the chosen items: "
                                               "the mean (intra-list diversity) or the largest (MMR)")

    def active(self) -> bool:
        return bool(self.diversity or self.calibration or self.popularity or self.popularity_calibration)

    def for_answer(self, k: int) -> ObjectiveWeights:
        """These weights for an answer of ``k`` items: its page no longer than the answer (so the items
        shown are the greedy's first ``k`` picks, in the ranker's order)."""
        return self.model_copy(update={"page": min(self.page, k)}) if self.page > k else self


class MultiObjective:
    """The re-ranking stage over one catalog and its training interactions."""

    def __init__(self, catalog: Catalog, interactions: Interactions, weights: ObjectiveWeights) -> None:
        self.catalog, self.weights = catalog, weights
        ids = catalog.item_ids
        self.genres = catalog.genre_matrix()[1]
        self.spread = self.genres / np.maximum(self.genres.sum(1, keepdims=True), 1.0)
        counts = np.bincount(catalog.positions(interactions.frame["item"].to_numpy()), minlength=len(ids))
        self.popularity = np.log1p(counts) / max(np.log1p(counts.max()), 1e-12)
        self.groups = np.eye(3)[popularity_groups(ids, counts)]  # one-hot head / middle / tail

    def rerank(self, history: History, items: np.ndarray, scores: np.ndarray,
               weights: ObjectiveWeights | None = None) -> np.ndarray:
        """``items`` (with the ranker's ``scores``) in the re-ranked order: the list of ``length`` first, the
        rest of the items after it in the ranker's order (ties by smaller id, non-finite last)."""
        w = weights or self.weights
        items = np.asarray(items, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float64)
        finite = np.isfinite(scores)
        order = np.lexsort((items, ~finite, -np.where(finite, scores, -np.inf)))
        if not w.active() or len(items) < 2:
            return items[order]
        pool = order[:w.pool]
        chosen = self._greedy(history, items[pool], np.where(finite[pool], scores[pool], np.nan), w)
        if w.page:  # the pool is in the ranker's order: sorting positions within a page restores it
            chosen = np.concatenate([np.sort(chosen[i:i + w.page]) for i in range(0, len(chosen), w.page)])
        head = pool[chosen]
        rest = order[~np.isin(order, head)]
        return items[np.concatenate([head, rest])]

    def _greedy(self, history: History, pool: np.ndarray, scores: np.ndarray, w: ObjectiveWeights
                ) -> np.ndarray:
        if w.relevance == "rank":  # the pool is in the ranker's order
            rel = 1.0 / np.log2(np.arange(len(pool)) + 2.0)
        else:
            known = np.isfinite(scores)
            low, high = (np.min(scores[known]), np.max(scores[known])) if known.any() else (0.0, 0.0)
            rel = np.nan_to_num((scores - low) / (high - low) if high > low else np.ones(len(pool)), nan=0.0)
        rows = self.catalog.positions(pool)
        g, spread, pop = self.genres[rows], self.spread[rows], self.popularity[rows]
        size = g.sum(1)
        p = None
        if w.calibration and len(history):
            h = self.spread[self.catalog.positions(history.items)].sum(0)
            p = h / h.sum() if h.sum() > 0 else None
        mix = None  # the history's head / middle / tail shares
        if w.popularity_calibration and len(history):
            mix = self.groups[self.catalog.positions(history.items)].mean(0)
        groups = self.groups[rows]
        g_sum = np.zeros(3)
        base = rel - w.popularity * pop
        max_sim, sum_sim = np.zeros(len(pool)), np.zeros(len(pool))
        q_sum = np.zeros(g.shape[1])
        free = np.ones(len(pool), dtype=bool)
        picked: list[int] = []
        for step in range(min(w.length, len(pool))):
            sim = max_sim if w.redundancy == "max" else sum_sim / max(step, 1)
            obj = base - w.diversity * sim
            if p is not None:
                q = (q_sum[None, :] + spread) / (step + 1)
                qt = 0.99 * q + 0.01 * p[None, :]
                m = p > 0
                obj = obj - w.calibration * (p[m][None, :] * np.log(p[m][None, :] / qt[:, m])).sum(1)
            if mix is not None:
                obj = obj - w.popularity_calibration * js_divergence(mix, (g_sum + groups) / (step + 1))
            obj = np.where(free, obj, -np.inf)
            j = int(np.lexsort((pool, -obj))[0])  # the best, ties by smaller item id
            picked.append(j)
            free[j] = False
            q_sum += spread[j]
            g_sum += groups[j]
            inter = g @ g[j]
            union = size + size[j] - inter
            jaccard = np.where(union > 0, inter / np.maximum(union, 1e-12), 1.0)
            max_sim, sum_sim = np.maximum(max_sim, jaccard), sum_sim + jaccard
        return np.asarray(picked, dtype=np.int64)


class RerankConfig(ObjectiveWeights):
    base: str = Field("dense", description="the registered recommender whose ranking is re-ranked")
    base_params: dict[str, Any] = Field(default_factory=dict, description="its config values")


class Reranked(Recommender[RerankConfig]):
    """Any registered recommender followed by the :class:`MultiObjective` stage (its scores re-ordered: the
    re-ranked list above every other item)."""

    name = "rerank"
    config_class = RerankConfig

    def __init__(self, config: RerankConfig | None = None, *, base: Recommender | None = None) -> None:
        super().__init__(config)
        self.base = base if base is not None else create_recommender(self.config.base,
                                                                     self.config.base_params)
        self.stage: MultiObjective | None = None

    def fit(self, data: Dataset) -> Reranked:
        if not self.base.is_trained():
            self.base.fit(data)
        self.stage = MultiObjective(data.catalog, data.interactions, self.config)
        self._trained = True
        return self

    def score(self, history: History, items: np.ndarray) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        scores = np.asarray(self.base.score(history, items), dtype=np.float64)
        return self.reorder(history, items, scores)

    def reorder(self, history: History, items: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Scores whose order is the re-ranked one (the list first, then the ranker's order): minus each
        item's position, so a re-ranked recommendation shows 0, -1, -2, ... (its order, not a relevance)."""
        ordered = self.stage.rerank(history, items, scores)
        position = np.empty(len(items))
        position[np.searchsorted(np.sort(items), ordered)] = np.arange(len(items))
        return 0.0 - position[np.searchsorted(np.sort(items), items)]  # 0.0 - 0: no "-0" shown

    def prepare(self, histories: list[History]) -> None:
        self.base.prepare(histories)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "config": self.config.model_dump(mode="json"),
                "base": self.base.describe()}

    def stats(self) -> dict[str, Any]:
        return self.base.stats()

    def close(self) -> None:
        self.base.close()
