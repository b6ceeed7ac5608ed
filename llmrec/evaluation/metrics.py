"""Rank-based metrics.  ``rank`` is the 0-based position of the held-out item in a user's ranking.

NDCG@K = 1/log2(rank+2) when rank < K (one relevant item, so the ideal DCG is 1); Recall@K = 1 when
rank < K (a hit); MRR = 1/(rank+1) with no cut-off; MAP@K = 1/(rank+1) when rank < K (average precision
with one relevant item).  Each function returns per-user values; the reported
figure is their mean.  ``tests/test_metrics.py`` checks them against trec_eval (pytrec-eval-terrier).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

__all__ = ["DEFAULT_CUTOFFS", "map_at", "metric_functions", "mrr", "ndcg_at", "recall_at", "summarize"]

DEFAULT_CUTOFFS = (5, 10, 20)


def ndcg_at(ranks: np.ndarray, k: int) -> np.ndarray:
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def recall_at(ranks: np.ndarray, k: int) -> np.ndarray:
    return (np.asarray(ranks) < k).astype(np.float64)


def map_at(ranks: np.ndarray, k: int) -> np.ndarray:
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.where(ranks < k, 1.0 / (ranks + 1.0), 0.0)


def mrr(ranks: np.ndarray) -> np.ndarray:
    return 1.0 / (np.asarray(ranks, dtype=np.float64) + 1.0)


def metric_functions(cutoffs: Iterable[int] = DEFAULT_CUTOFFS,
                     recall_cutoffs: Iterable[int] = ()) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """``{"ndcg@5": f, ..., "recall@20": f, "mrr": f}``: name -> per-user function of ranks."""
    cutoffs = sorted(set(cutoffs))
    fns: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for k in cutoffs:
        fns[f"ndcg@{k}"] = lambda r, k=k: ndcg_at(r, k)
    for k in sorted(set(cutoffs) | set(recall_cutoffs)):
        fns[f"recall@{k}"] = lambda r, k=k: recall_at(r, k)
    fns["mrr"] = mrr
    return fns


def summarize(ranks: np.ndarray, cutoffs: Iterable[int] = DEFAULT_CUTOFFS,
              recall_cutoffs: Iterable[int] = ()) -> dict[str, float]:
    """Mean of each metric over users."""
    ranks = np.asarray(ranks)
    if len(ranks) == 0:
        raise ValueError("no users to summarize")
    return {name: float(fn(ranks).mean()) for name, fn in metric_functions(cutoffs, recall_cutoffs).items()}
