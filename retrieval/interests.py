"""Multi-dimensional interests in the dense retriever's query: content, sentiment and recency.

The retriever's query (:meth:`retrieval.retriever.DenseRetriever.query_vector`) is the encoded history text
(the *content* channel: titles and genres) next to the collaborative channel's query.  Without this module
every history item counts the same whatever its rating.  :class:`InterestConfig` adds, all off by default:

* **content**: ``content_weight`` scales the text part of the query (0: the collaborative channel alone);
* **sentiment**: the items rated ``<= disliked_max`` are negative evidence: the (recency-weighted) mean of
  their fused item vectors, scaled to ``disliked_weight`` times the query's norm, is subtracted from the
  query, and ``drop_disliked`` leaves them out of the query text (``"text"``) or out of the collaborative
  window too (``"both"``);
* **recency**: the other (liked or neutral) items' fused vectors, averaged with weights that halve every
  ``half_life_days`` days before the latest interaction (``None``: equal weights), are added to the query
  at ``liked_weight`` times its norm.

Item vectors are the retriever's fused ones (text channel weighted, collaborative), with the collaborative
channel's bias columns zeroed (an item's popularity is not evidence of taste) and each row unit-normalised,
so a weight is the share of the query's length the term gets, whatever the channels' scales.

``python -m eval.interests --split validation`` evaluates a small grid of these values on the
validation split, prints the table and writes the best by NDCG@10 as JSON (pass it on with ``--param
interests.<field>=<value>``).
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmrec.history import History

__all__ = ["InterestConfig", "InterestProfile", "recency_weights"]

log = logging.getLogger(__name__)

_DAY = 86400.0


class InterestConfig(BaseModel):
    """How the history's content, sentiment and recency shape the retriever's query (defaults: the plain
    query, every item counted the same)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    content_weight: float = Field(1.0, ge=0, description="weight of the text (titles, genres) part of the "
                                                         "query; 0: the collaborative channel alone")
    disliked_weight: float = Field(0.0, ge=0, description="the disliked items' mean vector is subtracted at "
                                                          "this share of the query's norm (0: off)")
    drop_disliked: Literal["none", "text", "both"] = Field(
        "none", description="leave disliked items out of the query text ('text'), or out of the text and "
                            "the collaborative window ('both')")
    disliked_max: float = Field(2.0, description="ratings at or below this are disliked")
    liked_weight: float = Field(0.0, ge=0, description="the other items' recency-weighted mean vector is "
                                                       "added at this share of the query's norm (0: off)")
    half_life_days: float | None = Field(None, gt=0, description="recency: an item's weight in the means "
                                                                 "halves every this many days before the "
                                                                 "latest interaction (None: equal weights)")

    @model_validator(mode="after")
    def _check(self) -> InterestConfig:
        if not np.isfinite(self.disliked_max):
            raise ValueError(f"disliked_max must be a finite rating, got {self.disliked_max}")
        return self

    @property
    def is_plain(self) -> bool:
        """Whether this is the plain query (nothing changed)."""
        return self == InterestConfig()

    def disliked(self, history: History) -> np.ndarray:
        """(len(history),) bool: which interactions are disliked (a missing rating is not)."""
        r = np.asarray(history.ratings, dtype=np.float64)
        return ~np.isnan(r) & (r <= self.disliked_max)

    def kept(self, history: History, channel: Literal["text", "collab"]) -> History:
        """The history a channel's query reads: without the disliked items where ``drop_disliked`` says so
        (unless every item is disliked: then the whole history, as there is nothing else to go on)."""
        drop = self.drop_disliked == "both" or (self.drop_disliked == "text" and channel == "text")
        if not drop or len(history) == 0:
            return history
        keep = ~self.disliked(history)
        if not keep.any():
            return history
        return History(history.user, history.items[keep], history.ratings[keep], history.timestamps[keep])


def recency_weights(timestamps: np.ndarray, half_life_days: float | None) -> np.ndarray:
    """(n,) weights ``0.5 ** (age / half_life)``, age in days before the latest timestamp (1 for the latest
    items); all ones without a half-life."""
    t = np.asarray(timestamps, dtype=np.float64)
    if half_life_days is None or len(t) == 0:
        return np.ones(len(t))
    return 0.5 ** ((t.max() - t) / _DAY / half_life_days)


class InterestProfile:
    """Adds the sentiment and recency terms to a retriever's query.

    ``item_vectors``: (n_items, d) fused item vectors in catalog order (the retriever's index); ``bias``:
    (d,) bool, the columns that are not taste (the collaborative bias columns), zeroed here.
    """

    def __init__(self, config: InterestConfig, item_vectors: np.ndarray, bias: np.ndarray):
        self.config = config
        v = np.array(item_vectors, dtype=np.float32)
        v[:, bias] = 0.0
        self._unit = v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-9)
        self._taste = ~bias

    def adjust(self, query: np.ndarray, history: History, positions: np.ndarray) -> np.ndarray:
        """``query`` (d,) plus ``liked_weight`` times the liked items' mean direction minus
        ``disliked_weight`` times the disliked items' one, each scaled by the query's taste norm (its length
        outside the bias columns).  ``positions``: the history items' catalog positions."""
        cfg = self.config
        if len(history) == 0 or (cfg.liked_weight == 0 and cfg.disliked_weight == 0):
            return query
        scale = float(np.linalg.norm(query[self._taste]))
        if scale == 0.0:  # e.g. content off and no collaborative channel: the terms alone
            scale = 1.0
        weights = recency_weights(history.timestamps, cfg.half_life_days)
        disliked = cfg.disliked(history)
        out = query.astype(np.float32, copy=True)
        for mask, weight in ((~disliked, cfg.liked_weight), (disliked, -cfg.disliked_weight)):
            if weight == 0 or not mask.any():
                continue
            mean = weights[mask] @ self._unit[positions[mask]]
            norm = float(np.linalg.norm(mean))
            if norm > 0:
                out += (weight * scale / norm) * mean.astype(np.float32)
        return out
