"""``python -m eval``: the evaluation command line, and the evaluations above the core harness.

The harness, metrics and reports live in :mod:`llmrec.evaluation` (re-exported here); this package adds the
command line (:mod:`eval.cli`), the explanation-faithfulness evaluation, fusion-weight and sampling-temperature
selection on the validation split.
"""

from llmrec.evaluation import (
    Evaluation,
    Report,
    compare_reports,
    evaluate,
    evaluate_recommender,
    mrr,
    ndcg_at,
    rank_of_target,
    recall_at,
    summarize,
)

__all__ = [
    "Evaluation",
    "Report",
    "compare_reports",
    "evaluate",
    "evaluate_recommender",
    "mrr",
    "ndcg_at",
    "rank_of_target",
    "recall_at",
    "summarize",
]
