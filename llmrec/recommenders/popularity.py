"""Most-popular baseline: an item's score is how many users interacted with it in the fit data."""

from __future__ import annotations

import numpy as np

from llmrec.data import Dataset
from llmrec.history import History
from llmrec.recommenders.base import Recommender, RecommenderConfig

__all__ = ["Popularity", "PopularityConfig"]


class PopularityConfig(RecommenderConfig):
    """No options: popularity is counted over all fit interactions."""


class Popularity(Recommender[PopularityConfig]):
    name = "popularity"
    config_class = PopularityConfig

    def fit(self, data: Dataset) -> Popularity:
        counts = data.interactions.frame.groupby("item")["user"].nunique()
        ids = data.catalog.item_ids
        self._counts = counts.reindex(ids, fill_value=0).to_numpy(np.float64)
        self._catalog = data.catalog
        self._trained = True
        return self

    def score(self, history: History, items: np.ndarray) -> np.ndarray:
        return self._counts[self._catalog.positions(items)]


