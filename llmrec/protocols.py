"""Cold-start protocols: leave-last-out with cold items or cold users.

Both start from :func:`~llmrec.split.leave_last_out` (same held-out item per user, validation or test) and
change the fit data and the users evaluated:

* **cold items** (:func:`cold_items`): a seeded ``share`` of the catalog's items (:func:`cold_item_set`) have
  *all* their interactions removed from the fit data; the users evaluated are those whose held-out item is
  one of them.  A model learns nothing about such an item from interactions: only its text (title, year,
  genres) can bring it up.
* **cold users** (:func:`cold_users`): a seeded ``share`` of the evaluated users (:func:`cold_user_set`) keep
  only the first ``history_length`` of their fit interactions (by timestamp, then item id); every other
  user's interactions stay untouched.  Only the cold users are evaluated, on the same held-out item as
  leave-last-out.

A model trained *before* evaluation (the default retriever's collaborative channel) must not see what the
protocol removes: :func:`pretraining_splits` gives the validation and test splits such a model may learn
from (nothing of the cold items; nothing of the cold users, who arrive after training, as new users do).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from llmrec.data import Dataset, Interactions
from llmrec.errors import ConfigError
from llmrec.split import HoldoutSplit, SplitName, leave_last_out, seeded_sample

__all__ = ["ColdStart", "ProtocolName", "cold_item_set", "cold_items", "cold_user_set", "cold_users",
           "pretraining_splits"]

ProtocolName = Literal["cold-items", "cold-users"]


@dataclass(frozen=True)
class ColdStart:
    """A cold-start protocol's settings (the report's ``extra.protocol`` is :meth:`describe`)."""

    protocol: ProtocolName
    share: float = 0.1  # share of the catalog's items (cold-items) or of the evaluated users (cold-users)
    seed: int = 0  # seed of the cold items' or users' sample
    history_length: int = 3  # cold-users: fit interactions each cold user keeps (the first ones)

    def __post_init__(self) -> None:
        if self.protocol not in ("cold-items", "cold-users"):
            raise ConfigError(f"unknown cold-start protocol {self.protocol!r}; known: cold-items, cold-users")
        if not 0 < self.share <= 1:
            raise ConfigError(f"the cold share must be in (0, 1], got {self.share!r}")
        if self.history_length < 1:
            raise ConfigError(f"the cold users' history length must be at least 1, got "
                              f"{self.history_length!r}")

    def describe(self) -> str:
        if self.protocol == "cold-items":
            return f"cold-items: share {self.share:g}, seed {self.seed}"
        return f"cold-users: first {self.history_length} interactions, share {self.share:g}, seed {self.seed}"

    def split(self, dataset: Dataset, split: SplitName) -> HoldoutSplit:
        """The protocol's held-out split of ``dataset``."""
        if self.protocol == "cold-items":
            return cold_items(dataset, split, share=self.share, seed=self.seed)
        return cold_users(dataset, split, self.history_length, share=self.share, seed=self.seed)


def _count(n: int, share: float) -> int:
    return max(1, round(share * n))


def cold_item_set(dataset: Dataset, share: float = 0.1, seed: int = 0) -> np.ndarray:
    """The cold items: a seeded ``share`` of the catalog's item ids (sorted); the same for both splits."""
    ids = dataset.catalog.item_ids.tolist()
    return np.asarray(seeded_sample(ids, _count(len(ids), share), seed), dtype=np.int64)


def cold_user_set(dataset: Dataset, share: float = 0.1, seed: int = 0) -> np.ndarray:
    """The cold users: a seeded ``share`` of the users leave-last-out evaluates (sorted); the same for both
    splits, which evaluate the same users."""
    users = leave_last_out(dataset, "test").targets["user"].tolist()
    return np.asarray(seeded_sample(users, _count(len(users), share), seed), dtype=np.int64)


def _without(data: Dataset, keep: np.ndarray) -> Dataset:
    return data.with_interactions(Interactions(data.interactions.frame.loc[keep]))


def cold_items(dataset: Dataset, split: SplitName, *, share: float = 0.1, seed: int = 0) -> HoldoutSplit:
    """Leave-last-out without any interaction of the cold items in the fit data, evaluated on the users whose
    held-out item is cold."""
    held = leave_last_out(dataset, split)
    cold = cold_item_set(dataset, share, seed)
    fit = held.train.interactions.frame
    targets = held.targets[held.targets["item"].isin(cold)].reset_index(drop=True)
    return HoldoutSplit(split, _without(held.train, ~fit["item"].isin(cold).to_numpy()), targets)


def cold_users(dataset: Dataset, split: SplitName, history_length: int, *, share: float = 0.1,
               seed: int = 0) -> HoldoutSplit:
    """Leave-last-out where each cold user keeps only the first ``history_length`` fit interactions (by
    timestamp, then item id), evaluated on the cold users only; everyone else's fit data is untouched."""
    if history_length < 1:
        raise ConfigError(f"history_length must be at least 1, got {history_length!r}")
    held = leave_last_out(dataset, split)
    cold = cold_user_set(dataset, share, seed)
    fit = held.train.interactions.ordered()
    position = fit.groupby("user").cumcount().to_numpy()
    keep = ~fit["user"].isin(cold).to_numpy() | (position < history_length)
    train = held.train.with_interactions(Interactions(fit.loc[keep]))
    targets = held.targets[held.targets["user"].isin(cold)].reset_index(drop=True)
    return HoldoutSplit(split, train, targets)


def pretraining_splits(dataset: Dataset, protocol: ColdStart) -> tuple[HoldoutSplit, HoldoutSplit]:
    """(validation, test) splits a model trained before the protocol's evaluation may learn from: the
    leave-last-out splits without any interaction of the cold items (cold-items) or of the cold users
    (cold-users), validation targets included, so nothing the protocol removes is seen or chosen on.

    The test split's fit data is the cold-items protocol's test fit data exactly; for cold users it is that
    fit data less the cold users' few interactions (read as history when the model is used, as a new user's
    would be)."""
    if protocol.protocol == "cold-items":
        removed, column = cold_item_set(dataset, protocol.share, protocol.seed), "item"
    else:
        removed, column = cold_user_set(dataset, protocol.share, protocol.seed), "user"
    out = []
    for name in ("validation", "test"):
        held = leave_last_out(dataset, name)
        fit = held.train.interactions.frame
        targets = held.targets[~held.targets[column].isin(removed)].reset_index(drop=True)
        train = _without(held.train, ~fit[column].isin(removed).to_numpy())
        out.append(dataclasses.replace(held, train=train, targets=targets))
    return out[0], out[1]

