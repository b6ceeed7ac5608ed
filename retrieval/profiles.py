"""Popularity within a user's demographic groups: the cold-user fallback served from a profile.

A user's groups are their age band, their gender and their occupation (``Dataset.users``, MovieLens'
``u.user``).  An item's score is the mean over the three groups of its share of the group's users who
interacted with it, each share smoothed toward the item's share over all users (``smoothing`` pseudo-users),
so a small group does not rank on a handful of interactions.  Users without a known profile get global
popularity shares.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from llmrec.data import Dataset
from llmrec.history import History, age_band

__all__ = ["DemographicPopularity", "profile_groups"]

log = logging.getLogger(__name__)

_FACETS = ("age_band", "gender", "occupation")


def profile_groups(users: pd.DataFrame) -> pd.DataFrame:
    """(users, 3) each user's group in each facet: age band, gender, occupation (missing: "")."""
    out = pd.DataFrame(index=users.index)
    ages = users["age"] if "age" in users else pd.Series(np.nan, index=users.index)
    out["age_band"] = [age_band(float(a)) if not pd.isna(a) else "" for a in ages]
    for facet in ("gender", "occupation"):
        col = users[facet] if facet in users else pd.Series("", index=users.index)
        out[facet] = col.fillna("").astype(str).str.strip().str.lower()
    return out


class DemographicPopularity:
    """Item scores from the interactions of the users who share the user's profile groups."""

    def __init__(self, smoothing: float = 10.0):
        if not smoothing >= 0:
            raise ValueError(f"smoothing must be a non-negative number of pseudo-users, got {smoothing!r}")
        self.smoothing = smoothing

    def fit(self, data: Dataset) -> DemographicPopularity:
        """Count, per group, how many of its users interacted with each catalog item (``data.users`` None:
        every user gets global popularity)."""
        frame = data.interactions.frame[["user", "item"]].drop_duplicates()
        ids = data.catalog.item_ids
        self._catalog = data.catalog
        n_users = frame["user"].nunique()
        counts = frame.groupby("item")["user"].nunique().reindex(ids, fill_value=0).to_numpy(np.float64)
        self._global = counts / max(n_users, 1)
        self._groups = profile_groups(data.users) if data.users is not None else None
        self._shares: dict[tuple[str, str], np.ndarray] = {}
        if self._groups is None:
            log.info("demographic_popularity profiles=none action='global popularity for every user'")
            return self
        joined = frame.join(self._groups, on="user", how="inner")
        for facet in _FACETS:
            for group, part in joined.groupby(facet):
                if not group:
                    continue
                size = part["user"].nunique()
                c = part.groupby("item")["user"].nunique().reindex(ids, fill_value=0).to_numpy(np.float64)
                self._shares[(facet, group)] = (c + self.smoothing * self._global) / (size + self.smoothing)
        log.info("demographic_popularity groups=%d users=%d", len(self._shares), len(self._groups))
        return self

    def knows(self, user: int) -> bool:
        """Whether the user's profile is known (else :meth:`score` is global popularity)."""
        return self._groups is not None and user in self._groups.index

    def item_scores(self, user: int) -> np.ndarray:
        """(catalog items,) the user's demographic popularity in catalog order."""
        if not self.knows(user):
            return self._global
        row = self._groups.loc[user]
        shares = [self._shares.get((facet, row[facet]), self._global) for facet in _FACETS if row[facet]]
        return np.mean(shares, axis=0) if shares else self._global

    def score(self, history: History, items: np.ndarray) -> np.ndarray:
        """The user's demographic popularity of ``items`` (0 for items added to the catalog after fit)."""
        scores = self.item_scores(history.user)
        pos = self._catalog.positions(items)
        return np.where(pos < len(scores), scores[np.minimum(pos, len(scores) - 1)], 0.0)
