"""Evaluate a registered recommender on a split and package the outcome as a :class:`Report`."""

from __future__ import annotations

import logging
import time
from typing import Any

from llmrec.data import Dataset
from llmrec.evaluation.harness import NonFinitePolicy, evaluate
from llmrec.evaluation.metrics import DEFAULT_CUTOFFS
from llmrec.evaluation.report import Report
from llmrec.recommenders import Recommender, create_recommender
from llmrec.split import SplitName, leave_last_out, sample_users

__all__ = ["evaluate_recommender"]

log = logging.getLogger(__name__)


def evaluate_recommender(dataset: Dataset, recommender: str | Recommender, split: SplitName = "test", *,
                         params: dict[str, Any] | None = None, nonfinite: NonFinitePolicy = "error",
                         recall_cutoffs: tuple[int, ...] = (), progress: bool = True,
                         sampled: int = 0, users: int = 0, seed: int = 0) -> Report:
    """Fit ``recommender`` on the split's fit data, rank every held-out item (among all unseen items, or
    with ``sampled`` among itself and that many random unseen ones), return the report.  ``users``: a
    sample of that many held-out users (0: all), drawn with ``seed``."""
    owned = isinstance(recommender, str)  # built here: closed here (an LLM engine's processes stop)
    rec = create_recommender(recommender, params) if owned else recommender
    held = sample_users(leave_last_out(dataset, split), users, seed)
    t0 = time.perf_counter()
    try:
        rec.fit(held.train)
        fit_s = time.perf_counter() - t0
        result = evaluate(rec, held, nonfinite=nonfinite, progress=progress, sampled=sampled)
        eval_s = time.perf_counter() - t0 - fit_s
        stats = rec.stats()
    finally:
        if owned:
            rec.close()
    log.info("recommender=%s split=%s users=%d fit_s=%.2f eval_s=%.2f", rec.name, split, held.n_users,
             fit_s, eval_s)
    return Report(
        recommender=rec.name,
        split=split,
        config=rec.describe()["config"],
        ranks=result.ranks,
        lists=result.lists,
        dataset={"name": dataset.name, "fingerprint": dataset.interactions.fingerprint(),
                 "n_items": len(dataset.catalog), "n_interactions": len(dataset.interactions)},
        cutoffs=(1, 5, 10) if sampled else DEFAULT_CUTOFFS,
        recall_cutoffs=() if sampled else recall_cutoffs,
        extra={"fit_seconds": round(fit_s, 3), "eval_seconds": round(eval_s, 3),
               "nonfinite_users": result.nonfinite_users, "nonfinite_policy": nonfinite,
               **({"protocol": f"sampled: held-out item + {sampled} random unseen items"} if sampled else {}),
               **stats},
    )
