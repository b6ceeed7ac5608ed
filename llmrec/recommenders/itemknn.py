"""Item-item k-nearest-neighbours over implicit feedback (cosine similarity of item user-vectors).

The score of item j for a user is the (optionally recency-weighted) sum of the similarities between j
and the items in the user's history, each item keeping only its ``neighbors`` most similar items.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from llmrec.data import Dataset
from llmrec.history import History
from llmrec.recommenders.base import Recommender, RecommenderConfig

__all__ = ["ItemKNN", "ItemKNNConfig"]


class ItemKNNConfig(RecommenderConfig):
    """Defaults chosen by validation NDCG@10 on MovieLens-100K (``python -m bench.tune_itemknn``)."""

    neighbors: int = Field(200, ge=1, description="similar items kept per item")
    window: int | None = Field(None, ge=1, description="score from the last N history items (None: all)")
    decay: float = Field(0.6, gt=0, le=1, description="weight decay^age of a history item (age 0 = latest)")
    min_similarity: float = Field(0.0, ge=0, description="similarities below this are dropped")


class ItemKNN(Recommender[ItemKNNConfig]):
    name = "itemknn"
    config_class = ItemKNNConfig

    def fit(self, data: Dataset) -> ItemKNN:
        catalog = data.catalog
        frame = data.interactions.frame.drop_duplicates(["user", "item"])
        users, user_rows = np.unique(frame["user"].to_numpy(), return_inverse=True)
        cols = catalog.positions(frame["item"].to_numpy())
        x = sp.csr_matrix((np.ones(len(frame)), (user_rows, cols)), shape=(len(users), len(catalog)))
        norms = np.sqrt(np.asarray(x.sum(axis=0))).ravel()
        norms[norms == 0] = 1.0
        xn = x @ sp.diags(1.0 / norms)
        sim = (xn.T @ xn).tocsr()  # (items, items) cosine
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        self._sim = _prune(sim, self.config.neighbors, self.config.min_similarity)
        self._catalog = catalog
        self._trained = True
        return self

    def score(self, history: History, items: np.ndarray) -> np.ndarray:
        recent = history.last(self.config.window)
        if len(recent) == 0:
            return np.zeros(len(items))
        rows = self._catalog.positions(recent.items)
        weights = self.config.decay ** np.arange(len(rows))[::-1]
        user_scores = np.asarray(self._sim[rows].T @ weights).ravel()  # (n_items,)
        return user_scores[self._catalog.positions(items)]


def _prune(sim: sp.csr_matrix, k: int, floor: float) -> sp.csr_matrix:
    """Keep, for each target item (column), its ``k`` most similar source items (rows) above ``floor``."""
    csc = sim.tocsc()
    data, indices, indptr = csc.data, csc.indices, csc.indptr
    keep = np.zeros(len(data), dtype=bool)
    for j in range(csc.shape[1]):
        lo, hi = indptr[j], indptr[j + 1]
        col = data[lo:hi]
        if hi - lo > k:
            top = np.argpartition(-col, k - 1)[:k]
            keep[lo + top] = True
        else:
            keep[lo:hi] = True
    keep &= data >= floor
    pruned = sp.csc_matrix((data * keep, indices, indptr), shape=csc.shape)
    pruned.eliminate_zeros()
    return pruned.tocsr()


