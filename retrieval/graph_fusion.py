"""Candidates fused from the dense retriever and the knowledge graph's personalised PageRank.

:class:`HybridRetriever` (registered as ``hybrid``) is a :class:`~llmrec.recommenders.base.Retriever`: the
LLM ranker takes its candidates from it when ``graph_weight > 0`` (``LLMRankerConfig.graph_weight``).  Both
sources score the whole catalog; the user's seen items are left out and the two are fused by

* ``rrf`` (reciprocal rank fusion): ``1 / (rrf_k + rank_dense) + graph_weight / (rrf_k + rank_graph)``, or
* ``zscore``: ``z(dense) + graph_weight * z(graph)``, each standardised over the user's unseen items,

so the fused top ``k`` is the candidate set.  ``graph_weight`` 0 is the dense retriever's own order.  The
weight and the method are chosen on the validation split by ``python -m eval.graph`` (docs/graph.md).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from llmrec.data import Dataset
from llmrec.history import History
from llmrec.items import ItemList
from llmrec.recommenders.base import Recommender, RecommenderConfig, catalog_candidates, create_recommender
from retrieval.graph import GraphConfig, GraphRecommender, KnowledgeGraph

__all__ = ["FusionMethod", "HybridConfig", "HybridRetriever", "fuse"]

FusionMethod = Literal["rrf", "zscore"]


def _ranks(scores: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """0-based rank of each item among the unseen ones by ``scores`` (ties by catalog position); seen items
    rank after all of them."""
    s = np.where(seen, -np.inf, scores)
    order = np.lexsort((np.arange(len(s)), -s))
    ranks = np.empty(len(s))
    ranks[order] = np.arange(len(s))
    return ranks


def _z(scores: np.ndarray, seen: np.ndarray) -> np.ndarray:
    unseen = scores[~seen] if (~seen).any() else scores
    sd = unseen.std()
    return (scores - unseen.mean()) / (sd if sd > 0 else 1.0)


def fuse(dense: np.ndarray, graph: np.ndarray, seen: np.ndarray, weight: float, method: FusionMethod = "rrf",
         rrf_k: float = 60.0) -> np.ndarray:
    """(catalog items,) fused scores of one user's dense and graph catalog scores (module doc); ``seen``
    marks the user's history items (their fused score is meaningless: they are never candidates)."""
    seen = np.asarray(seen, dtype=bool)
    if method == "rrf":
        return 1.0 / (rrf_k + _ranks(dense, seen)) + weight / (rrf_k + _ranks(graph, seen))
    if method == "zscore":
        return _z(dense, seen) + weight * _z(graph, seen)
    raise ValueError(f"unknown fusion method {method!r}; known: rrf, zscore")


class HybridConfig(RecommenderConfig):
    retriever: str | None = Field(None, description="the dense retriever: a trained retriever directory, "
                                                    "'auto' for the cached default one, None: untrained text")
    dense: dict[str, Any] = Field(default_factory=dict, description="further settings of the dense "
                                                                     "retriever (retrieval.retriever)")
    graph: dict[str, Any] = Field(default_factory=dict, description="settings of the knowledge graph and its "
                                                                    "walk (retrieval.graph.GraphConfig)")
    graph_weight: float = Field(1.0, ge=0, description="weight of the graph in the fusion (0: dense alone)")
    method: FusionMethod = Field("rrf", description="rrf (reciprocal rank fusion) or zscore")
    rrf_k: float = Field(60.0, gt=0, description="rrf: the rank offset k")

    @field_validator("graph")
    @classmethod
    def _graph_known(cls, graph: dict[str, Any]) -> dict[str, Any]:
        GraphConfig(**graph)  # an unknown or bad graph setting is named when the config is made
        return graph

    def graph_config(self) -> GraphConfig:
        return GraphConfig(**self.graph)


class HybridRetriever(Recommender[HybridConfig]):
    """The dense retriever and the graph's PPR, fused (module doc)."""

    name = "hybrid"
    config_class = HybridConfig

    def __init__(self, config: HybridConfig | None = None, dense: Recommender | None = None):
        super().__init__(config)
        self.dense = dense

    def fit(self, data: Dataset) -> HybridRetriever:
        if self.dense is None:
            self.dense = create_recommender("dense", {"retriever": self.config.retriever,
                                                      **self.config.dense})
        self.dense.fit(data)
        self.graph = GraphRecommender(self.config.graph_config()).fit(data)
        self._catalog = data.catalog
        self._cache: dict[tuple, np.ndarray] = {}
        self._trained = True
        return self

    @property
    def knowledge_graph(self) -> KnowledgeGraph:
        """The fitted graph (the explainer's graph-path evidence reads it)."""
        return self.graph.knowledge_graph

    def prepare(self, histories: list[History]) -> None:
        self.dense.prepare(histories)
        self.graph.prepare(histories)

    def catalog_scores(self, history: History, request: str | None = None) -> np.ndarray:
        """(catalog items,) fused scores in catalog order."""
        key = (*GraphRecommender._key(history), request)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        ids = self._catalog.item_ids
        dense = np.asarray(self.dense.score(history, ids, request) if request else
                           self.dense.score(history, ids), dtype=np.float64)
        graph = self.graph.catalog_scores(history)
        if graph is None or self.config.graph_weight == 0:
            out = dense
        else:
            seen = np.isin(ids, history.items)
            out = fuse(dense, graph, seen, self.config.graph_weight, self.config.method, self.config.rrf_k)
        if len(self._cache) > 20_000:
            self._cache.clear()
        self._cache[key] = out
        return out

    def score(self, history: History, items: np.ndarray, request: str | None = None) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        return self.catalog_scores(history, request)[self._catalog.positions(items)]

    def candidates(self, history: History, k: int = 20, request: str | None = None,
                   exclude_seen: bool = True) -> ItemList:
        """The fused top ``k`` items for the user (the candidates the LLM ranker sees)."""
        return catalog_candidates(self.score, self._catalog.item_ids, history, k, request, exclude_seen,
                                  source="dense+graph")
