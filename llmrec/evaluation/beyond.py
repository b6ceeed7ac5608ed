"""Beyond-accuracy figures of top-N lists: diversity, coverage, exposure, novelty, popularity, calibration.

Every function takes ``lists``, a (users, N) array of item ids best first (-1 pads a short list, as the
harness keeps them), and a cut-off ``k`` (the first ``k`` of each list count).  Per-user figures are
averaged over users; catalog-level figures (coverage, Gini) pool every list.  Definitions:

* **intra-list diversity, genres** (``ild_genre``): the mean over pairs of list items of the Jaccard distance
  of their genre sets, ``1 - |G_i & G_j| / |G_i | G_j|`` (two items without genres: distance 0);
* **intra-list diversity, embeddings** (``ild_embedding``): the mean over pairs of ``1 - cos(v_i, v_j)``;
* **catalog coverage**: distinct items in all top-``k`` lists / catalog size;
* **Gini of exposure**: the Gini coefficient of how often each catalog item appears in the top-``k`` lists
  (zeros included): 0 when every item is shown equally often, near 1 when a few items take all exposure;
* **novelty**: the mean self-information ``-log2 p_i`` of recommended items, ``p_i`` the share of training
  users who interacted with item ``i``, counted as at least one user (Zhou et al. 2010);
* **average recommendation popularity** (ARP): the mean number of training interactions of list items;
* **short-head share**: the share of list items in the short head — the most popular items that together
  hold ``head_share`` (default 20%) of the training interactions (Abdollahpouri et al. 2017);
* **calibration** (``miscalibration``): Steck's (RecSys 2018) KL divergence ``KL(p || q~)`` of the genre
  distribution ``q`` of the list from the genre distribution ``p`` of the user's history, each item spreading
  weight 1 evenly over its genres, ``q~ = (1 - alpha) q + alpha p`` with ``alpha = 0.01``;
* **popularity miscalibration** (``popularity_miscalibration``): the Jensen-Shannon divergence (natural log)
  between the short-head / middle / long-tail mix of the user's history and of the list, the long tail being
  the least popular items that together hold 20% of the training interactions (Abdollahpouri et al. 2021).

MAP@K with one held-out item is ``1 / (rank + 1)`` when ``rank < K`` (:func:`llmrec.evaluation.metrics.
map_at`).  ``tests/test_beyond.py`` checks each figure against a hand-computed case and a second
implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmrec.data import Catalog, Interactions
from llmrec.history import History
from llmrec.recommenders.objectives import HEAD, js_divergence, popularity_groups

__all__ = ["ItemStats", "arp", "beyond_accuracy", "catalog_coverage", "exposure_gini", "ild_embedding",
           "ild_genre", "miscalibration", "novelty", "popularity_miscalibration", "short_head_share"]


@dataclass(frozen=True)
class ItemStats:
    """What the figures need to know about the catalog and the training interactions."""

    item_ids: np.ndarray  # catalog ids, the row order of the arrays below
    genres: np.ndarray  # (items, genres) 0/1
    genre_names: tuple[str, ...]
    counts: np.ndarray  # training interactions per item
    users_per_item: np.ndarray  # training users who interacted with each item
    n_users: int
    groups: np.ndarray  # 0 short head, 1 middle, 2 long tail (objectives.popularity_groups)

    @classmethod
    def build(cls, catalog: Catalog, train: Interactions, head_share: float = 0.2) -> ItemStats:
        ids = catalog.item_ids
        names, genres = catalog.genre_matrix()
        frame = train.frame
        pos = catalog.positions(frame["item"].to_numpy())
        counts = np.bincount(pos, minlength=len(ids)).astype(np.float64)
        pairs = frame[["user", "item"]].drop_duplicates()
        users_per_item = np.bincount(catalog.positions(pairs["item"].to_numpy()), minlength=len(ids))
        groups = popularity_groups(ids, counts, head_share)
        return cls(ids, genres, names, counts, users_per_item.astype(np.float64),
                   int(frame["user"].nunique()), groups)

    @property
    def head(self) -> np.ndarray:
        """Bool per item: in the short head."""
        return self.groups == HEAD

    def rows(self, lists: np.ndarray, k: int) -> list[np.ndarray]:
        """Each list's first ``k`` items as row positions (padding dropped)."""
        pos = {int(i): r for r, i in enumerate(self.item_ids)}
        return [np.array([pos[int(i)] for i in row[:k] if i >= 0], dtype=np.int64) for row in lists]


def _pair_mean(dist: np.ndarray) -> float:
    n = len(dist)
    if n < 2:
        return float("nan")
    return float(dist[np.triu_indices(n, 1)].mean())


def ild_genre(lists: np.ndarray, stats: ItemStats, k: int = 10) -> np.ndarray:
    """Per user: the mean pairwise Jaccard distance of the list items' genre sets."""
    out = []
    for rows in stats.rows(lists, k):
        g = stats.genres[rows]
        inter = g @ g.T
        size = g.sum(1)
        union = size[:, None] + size[None, :] - inter
        out.append(_pair_mean(np.where(union > 0, 1.0 - inter / np.maximum(union, 1e-12), 0.0)))
    return np.asarray(out)


