"""The evaluation protocol: leave-last-out by (timestamp, item id).

Each user's interactions are ordered by (timestamp, item id).  The last one is the *test* item and the
one before it the *validation* item.  For the test split a model is fit on everything except each user's
last interaction; for the validation split, everything except the last two.  Users with fewer than
``MIN_INTERACTIONS`` interactions are not evaluated (their interactions all stay in the fit data), so both
splits evaluate the same users and every evaluated user has a non-empty history.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from llmrec.data import Dataset, Interactions
from llmrec.errors import ConfigError

__all__ = ["MIN_INTERACTIONS", "HoldoutSplit", "SplitName", "leave_last_out", "sample_users", "seeded_sample",
           "target_items"]

log = logging.getLogger(__name__)

SplitName = Literal["validation", "test"]
MIN_INTERACTIONS = 3
_HOLDOUT = {"test": 1, "validation": 2}


@dataclass(frozen=True)
class HoldoutSplit:
    """Fit data plus one held-out target item per evaluated user."""

    name: SplitName
    train: Dataset  # everything the model may see
    targets: pd.DataFrame  # columns user, item, timestamp; one row per evaluated user, sorted by user

    @property
    def n_users(self) -> int:
        return len(self.targets)


def leave_last_out(dataset: Dataset, split: SplitName) -> HoldoutSplit:
    """Split ``dataset`` by the protocol above.  ``split`` is ``"test"`` or ``"validation"``."""
    if split not in _HOLDOUT:
        raise ConfigError(f"split must be 'test' or 'validation', got {split!r}")
    frame = dataset.interactions.ordered()
    # position from the end of each user's sequence: 0 = last (test), 1 = validation, ...
    from_end = frame.groupby("user").cumcount(ascending=False).to_numpy()
    counts = frame.groupby("user")["item"].transform("size").to_numpy()
    evaluated = counts >= MIN_INTERACTIONS
    skipped = frame.loc[~evaluated, "user"].nunique()
    if skipped:
        log.warning("users_skipped=%d reason='fewer than %d interactions'", skipped, MIN_INTERACTIONS)
    held = _HOLDOUT[split]
    is_target = evaluated & (from_end == held - 1)
    in_train = ~evaluated | (from_end >= held)
    targets = frame.loc[is_target, ["user", "item", "timestamp"]].sort_values("user").reset_index(drop=True)
    train = dataset.with_interactions(Interactions(frame.loc[in_train].reset_index(drop=True)))
    return HoldoutSplit(split, train, targets)


def target_items(split: HoldoutSplit) -> dict[int, int]:
    """``{user: held-out item}``."""
    return dict(zip(split.targets["user"].to_numpy(np.int64).tolist(),
                    split.targets["item"].to_numpy(np.int64).tolist()))


def seeded_sample(ids: Sequence[int], n: int, seed: int = 0) -> list[int]:
    """A seeded sample of ``n`` of ``ids`` (sorted), or all of them when ``n`` is 0 or not smaller: the same
    ``ids``, ``n`` and seed give the same sample, so a sampled run and a sample of a full run agree.  The one
    user sampler of the project (evaluations, fusion and temperature selection, training validation)."""
    ids = list(ids)
    if not n or n >= len(ids):
        return ids
    rows = np.random.default_rng(seed).choice(len(ids), n, replace=False)
    return sorted(ids[int(r)] for r in rows)


def sample_users(held: HoldoutSplit, users: int, seed: int = 0) -> HoldoutSplit:
    """``held`` restricted to a seeded sample of ``users`` of its held-out rows (all of them for 0 or
    more)."""
    rows = seeded_sample(range(held.n_users), users, seed)
    if len(rows) == held.n_users:
        return held
    return dataclasses.replace(held, targets=held.targets.iloc[rows].reset_index(drop=True))
