"""Offline evaluation in the core: the leave-last-out harness, rank metrics, reports and paired comparison.

``llmrec.evaluate(dataset, "popularity", split="validation")`` fits a registered recommender on the split's
fit data, ranks every held-out item and returns a :class:`Report`; ``python -m eval`` is its command line.
"""

from llmrec.evaluation.harness import Evaluation, evaluate, rank_of_target
from llmrec.evaluation.metrics import mrr, ndcg_at, recall_at, summarize
from llmrec.evaluation.report import Report, compare_reports, paired_bootstrap
from llmrec.evaluation.runner import evaluate_recommender

__all__ = [
    "Evaluation",
    "Report",
    "compare_reports",
    "evaluate",
    "evaluate_recommender",
    "mrr",
    "ndcg_at",
    "paired_bootstrap",
    "rank_of_target",
    "recall_at",
    "summarize",
]