def ild_embedding(lists: np.ndarray, stats: ItemStats, vectors: np.ndarray, k: int = 10) -> np.ndarray:
    """Per user: the mean pairwise cosine distance of the list items' vectors (``vectors`` in catalog
    order)."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return np.asarray([_pair_mean(1.0 - unit[rows] @ unit[rows].T) for rows in stats.rows(lists, k)])


def catalog_coverage(lists: np.ndarray, stats: ItemStats, k: int = 10) -> float:
    shown = np.unique(np.concatenate([r for r in stats.rows(lists, k)] or [np.empty(0, np.int64)]))
    return len(shown) / len(stats.item_ids)


def exposure_gini(lists: np.ndarray, stats: ItemStats, k: int = 10) -> float:
    """The Gini coefficient of exposure counts over the whole catalog."""
    rows = [r for r in stats.rows(lists, k)]
    x = np.sort(np.bincount(np.concatenate(rows or [np.empty(0, np.int64)]), minlength=len(stats.item_ids))
                .astype(np.float64))
    n = len(x)
    if x.sum() == 0:
        return 0.0
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / (n * x.sum()))


def novelty(lists: np.ndarray, stats: ItemStats, k: int = 10) -> np.ndarray:
    """Per user: the mean self-information of list items."""
    info = -np.log2(np.maximum(stats.users_per_item, 1.0) / max(stats.n_users, 1))
    return np.asarray([info[r].mean() if len(r) else np.nan for r in stats.rows(lists, k)])


def arp(lists: np.ndarray, stats: ItemStats, k: int = 10) -> np.ndarray:
    """Per user: the mean training interaction count of list items."""
    return np.asarray([stats.counts[r].mean() if len(r) else np.nan for r in stats.rows(lists, k)])


def short_head_share(lists: np.ndarray, stats: ItemStats, k: int = 10) -> np.ndarray:
    """Per user: the share of list items in the short head."""
    return np.asarray([stats.head[r].mean() if len(r) else np.nan for r in stats.rows(lists, k)])


def genre_distribution(rows: np.ndarray, stats: ItemStats) -> np.ndarray:
    """The genre distribution of items (each spreads weight 1 evenly over its genres)."""
    g = stats.genres[rows]
    per = g / np.maximum(g.sum(1, keepdims=True), 1.0)
    total = per.sum(0)
    return total / total.sum() if total.sum() > 0 else total


def miscalibration(lists: np.ndarray, stats: ItemStats, histories: list[History], k: int = 10,
                   alpha: float = 0.01) -> np.ndarray:
    """Per user: Steck's KL(p || q~) of the list's genre distribution from the history's."""
    out = []
    for rows, history in zip(stats.rows(lists, k), histories):
        p = genre_distribution(stats.rows(history.items[None, :], len(history))[0], stats)
        q = genre_distribution(rows, stats)
        if p.sum() == 0 or not len(rows):
            out.append(np.nan)
            continue
        q = (1 - alpha) * q + alpha * p
        m = p > 0
        out.append(float(np.sum(p[m] * np.log(p[m] / q[m]))))
    return np.asarray(out)


def popularity_miscalibration(lists: np.ndarray, stats: ItemStats, histories: list[History], k: int = 10
                               ) -> np.ndarray:
    """Per user: the Jensen-Shannon divergence of the list's head / middle / tail mix from the history's."""
    out = []
    for rows, history in zip(stats.rows(lists, k), histories):
        if not len(rows) or not len(history):
            out.append(np.nan)
            continue
        mix = [np.bincount(stats.groups[r], minlength=3) / len(r)
               for r in (stats.rows(history.items[None, :], len(history))[0], rows)]
        out.append(float(js_divergence(*mix)))
    return np.asarray(out)


def beyond_accuracy(lists: np.ndarray, stats: ItemStats, histories: list[History], k: int = 10,
                    vectors: np.ndarray | None = None) -> dict[str, float]:
    """Every figure of the module doc at cut-off ``k`` (per-user figures averaged over users)."""
    out = {f"ild_genre@{k}": float(np.nanmean(ild_genre(lists, stats, k))),
           f"coverage@{k}": catalog_coverage(lists, stats, k),
           f"gini@{k}": exposure_gini(lists, stats, k),
           f"novelty@{k}": float(np.nanmean(novelty(lists, stats, k))),
           f"arp@{k}": float(np.nanmean(arp(lists, stats, k))),
           f"short_head@{k}": float(np.nanmean(short_head_share(lists, stats, k))),
           f"miscalibration@{k}": float(np.nanmean(miscalibration(lists, stats, histories, k))),
           f"popularity_miscalibration@{k}": float(np.nanmean(popularity_miscalibration(lists, stats,
                                                                                        histories, k)))}
    if vectors is not None:
        out[f"ild_embedding@{k}"] = float(np.nanmean(ild_embedding(lists, stats, vectors, k)))
    return out
