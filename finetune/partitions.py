"""Users split into federated clients: by zip-code region, or at random (IID, the control)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from llmrec.data import Dataset
from llmrec.errors import ConfigError

__all__ = ["Partition", "partition_users", "user_regions"]

Partition = Literal["iid", "region"]


def user_regions(dataset: Dataset, users: np.ndarray) -> np.ndarray:
    """Each user's region: the first digit of their zip code ("0".."9"), "other" for non-numeric zips
    (Canadian postcodes in MovieLens) and "unknown" for users without a profile."""
    if dataset.users is None or "zip" not in dataset.users:
        raise ConfigError(f"partition 'region' needs user zip codes and dataset {dataset.name!r} has none "
                          "(MovieLens reads them from u.user); use --partitions iid")
    zips = dataset.users["zip"].reindex(users).astype("string").fillna("")
    return np.array([z[0] if z[:1].isdigit() else ("other" if z else "unknown") for z in zips], dtype=object)


def partition_users(users: np.ndarray, n_clients: int, how: Partition, *, seed: int = 0,
                    regions: np.ndarray | None = None) -> list[np.ndarray]:
    """Split ``users`` into ``n_clients`` disjoint, non-empty groups.

    ``iid``: a seeded random permutation cut into near-equal parts.  ``region``: one group per region
    (``regions[i]`` is ``users[i]``'s), then the two smallest groups merged until there are ``n_clients``,
    or the largest split in two halves at random until there are that many (so a client holds one region or
    a few small ones, never a mix drawn at random)."""
    users = np.asarray(users)
    if not 1 <= n_clients <= len(users):
        raise ConfigError(f"cannot split {len(users)} users into {n_clients} clients")
    rng = np.random.default_rng(seed)
    if how == "iid":
        return [np.sort(p) for p in np.array_split(rng.permutation(users), n_clients)]
    if how != "region":
        raise ConfigError(f"partition must be 'iid' or 'region', got {how!r}")
    if regions is None or len(regions) != len(users):
        raise ConfigError("partition 'region' needs one region per user")
    groups = [np.sort(users[regions == r]) for r in sorted(set(regions))]
    while len(groups) > n_clients:
        groups.sort(key=len)
        groups = [np.sort(np.concatenate(groups[:2]))] + groups[2:]
    while len(groups) < n_clients:
        groups.sort(key=len)
        big = rng.permutation(groups.pop())
        groups += [np.sort(big[: len(big) // 2]), np.sort(big[len(big) // 2:])]
    return sorted(groups, key=lambda g: g[0])
