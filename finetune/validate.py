"""Validation of a model being fine-tuned: the ranker's metrics on validation users, as it is served."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np

from llmrec.history import histories
from llmrec.llm.ranker import LLMRanker
from llmrec.split import HoldoutSplit, target_items

__all__ = ["RankValidator", "candidate_metrics", "cpu_has_bf16"]


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 matrix units (AVX512-BF16 or AMX); without them bf16 is emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def candidate_metrics(ranked: list[np.ndarray], targets: list[int]) -> dict[str, float]:
    """NDCG@5/@10, HR@1 and MRR of each user's target within their ranked candidates (0 when absent)."""
    ranks = np.array([int(np.flatnonzero(r == t)[0]) if t in r else 10**9 for r, t in zip(ranked, targets)])
    gain = np.where(ranks < 10**9, 1.0 / np.log2(np.minimum(ranks, 10**8) + 2), 0.0)
    return {"ndcg@5": float(np.mean(np.where(ranks < 5, gain, 0.0))),
            "ndcg@10": float(np.mean(np.where(ranks < 10, gain, 0.0))),
            "hr@1": float(np.mean(ranks == 0)),
            "mrr": float(np.mean(np.where(ranks < 10**9, 1.0 / (ranks + 1), 0.0))),
            "in_candidates": float(np.mean(ranks < 10**9))}


class RankValidator:
    """A seeded sample of validation users with their retriever candidates (retriever order), computed once;
    :meth:`evaluate` scores them with a model through ``ranker``'s prompts and reports candidate metrics."""

    def __init__(self, ranker: LLMRanker, split: HoldoutSplit, *, users: int, seed: int = 0, progress: bool = False):
        self.ranker = ranker
        targets = target_items(split)
        hs = histories(split.train.interactions)
        ids = sorted(u for u in targets if u in hs)
        if users and users < len(ids):
            ids = sorted(np.random.default_rng(seed).choice(ids, users, replace=False).tolist())
        self.jobs = [(hs[u], ranker.candidate_list(hs[u]).items) for u in ids]
        self.targets = [targets[u] for u in ids]
        self.retriever_metrics = candidate_metrics([c for _, c in self.jobs], self.targets)
        self.seconds = 0.0  # spent in evaluate()

    def evaluate(self, model) -> dict[str, float]:
        """Candidate metrics of the ranker with ``model`` (put in eval mode, and back in train mode after)."""
        t0, training = time.perf_counter(), model.training
        model.eval()
        try:
            scores = self.ranker.llm_scores_many(self.jobs)
        finally:
            model.train(training)
            self.seconds += time.perf_counter() - t0
        ranked = [c[np.lexsort((c, -s))] for (_, c), s in zip(self.jobs, scores)]
        return candidate_metrics(ranked, self.targets)
