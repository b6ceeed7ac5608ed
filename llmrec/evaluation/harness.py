"""The offline evaluation harness: rank every unseen item for each held-out user.

For each evaluated user the candidates are all catalog items the user has not interacted with in the fit
data (the held-out item is always a candidate).  The held-out item's rank counts the candidates scored
strictly higher plus those tied with it that have a smaller item id.  A NaN or infinite score never helps
an item: by default it is an error naming the recommender and user; with ``nonfinite="last"`` such items
rank below every finite score (ties among them by item id).

Beside each held-out rank the harness keeps the user's top-``top_n`` list (default 20; same order: score
descending, ties by smaller item id, non-finite scores last), from which the beyond-accuracy figures
(:mod:`llmrec.evaluation.beyond`) are computed.

With ``sampled=N`` the candidates are instead the held-out item plus N items drawn at random (seeded per
user) from those the user has not interacted with: the sampled protocol of LLM-ranking papers (e.g. 19
negatives for 20 candidates, where HR@1 = recall@1 of a random order is 0.05).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from llmrec.errors import RecommenderOutputError
from llmrec.history import History, histories
from llmrec.recommenders import Recommender
from llmrec.split import HoldoutSplit

__all__ = ["Evaluation", "NonFinitePolicy", "evaluate", "rank_of_target", "sampled_candidates", "top_items"]

log = logging.getLogger(__name__)

NonFinitePolicy = Literal["error", "last"]


@dataclass(frozen=True)
class Evaluation:
    """Per-user outcome of an evaluation run."""

    ranks: pd.DataFrame  # columns user, item (held out), rank (0-based), candidates (count)
    nonfinite_users: int  # users whose scores had NaN/inf (only with policy "last")
    lists: np.ndarray | None = None  # (users, top_n) item ids, best first, -1 padded; None: sampled protocol


def rank_of_target(items: np.ndarray, scores: np.ndarray, target: int) -> tuple[int, bool]:
    """0-based rank of ``target`` among ``items`` by the protocol, and whether any score was non-finite.

    Non-finite scores rank below all finite ones; ties (including among non-finite) go to the smaller id.
    """
    finite = np.isfinite(scores)
    t = int(np.flatnonzero(items == target)[0])
    if finite[t]:
        s = scores[t]
        higher = np.count_nonzero(finite & (scores > s))
        tied = np.count_nonzero(finite & (scores == s) & (items < target))
    else:
        higher = np.count_nonzero(finite)
        tied = np.count_nonzero(~finite & (items < target))
    return int(higher + tied), not bool(finite.all())


def top_items(items: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` best of ``items`` by the protocol's order (score descending, ties by smaller id, non-finite
    last), padded with -1 when there are fewer."""
    finite = np.isfinite(scores)
    key = np.where(finite, scores, -np.inf)
    order = np.lexsort((items, ~finite, -key))[:n]
    out = np.full(n, -1, dtype=np.int64)
    out[:len(order)] = items[order]
    return out


def sampled_candidates(all_items: np.ndarray, history: History, target: int, n: int,
                       seed: int = 0) -> np.ndarray:
    """The target and ``n`` random items the user has not interacted with, in a random order (seeded by
    user)."""
    rng = np.random.default_rng([seed, history.user])
    pool = all_items[~np.isin(all_items, history.items) & (all_items != target)]
    if len(pool) < n:
        raise RecommenderOutputError(f"user {history.user} has only {len(pool)} unseen items, fewer than the "
                                     f"{n} sampled negatives asked for")
    return rng.permutation(np.r_[target, rng.choice(pool, n, replace=False)]).astype(np.int64)


def evaluate(recommender: Recommender, split: HoldoutSplit, *, nonfinite: NonFinitePolicy = "error",
             progress: bool = True, batch_users: int = 64, sampled: int = 0, seed: int = 0, top_n: int = 20
             ) -> Evaluation:
    """Rank the held-out item of every user of ``split`` with a recommender already fit on ``split.train``
    (among all unseen items, or with ``sampled`` among itself and that many random unseen items)."""
    if not recommender.is_trained():
        raise RecommenderOutputError(f"recommender {recommender.name!r} is not trained; call fit() first")
    all_items = split.train.catalog.item_ids
    hist = histories(split.train.interactions)
    rows, lists = [], []
    bad_users = 0
    targets = split.targets
    users = targets["user"].to_numpy()
    for i, (user, target) in enumerate(tqdm(zip(users, targets["item"].to_numpy()), total=len(targets),
                                            desc=f"{recommender.name} [{split.name}]", disable=not progress,
                                            unit="user")):
        user, target = int(user), int(target)
        history = hist.get(user, History.empty(user))
        if sampled:
            if i % batch_users == 0:  # the next users' candidates, scored as one batch
                chunk = [(hist.get(int(u), History.empty(int(u))), int(t))
                         for u, t in zip(users[i:i + batch_users],
                                         targets["item"].to_numpy()[i:i + batch_users])]
                cands = [sampled_candidates(all_items, h, t, sampled, seed) for h, t in chunk]
                batch = dict(zip(range(i, i + len(chunk)),
                                 zip(cands, recommender.score_many([h for h, _ in chunk], cands))))
            candidates, scores = batch.pop(i)
            scores = np.asarray(scores, dtype=np.float64)
        else:
            if i % batch_users == 0:  # let the recommender batch the next users' work
                recommender.prepare([hist.get(int(u), History.empty(int(u)))
                                     for u in users[i:i + batch_users]])
            seen = np.isin(all_items, history.items) & (all_items != target)
            candidates = all_items[~seen]
            scores = np.asarray(recommender.score(history, candidates), dtype=np.float64)
        if scores.shape != candidates.shape:
            raise RecommenderOutputError(
                f"recommender {recommender.name!r} returned {scores.shape} scores for {candidates.shape} "
                f"items (user {user})")
        rank, had_nonfinite = rank_of_target(candidates, scores, target)
        if had_nonfinite:
            if nonfinite == "error":
                n_bad = int(np.count_nonzero(~np.isfinite(scores)))
                raise RecommenderOutputError(
                    f"recommender {recommender.name!r} returned {n_bad} NaN/infinite score(s) for user "
                    f"{user}; fix the recommender or pass --nonfinite last to rank such items last")
            bad_users += 1
        rows.append((user, target, rank, len(candidates)))
        if not sampled and top_n:
            lists.append(top_items(candidates, scores, top_n))
    if bad_users:
        log.warning("recommender=%s nonfinite_users=%d policy=last", recommender.name, bad_users)
    ranks = pd.DataFrame(rows, columns=["user", "item", "rank", "candidates"])
    kept = np.vstack(lists) if lists else (None if sampled or not top_n else np.empty((0, top_n), np.int64))
    return Evaluation(ranks, bad_users, kept)
